"""Pass 2 of a large object on both cores: the records split in two ranges of lines, the
second written by a forked worker process into part files, then merged so that the package is
byte for byte the one a single process writes.

- Files: the worker writes each of the object's CSV files (and the quality lists) to a
  headerless part file in the private work folder; the parent appends each part after its own
  rows (``CsvOut.absorb``).
- Scratch store: while both run, neither writes to it (the worker reads it through its own
  read-only connection); each spools its writes to a private file (``Spool``), replayed in
  order after — the parent's, then the worker's with its record numbers for duplicate
  detection shifted past the parent's. Blocking keys are not replayed: each process writes
  its own key part (``db/blockkeys.py``), which the store adopts with that shift.
- Counters (placements, samples, quality findings and examples, entity counts, dangling
  references): the worker counts from zero and the parent adds them after its own, so
  first-seen orders and the first examples are those of one process.

The worker dies with the build (``die_with_parent``); its plaintext (part files, spool) lives in
the build's private 0700 folder that the next run removes even after kill -9. Memory per process
stays bounded as in one process: nothing is held per record.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil
import traceback
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vaultkeeper import privatefs
from vaultkeeper.db.blockkeys import KeyPart
from vaultkeeper.db.scratch import Scratch
from vaultkeeper.errors import VaultkeeperError
from vaultkeeper.restic.proc import die_with_parent
from vaultkeeper.services.emergency.files import CsvOut
from vaultkeeper.services.emergency.passes import profile_object
from vaultkeeper.services.emergency.placement import ObjectPlacement
from vaultkeeper.services.emergency.quality import EXAMPLES, FieldFindings, ObjectProfile
from vaultkeeper.services.emergency.result import BuildObserver
from vaultkeeper.services.emergency.source import Column, ExportObject

if TYPE_CHECKING:
    from vaultkeeper.services.emergency.generic_writer import GenericWriter
    from vaultkeeper.services.emergency.package import PackageBuilder
    from vaultkeeper.services.emergency.writers import EntityWriter

_INHERITED: list[Any] = []

SPLIT_MIN = 20_000
"""Objects with at least this many records are written by two processes (below, the fork and
the merge cost more than they save)."""


@dataclass
class ObjectOut:
    """Everything pass 2 writes for one object."""

    obj: ExportObject
    data: CsvOut
    sample: CsvOut
    idmap: CsvOut
    generic: GenericWriter | None
    entities: list[EntityWriter]
    gap: str

    def outputs(self, b: PackageBuilder) -> list[CsvOut]:
        """Every file a record of this object can write to, in a fixed order."""
        files = [self.data, self.sample, self.idmap, b.log.emails, b.log.phones, b.log.dates]
        if self.generic is not None:
            files += [self.generic.active, self.generic.archived, self.generic.sample]
        for writer in self.entities:
            files += writer.outputs()
        return files


def worth_profiling(obj: ExportObject) -> bool:
    """Whether to split this object's pass 1 over two processes (by its manifest count)."""
    return obj.count >= SPLIT_MIN and (os.cpu_count() or 1) >= 2


def profile_split(b: PackageBuilder, obj: ExportObject, seed_here: bool
                  ) -> tuple[ObjectProfile, dict[str, Column], set[str]]:
    """Pass 1 of ``obj``: the first half of its lines here, the second in a worker (which
    reads nothing from the scratch store and spools its id writes); the same answer as one
    process gives (columns in first-seen order, counts, nonconforming typed columns)."""
    mid = obj.count // 2
    work = b.workdir / f"profile-{obj.resource}"
    work.mkdir(mode=0o700)
    proc = multiprocessing.get_context("fork").Process(
        target=_profile_worker, args=(b, obj, seed_here, mid, work, os.getpid()), daemon=True)
    proc.start()
    try:
        prof, cols, bad = profile_object(b, obj, seed_here=seed_here, stop=mid)
        proc.join()
        result = _result(work, proc.exitcode)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
    _replay(work / "spool-1", b.scratch, 0)
    theirs: ObjectProfile = result["profile"]
    prof.records += theirs.records
    prof.archived += theirs.archived
    prof.filled.update(theirs.filled)
    for name, col in result["columns"].items():
        cols.setdefault(name, col)
    b.observer.advance(theirs.records)
    shutil.rmtree(work, ignore_errors=True)
    return prof, cols, bad | result["bad"]


def _profile_worker(b: PackageBuilder, obj: ExportObject, seed_here: bool, start: int,
                    work: Path, parent: int) -> None:
    """The second process of pass 1: lines from ``start`` on; id writes into a spool."""
    die_with_parent(parent)
    try:
        b.observer = BuildObserver()
        b.scratch = spool = Spool(None, work / "spool-1")
        prof, cols, bad = profile_object(b, obj, seed_here=seed_here, start=start)
        spool.close()
        result: dict[str, Any] = {"profile": prof, "columns": cols, "bad": bad}
    except BaseException:
        result = {"error": traceback.format_exc(limit=-3).strip().splitlines()[-1]}
    _put_result(work, result)


