"""Duplicate detection on both cores: the blocks split in two halves by a hash of their key,
the second half searched by a forked worker process.

Each process sorts its own half of the blocking keys (``db/blockkeys.py``), so neither waits
for the other's; the parent first does what the caller gives it to do meanwhile (the package's
relation files) while a thread of it sorts. While both run, nobody writes the scratch store:
the worker reads it through its own read-only connection, and each process spools its
candidate pairs to a private file in the build's 0700 work folder; after the join the parent
adds its own pairs, then the worker's. The store keeps
one row per pair, the best score (on a tie, the first reason in sort order), so the order of
the additions does not matter, and each half keeps its own set of pairs already compared in
one process too (``dedupe.search``): candidates and counts are those of one process. The
worker dies with the build (``die_with_parent``).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from vaultkeeper import privatefs
from vaultkeeper.db.scratch import Scratch
from vaultkeeper.restic.proc import die_with_parent
from vaultkeeper.services.emergency import dedupe, split

SPLIT_MIN = 50_000
"""Persons from which two processes search (below, the fork and both processes reading every
block cost more than they save: measured at 20,000 persons, the duplicate stage took
5.7–7.2 s with the split against 2.9–4.4 s without)."""


def worth(scratch: Scratch) -> bool:
    """Whether to search with two processes (at least ``SPLIT_MIN`` persons, two cores)."""
    return (os.cpu_count() or 1) >= 2 and scratch.count_features() >= SPLIT_MIN


class _PairSpool:
    """Candidate pairs pickled in batches into a private file, added to a store later."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = privatefs.open_private(path, "wb", buffering=1 << 20)
        self._batch: list[tuple[int, int, float, str]] = []

    def add(self, a: int, b: int, value: float, reason: str) -> None:
        """Spool one pair."""
        self._batch.append((a, b, value, reason))
        if len(self._batch) >= 1000:
            self.flush()

    def flush(self) -> None:
        """Write the pending batch."""
        if self._batch:
            pickle.dump(self._batch, self._file, pickle.HIGHEST_PROTOCOL)
            self._batch = []

    def close(self) -> None:
        """Write the rest and close the file."""
        self.flush()
        self._file.close()


def _replay(path: Path, into: Scratch) -> None:
    with path.open("rb") as handle:
        while True:
            try:
                batch = pickle.load(handle)  # noqa: S301 (our own private file)
            except EOFError:
                break
            into.add_pairs(batch)
    path.unlink()


def find_split(scratch: Scratch, threshold: float, workdir: Path,
               meanwhile: Callable[[], None] | None = None) -> dedupe.DedupeStats:
    """Half 0 here, half 1 in a forked worker; the pairs of both added to ``scratch``.
    ``meanwhile`` runs here first, while the worker searches and a thread sorts half 0."""
    work = workdir / "dedupe"
    work.mkdir(mode=0o700)
    scratch.ready_for_readers()
    proc = multiprocessing.get_context("fork").Process(
        target=_worker, args=(scratch.path, scratch.key_parts, threshold, work, os.getpid()),
        daemon=True)
    proc.start()
    mine = _PairSpool(work / "pairs-0")
    scan = scratch.block_scan((0,))
    try:
        # threads only after the fork; SQLite lets go of the GIL while it sorts
        with ThreadPoolExecutor(1) as pool:
            sorting = pool.submit(scan.start)
            if meanwhile is not None:
                meanwhile()
            sorting.result()
        stats = dedupe.search(scratch, threshold, (0,), mine.add,
                              ((key, idxs, 0) for key, idxs in scan))
        mine.close()
        proc.join()
        result = split._result(work, proc.exitcode)
    finally:
        scan.close()
        if proc.is_alive():
            proc.kill()
            proc.join()
    _replay(work / "pairs-0", scratch)
    _replay(work / "pairs-1", scratch)
    theirs: dedupe.DedupeStats = result["stats"]
    for name in ("blocks", "large_blocks", "comparisons", "scored"):
        setattr(stats, name, getattr(stats, name) + getattr(theirs, name))
    shutil.rmtree(work, ignore_errors=True)
    return stats


def _worker(path: Path, parts: list[tuple[Path, int]], threshold: float, work: Path,
            parent: int) -> None:
    """The second process: half 1 of the blocks, its pairs into a spool."""
    die_with_parent(parent)
    try:
        reader = Scratch(path, reader=True)
        reader.key_parts = parts
        spool = _PairSpool(work / "pairs-1")
        stats = dedupe.search(reader, threshold, (1,), spool.add)
        spool.close()
        result: dict[str, Any] = {"stats": stats}
    except BaseException:
        result = {"error": traceback.format_exc(limit=-3).strip().splitlines()[-1]}
    split._put_result(work, result)


def find_candidates(scratch: Scratch, *, threshold: float = dedupe.THRESHOLD,
                    workdir: Path | None = None, meanwhile: Callable[[], None] | None = None
                    ) -> dedupe.DedupeStats:
    """``dedupe.find_candidates``, with the two halves of the blocks searched by two
    processes when ``workdir`` (a private folder) is given and the store is big enough; the
    candidates and the counts are the same. ``meanwhile`` runs first (while the worker
    searches, when there is one)."""
    if workdir is None or not worth(scratch):
        if meanwhile is not None:
            meanwhile()
        return dedupe.find_candidates(scratch, threshold=threshold)
    stats = find_split(scratch, threshold, workdir, meanwhile)
    stats.candidates = scratch.count_pairs()
    return stats
