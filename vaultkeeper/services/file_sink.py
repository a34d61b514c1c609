"""Where a downloaded file's bytes go: a private ``.part`` file written and hashed by a worker
thread (so the download, the hashing and the disk run at the same time), and a syncer that
fsyncs finished files in the background.

The download hands over batches of the pieces it received (about 1 MiB together, as TLS
delivered them: httpx does not re-chunk them, which spares the download thread, the critical
path, two copies of every byte); the worker joins each batch once, writes and hashes it. The
queue between them holds at most ``DEPTH`` batches: memory stays bounded (a few MiB) whatever
the file's size. (Measured and rejected, docs/performance.md: starting the disk writeback
every 16 MiB with ``sync_file_range``, and hashing in the download thread.)
"""

from __future__ import annotations

import hashlib
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from vaultkeeper.privatefs import fsync_path, open_private

DEPTH = 8
"""Batches (of about 1 MiB) that may wait between the download and the worker."""


class FileSink:
    """A ``.part`` file being written and hashed (SHA-256, and MD5 when asked) by a worker."""

    def __init__(self, path: Path, with_md5: bool = False) -> None:
        self.path = path
        self.with_md5 = with_md5
        """Also compute MD5 (only when the vendor states an MD5 checksum to compare with)."""
        self.handle = open_private(path)
        self.sha: Any = None
        self.md5: Any = None
        self.size = 0
        self._queue: queue.Queue[bytes | list[bytes] | None] = queue.Queue(maxsize=DEPTH)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._start()

    def _start(self) -> None:
        self.sha, self.size = hashlib.sha256(), 0
        self.md5 = hashlib.md5() if self.with_md5 else None  # noqa: S324
        self._error = None
        self._thread = threading.Thread(target=self._work, name="vk-file-sink", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue   # keep draining, so the download never blocks on a full queue
            try:
                chunk = item if isinstance(item, bytes) else b"".join(item)
                self.handle.write(chunk)
                self.sha.update(chunk)   # hashlib releases the GIL on large buffers
                if self.md5 is not None:
                    self.md5.update(chunk)
                self.size += len(chunk)
            except BaseException as exc:
                self._error = exc

    def write(self, chunk: bytes | list[bytes]) -> None:
        """Queue one chunk, or a batch of pieces the worker joins (blocks while ``DEPTH``
        wait)."""
        if self._error is not None:
            raise self._error
        self._queue.put(chunk)

    def _stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error

    def reset(self) -> None:
        """Start again from nothing (a retried download)."""
        try:
            self._stop()
        except OSError:
            pass   # the failed attempt's write error: the file is truncated below anyway
        self.handle.seek(0)
        self.handle.truncate()
        self._start()

    def close(self) -> None:
        """Wait for the worker and close (fsynced later, by ``Syncer``)."""
        try:
            self._stop()
        finally:
            self.handle.close()


class Syncer:
    """fsyncs finished files in a background thread: the disk's latency overlaps the next
    download instead of adding to it; ``finish`` waits for all (before the manifest)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vk-fsync")
        self._pending: list[Future[None]] = []

    def add(self, path: Path) -> None:
        """Queue ``path`` for fsync."""
        self._pending.append(self._pool.submit(fsync_path, path))

    def finish(self) -> None:
        """Wait for every queued fsync (an error propagates: the export is not durable)."""
        for future in self._pending:
            future.result()

    def close(self) -> None:
        """Stop the thread (queued fsyncs that have not started are dropped)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