def worth(b: PackageBuilder, o: ObjectOut) -> bool:
    """Whether to split this object's pass 2 over two processes."""
    records = b.log.profiles[o.obj.name].records
    persons = sum(w.em.entity == "person" for w in o.entities)
    return (records >= SPLIT_MIN and records >= 2 and persons <= 1
            and (os.cpu_count() or 1) >= 2)


class Spool(Scratch):
    """A scratch store for one process of a split pass: reads go to ``reader``, writes are
    pickled in order into a private file, for ``replay`` into the real store afterwards;
    blocking keys go into a key part of the process's own at ``keys``, adopted by the store
    on ``replay``."""

    def __init__(self, reader: Scratch | None, path: Path, keys: Path | None = None) -> None:
        """``reader`` None: a process that must not read the store (pass 1)."""
        self._reader, self.path, self.keys = reader, path, keys
        self._part: KeyPart | None = None
        self._file = privatefs.open_private(path, "wb", buffering=1 << 20)
        if reader is not None:
            # Reads go straight to the store's own methods (they answer several times per
            # record): the same calls as the methods below make, without their extra step.
            self.has = reader.has   # type: ignore[method-assign]
            self.value = reader.value   # type: ignore[method-assign]
            self.first_link = reader.first_link   # type: ignore[method-assign]

    @property
    def reader(self) -> Scratch:
        """The store reads go to."""
        assert self._reader is not None, "this process must not read the scratch store"
        return self._reader

    def _put(self, method: str, *args: Any) -> None:
        pickle.dump((method, args), self._file, pickle.HIGHEST_PROTOCOL)

    def add_ids(self, name: str, ids: Iterable[str]) -> None:
        """Spooled."""
        self._put("add_ids", name, list(ids))

    def put_values(self, name: str, items: Iterable[tuple[str, str | None]]) -> None:
        """Spooled."""
        self._put("put_values", name, list(items))

    def put_features(self, items: Iterable[tuple[int, bytes]]) -> None:
        """Spooled."""
        self._put("put_features", list(items))

    def add_keys(self, items: Iterable[tuple[str, int]]) -> None:
        """Into this process's key part."""
        if self._part is None:
            assert self.keys is not None, "this process writes no blocking keys"
            self._part = KeyPart(self.keys)
        self._part.add(items)

    def has(self, name: str, id_: str) -> bool:
        """Read from the store."""
        return self.reader.has(name, id_)

    def first_link(self, rel: str, id_: str, *, reverse: bool = False) -> str | None:
        """Read from the store."""
        return self.reader.first_link(rel, id_, reverse=reverse)

    def value(self, name: str, id_: str) -> str | None:
        """Read from the store."""
        return self.reader.value(name, id_)

    def prefetch(self, kind: str, name: str, ids: Iterable[str]) -> None:
        """Read from the store."""
        self.reader.prefetch(kind, name, ids)

    def forget(self) -> None:
        """Read from the store."""
        self.reader.forget()

    def close(self) -> None:
        """Close the spool file and the key part (the reader stays open)."""
        self._file.close()
        if self._part is not None:
            self._part.close()

    def replay(self, into: Scratch, offset: int) -> None:
        """Apply the spooled writes to ``into``, record numbers shifted by ``offset``; the key
        part written, if any, is adopted with that shift."""
        if self.keys is not None and self.keys.exists():
            into.adopt_keys(self.keys, offset)
        with self.path.open("rb") as handle:
            while True:
                try:
                    method, args = pickle.load(handle)  # noqa: S301 (our own private file)
                except EOFError:
                    break
                if offset and method == "put_features":
                    args = ([(idx + offset, data) for idx, data in args[0]],)
                getattr(into, method)(*args)
        self.path.unlink()


def write_split(b: PackageBuilder, o: ObjectOut) -> None:
    """Pass 2 of ``o.obj``: the first half of its lines here, the second in a worker."""
    mid = b.log.profiles[o.obj.name].records // 2
    work = b.workdir / f"split-{o.obj.resource}"
    work.mkdir(mode=0o700)
    outs = o.outputs(b)
    for out in outs:
        out.flush()   # the worker must inherit no buffered row
    main = b.scratch
    main.ready_for_readers()
    proc = multiprocessing.get_context("fork").Process(
        target=_worker, args=(b, o, mid, work, os.getpid()), daemon=True)
    proc.start()
    mine = Spool(main, work / "spool-0", _keys_path(b, o, 0))
    b.scratch = mine
    try:
        b.write_rows(o, o.obj.rows(stop=mid), None)
        for writer in o.entities:
            writer.flush()
        mine.close()
        proc.join()
        result = _result(work, proc.exitcode)
    finally:
        b.scratch = main
        if proc.is_alive():
            proc.kill()
            proc.join()
    person = next((w for w in o.entities if w.em.entity == "person"), None)
    offset = person.person_idx if person is not None else 0
    with ThreadPoolExecutor(1) as pool:
        # the part files are appended (by the kernel: no GIL) while the spools replay
        appending = pool.submit(_absorb, outs, work, result["rows"])
        mine.replay(main, 0)
        _replay(work / "spool-1", main, offset, _keys_path(b, o, 1))
        appending.result()
    _merge(b, o, result)
    b.observer.advance(result["records"])
    shutil.rmtree(work, ignore_errors=True)


