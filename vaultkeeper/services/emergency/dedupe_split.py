"""Duplicate detection on both cores: the slices of the blocks (``db/blockkeys.py``) shared
between the build's process and a forked worker as they go.

Each process claims the next slice nobody has claimed (a claim is a file created
exclusively in the build's private work folder: no lock to wedge if a process dies), sorts
that slice's blocking keys and searches its blocks; so the two finish within about a slice
of each other, also when the parent first does what the caller gives it to do meanwhile (the
package's relation files) or one core is busier. While both run, nobody writes the scratch
store: the worker reads it through its own read-only connection, and each process writes its
candidate pairs to a pair file of its own (``PairFile``); after the join the parent merges its
own, then the worker's. The store keeps one row per pair, the best score (on a tie, the first
reason in sort order), so the order of the additions does not matter, and each slice has its
own set of pairs already compared (``dedupe.search``): candidates and counts are those of one
process. The worker dies with the build (``die_with_parent``).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from vaultkeeper.db.blockkeys import SLICES
from vaultkeeper.db.scratch import PairFile, Scratch
from vaultkeeper.restic.proc import die_with_parent
from vaultkeeper.services.emergency import dedupe, split

SPLIT_MIN = 50_000
"""Persons from which two processes search (below, the fork and both processes reading every
block cost more than they save: measured at 20,000 persons, the duplicate stage took
5.7–7.2 s with the split against 2.9–4.4 s without)."""


def worth(scratch: Scratch) -> bool:
    """Whether to search with two processes (at least ``SPLIT_MIN`` persons, two cores)."""
    return (os.cpu_count() or 1) >= 2 and scratch.count_features() >= SPLIT_MIN


def find_split(scratch: Scratch, threshold: float, workdir: Path,
               meanwhile: Callable[[], None] | None = None) -> dedupe.DedupeStats:
    """The slices shared between this process and a forked worker; the pairs of both added
    to ``scratch``. ``meanwhile`` runs here first, while the worker already searches."""
    work = workdir / "dedupe"
    work.mkdir(mode=0o700)
    scratch.ready_for_readers()
    proc = multiprocessing.get_context("fork").Process(
        target=_worker, args=(scratch.path, scratch.key_parts, threshold, work, os.getpid()),
        daemon=True)
    proc.start()
    mine = PairFile(work / "pairs-0")
    try:
        if meanwhile is not None:
            meanwhile()
        stats = dedupe.search(scratch, threshold, mine.add, claimed(work))
        mine.close()
        proc.join()
        result = split._result(work, proc.exitcode)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
    scratch.merge_pairs(work / "pairs-0")
    scratch.merge_pairs(work / "pairs-1")
    theirs: dedupe.DedupeStats = result["stats"]
    for name in ("blocks", "large_blocks", "comparisons", "scored"):
        setattr(stats, name, getattr(stats, name) + getattr(theirs, name))
    shutil.rmtree(work, ignore_errors=True)
    return stats


def claimed(work: Path) -> Iterator[int]:
    """The slices this process claims, in order: each one no other process has claimed (the
    first to create its claim file gets it)."""
    for n in range(SLICES):
        try:
            os.close(os.open(work / f"slice-{n}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            continue
        yield n


def _worker(path: Path, parts: list[tuple[Path, int]], threshold: float, work: Path,
            parent: int) -> None:
    """The second process: the slices it claims, its pairs into a pair file."""
    die_with_parent(parent)
    try:
        reader = Scratch(path, reader=True)
        reader.key_parts = parts
        pairs = PairFile(work / "pairs-1")
        stats = dedupe.search(reader, threshold, pairs.add, claimed(work))
        pairs.close()
        result: dict[str, Any] = {"stats": stats}
    except BaseException:
        result = {"error": traceback.format_exc(limit=-3).strip().splitlines()[-1]}
    split._put_result(work, result)


def find_candidates(scratch: Scratch, *, threshold: float = dedupe.THRESHOLD,
                    workdir: Path | None = None, meanwhile: Callable[[], None] | None = None
                    ) -> dedupe.DedupeStats:
    """``dedupe.find_candidates``, with the slices of the blocks shared by two
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
