"""Where a downloaded file's bytes go: a private ``.part`` file written and hashed as the bytes
arrive, and a syncer that fsyncs finished files in the background.

The download hands over batches of the pieces it received (about 1 MiB together, kept as they
came: httpx does not re-chunk them, which saves two copies of every byte); the sink joins each
batch once, writes it, hashes it (SHA-256, and MD5 when the vendor states one) and, every
``WRITEBACK`` bytes, asks the kernel to start writing what it has to disk, so the fsync
before the manifest finds little left to do. Memory holds one batch: it does not grow with
the file's size.

Why in the download's own thread: with a worker thread, the two threads hand Python's GIL to
and fro for every 16 KiB TLS record; on a busy machine each hand-over waits for the scheduler,
and the 1 GiB benchmark ran 1.4-1.7× the bare loop. In one thread the cost is the hashing's
CPU time alone (SHA-256 at ~1.7 GB/s), which the cheaper reading pays for (see
docs/performance.md).
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from vaultkeeper.privatefs import fsync_path, open_private, start_writeback

WRITEBACK = 16 << 20
"""Bytes after which the sink starts the disk writeback of what it wrote."""


class FileSink:
    """A ``.part`` file being written and hashed (SHA-256, and MD5 when asked)."""

    def __init__(self, path: Path, with_md5: bool = False) -> None:
        self.path = path
        self.with_md5 = with_md5
        """Also compute MD5 (only when the vendor states an MD5 checksum to compare with)."""
        self.handle = open_private(path)
        self.sha: Any = None
        self.md5: Any = None
        self.size = 0
        self._flushed = 0
        self._start()

    def _start(self) -> None:
        self.sha, self.size, self._flushed = hashlib.sha256(), 0, 0
        self.md5 = hashlib.md5() if self.with_md5 else None  # noqa: S324

    def write(self, chunk: bytes | list[bytes]) -> None:
        """Write and hash one chunk, or a batch of pieces (joined first)."""
        data = chunk if isinstance(chunk, bytes) else b"".join(chunk)
        self.handle.write(data)
        self.sha.update(data)   # hashlib releases the GIL on large buffers
        if self.md5 is not None:
            self.md5.update(data)
        self.size += len(data)
        if self.size - self._flushed >= WRITEBACK:
            self.handle.flush()
            start_writeback(self.handle.fileno(), self._flushed, self.size - self._flushed)
            self._flushed = self.size

    def reset(self) -> None:
        """Start again from nothing (a retried download)."""
        self.handle.seek(0)
        self.handle.truncate()
        self._start()

    def close(self) -> None:
        """Close (fsynced later, by ``Syncer``)."""
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