def _absorb(outs: list[CsvOut], work: Path, rows: list[int]) -> None:
    for i, (out, n) in enumerate(zip(outs, rows, strict=True)):
        out.absorb(work / f"part-{i}", n)


def _keys_path(b: PackageBuilder, o: ObjectOut, n: int) -> Path:
    """Where process ``n`` of ``o``'s split pass writes its key part (in the build's private
    folder: it outlives the pass, until the duplicate search)."""
    return b.workdir / f"keys-{o.obj.resource}-{n}"


def _replay(path: Path, into: Scratch, offset: int, keys: Path | None = None) -> None:
    spool = Spool.__new__(Spool)
    spool.path, spool.keys = path, keys
    spool.replay(into, offset)


def _result(work: Path, exitcode: int | None) -> dict[str, Any]:
    path = work / "result"
    if not path.exists():
        raise VaultkeeperError(f"the second process of the package build died (exit {exitcode})",
                         "run the build again; if it keeps failing, report it")
    with path.open("rb") as handle:
        result: dict[str, Any] = pickle.load(handle)  # noqa: S301 (our own private file)
    if "error" in result:
        raise VaultkeeperError(f"the second process of the package build failed: "
                         f"{result['error']}", "run the build again; if it keeps failing, "
                         "report it")
    return result


def _merge(b: PackageBuilder, o: ObjectOut, r: dict[str, Any]) -> None:
    """Add the worker's counters after the parent's own."""
    for name, theirs in r["placement"].items():
        entry = b.placement.objects.setdefault(name, ObjectPlacement())
        entry.records += theirs.records
        entry.files.update(theirs.files)
        entry.gaps.update(theirs.gaps)
    for path, rows in r["file_rows"].items():
        b.placement.files[path]["rows"] += rows
    b.sample_counts.update(r["samples"])
    b.dangling_refs.update(r["dangling"])
    for kind, fields in r["checks"].items():
        mine = b.log.checks[kind]
        for key, theirs in fields.items():
            findings = mine.get(key) or mine.setdefault(key, FieldFindings())
            findings.statuses.update(theirs.statuses)
            findings.examples += theirs.examples[:max(0, EXAMPLES - len(findings.examples))]
    for writer, counts, persons in zip(o.entities, r["counts"], r["persons"], strict=True):
        writer.counts.update(counts)
        writer.person_idx += persons
    if r["current"]:
        b.current = r["current"]


def _worker(b: PackageBuilder, o: ObjectOut, start: int, work: Path, parent: int) -> None:
    """The second process: lines from ``start`` on into part files and a spool."""
    die_with_parent(parent)
    try:
        outs = o.outputs(b)
        # The parent's handles: kept referenced, so this process never closes them.
        _INHERITED.extend(out.divert(work / f"part-{i}") for i, out in enumerate(outs))
        b.placement.objects = {}
        before = {path: spec["rows"] for path, spec in b.placement.files.items()}
        b.sample_counts, b.dangling_refs = Counter(), Counter()
        b.log.checks = {"email": {}, "phone": {}, "date": {}}
        b.current = {}
        for writer in o.entities:
            writer.counts, writer.person_idx = Counter(), 0
        b.observer = BuildObserver()
        reader = Scratch(b.scratch.path, reader=True)
        b.scratch = spool = Spool(reader, work / "spool-1", _keys_path(b, o, 1))
        b.write_rows(o, o.obj.rows(start=start), None)
        for writer in o.entities:
            writer.flush()
        spool.close()
        for out in outs:
            out.close()
        result: dict[str, Any] = {
            "rows": [out.rows for out in outs],
            "records": b.placement.objects.get(o.obj.name, ObjectPlacement()).records,
            "placement": b.placement.objects,
            "file_rows": {path: spec["rows"] - before.get(path, 0)
                          for path, spec in b.placement.files.items()
                          if spec["rows"] != before.get(path, 0)},
            "samples": b.sample_counts, "dangling": b.dangling_refs,
            "checks": b.log.checks, "current": b.current,
            "counts": [w.counts for w in o.entities],
            "persons": [w.person_idx for w in o.entities]}
    except BaseException:
        result = {"error": traceback.format_exc(limit=-3).strip().splitlines()[-1]}
    _put_result(work, result)


def _put_result(work: Path, result: dict[str, Any]) -> None:
    tmp = work / "result.tmp"
    with privatefs.open_private(tmp) as handle:
        pickle.dump(result, handle, pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, work / "result")
