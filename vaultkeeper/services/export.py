"""Export every object of a source into NDJSON files plus a manifest written last, atomically.

An export directory without ``manifest.json`` is, by definition, not an export: the manifest is
only written once every file is complete, flushed and hashed.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vaultkeeper import __version__
from vaultkeeper.connectors.base import Connector
from vaultkeeper.digest import ContentDigest, canonical_json
from vaultkeeper.errors import UsageError
from vaultkeeper.exportfmt import FORMAT, MANIFEST, SUBDIRS, write_manifest
from vaultkeeper.models import FileEntry, Malformed, ObjectResult, ObjectSpec, Record, Relation
from vaultkeeper.privatefs import fsync_dir, open_private, write_private

PROGRESS_EVERY = 1000


class ExportObserver:
    """Receives progress; the CLI draws bars from it. The default does nothing."""

    def discovered(self, objects: Sequence[str]) -> None:
        """The objects about to be exported, in order."""

    def object_started(self, name: str, expected: int | None) -> None:
        """An object starts; ``expected`` is the source's own count when known."""

    def advance(self, name: str, records: int) -> None:
        """``records`` more records of ``name`` were written."""

    def object_finished(self, result: ObjectResult) -> None:
        """An object is complete and its file closed."""


class NdjsonWriter:
    """Writes canonical JSON lines to ``<path>.part``, hashing as it goes; renamed on close."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self._file = open_private(self.part, buffering=1 << 20)
        self._sha = hashlib.sha256()
        self.digest = ContentDigest()
        self.bytes = 0

    def write_canonical(self, line: bytes) -> None:
        """Write one record given as canonical JSON (no newline)."""
        data = line + b"\n"
        self._file.write(data)
        self._sha.update(data)
        self.digest.add_canonical(line)
        self.bytes += len(data)

    def write(self, value: Any) -> None:
        """Write one JSON value."""
        self.write_canonical(canonical_json(value))

    def close(self) -> dict[str, Any]:
        """Flush to disk, rename into place, and describe the file for the manifest."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.part, self.path)
        return {"sha256": self._sha.hexdigest(), "bytes": self.bytes,
                "count": self.digest.count, "content_digest": self.digest.hexdigest()}

    def abandon(self) -> None:
        """Close without renaming (the ``.part`` name marks it unfinished)."""
        with contextlib.suppress(OSError):
            self._file.close()


@dataclass
class _Run:
    out: Path
    objects: dict[str, Any] = field(default_factory=dict)
    relations: dict[str, NdjsonWriter] = field(default_factory=dict)
    relation_entries: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def prepare_out_dir(out: Path, *, overwrite: bool) -> None:
    """Create a private (0700) export directory; refuse to mix with other content."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a directory", "choose another --out")
    if out.exists() and any(out.iterdir()):
        known = {MANIFEST, *SUBDIRS}
        foreign = sorted(p.name for p in out.iterdir() if p.name not in known)
        if foreign:
            raise UsageError(f"{out} is not empty and not an export ({', '.join(foreign[:3])})",
                             "choose an empty or new directory for --out")
        if not overwrite:
            raise UsageError(f"{out} already holds an export",
                             "pass --overwrite to replace it, or choose another --out")
        # The old manifest goes first: if we crash now, nothing looks complete.
        (out / MANIFEST).unlink(missing_ok=True)
        fsync_dir(out)
        for sub in SUBDIRS:
            shutil.rmtree(out / sub, ignore_errors=True)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    out.chmod(0o700)
    for sub in SUBDIRS:
        (out / sub).mkdir(mode=0o700, exist_ok=True)


def resolve_order(specs: Sequence[ObjectSpec], default_order: Sequence[str],
                  objects: Sequence[str], exclude: Sequence[str],
                  priority: Sequence[str] = (), offered: Sequence[str] = ()) -> list[ObjectSpec]:
    """The objects to export in order: configured ones, or defaults then the rest A–Z; objects
    named in ``priority`` (business processes, best rank first) move to the front.
    ``offered``: every name the source has (a configured object list narrows ``specs``)."""
    by_name = {s.name: s for s in specs}
    unknown = [n for n in (*objects, *exclude) if n not in by_name]
    if unknown:
        names = sorted({*by_name, *offered})
        hints = [f"{n} → {close[0]}?" for n in unknown
                 if (close := difflib.get_close_matches(n, names, n=1))]
        listed = ", ".join(names[:40]) + (f" … ({len(names)} in all)" if len(names) > 40 else "")
        raise UsageError(
            f"unknown object(s) {', '.join(unknown)}"
            + (f" (did you mean {'; '.join(hints)})" if hints else "")
            + f"; the source has: {listed or 'no readable object'}",
            "fix [source] objects/exclude or --objects/--exclude")
    if objects:
        names = list(dict.fromkeys(objects))
    else:
        names = [n for n in default_order if n in by_name]
        names += sorted(n for n in by_name if n not in names)
    first = [n for n in dict.fromkeys(priority) if n in names]
    names = first + [n for n in names if n not in first]
    return [by_name[n] for n in names if n not in exclude]


def run_export(connector: Connector, out: Path, *, objects: Sequence[str] = (),
               exclude: Sequence[str] = (), overwrite: bool = False,
               observer: ExportObserver | None = None,
               priority: Sequence[str] = ()) -> dict[str, Any]:
    """Export everything ``connector`` holds into ``out``; return the manifest written.

    ``priority`` lists objects to export first (see services.processes.priority_order)."""
    observer = observer or ExportObserver()
    prepare_out_dir(out, overwrite=overwrite)
    started = datetime.now(UTC)
    clock = time.monotonic()
    run = _Run(out)
    specs = resolve_order(connector.discover(), connector.default_order, objects, exclude,
                          priority, connector.object_names())
    run.problems.extend(connector.problems())
    observer.discovered([s.name for s in specs])
    try:
        for spec in specs:
            result = _export_object(connector, spec, run, observer)
            run.objects[spec.name] = _object_entry(result) | {"primary_key": spec.primary_key}
            # Names, so a later run can tell which fields vanished from the vendor's schema.
            run.objects[spec.name]["schema"]["property_names"] = sorted(spec.properties)
            observer.object_finished(result)
        for stem, writer in sorted(run.relations.items()):
            run.relation_entries[stem] = {"path": f"relations/{stem}.ndjson", **writer.close()}
    except BaseException:
        for writer in run.relations.values():
            writer.abandon()
        raise
    manifest = {
        "format": FORMAT,
        "tool": {"name": "vaultkeeper", "version": __version__},
        "connector": {"name": connector.name, "version": connector.version},
        "source": connector.describe_source(),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - clock, 3),
        "status": "incomplete" if run.problems else "complete",
        "problems": run.problems,
        "order": [s.name for s in specs],
        "excluded": list(exclude),
        "objects": run.objects,
        "relations": run.relation_entries,
        "requests": connector.request_stats(),
    }
    write_manifest(out, manifest)
    return manifest


def _export_object(connector: Connector, spec: ObjectSpec, run: _Run,
                   observer: ExportObserver) -> ObjectResult:
    began = time.monotonic()
    result = ObjectResult(name=spec.name, properties=len(spec.properties))
    result.schema_file, result.schema_sha256 = _write_schema(run.out, spec)
    result.source_count = connector.source_count(spec)
    observer.object_started(spec.name, _expected(result))
    writer = NdjsonWriter(run.out / "objects" / f"{spec.name}.ndjson")
    quarantine: NdjsonWriter | None = None
    pending = 0
    try:
        for item in connector.read(spec):
            if isinstance(item, Record):
                writer.write(item.data)
                result.archived += item.archived
                pending += 1
                if pending >= PROGRESS_EVERY:
                    observer.advance(spec.name, pending)
                    pending = 0
            elif isinstance(item, Relation):
                rel = run.relations.get(item.file_stem)
                if rel is None:
                    rel = run.relations[item.file_stem] = NdjsonWriter(
                        run.out / "relations" / f"{item.file_stem}.ndjson")
                rel.write(item.as_json())
            elif isinstance(item, Malformed):
                if quarantine is None:
                    quarantine = NdjsonWriter(run.out / "quarantine" / f"{spec.name}.ndjson")
                quarantine.write({"reason": item.reason, "location": item.location,
                                  "raw": item.raw})
                result.quarantined += 1
    except BaseException:
        writer.abandon()
        if quarantine is not None:
            quarantine.abandon()
        raise
    observer.advance(spec.name, pending)
    entry = writer.close()
    result.count = entry["count"]
    result.file = _file_entry(f"objects/{spec.name}.ndjson", entry)
    if quarantine is not None:
        quarantine.close()
        result.quarantine_file = f"quarantine/{spec.name}.ndjson"
    result.duration_s = round(time.monotonic() - began, 3)
    run.problems.extend(_check_counts(result))
    return result


def _expected(result: ObjectResult) -> int | None:
    sc = result.source_count
    if sc is None:
        return None
    return sc.total if sc.total is not None else sc.live


def _check_counts(result: ObjectResult) -> list[str]:
    """Problems that make the export incomplete: quarantine, fewer records than reported."""
    problems = []
    if result.quarantined:
        problems.append(f"{result.name}: {result.quarantined} record(s) could not be parsed and "
                        f"are kept raw in {result.quarantine_file}")
    sc = result.source_count
    if sc is not None and sc.live is not None and result.live < sc.live:
        problems.append(f"{result.name}: exported {result.live} live records but the source "
                        f"reports {sc.live} ({sc.method})")
    if sc is not None and sc.total is not None and result.count + result.quarantined < sc.total:
        problems.append(f"{result.name}: exported {result.count + result.quarantined} records "
                        f"(incl. archived and quarantined) but the source holds {sc.total} "
                        f"({sc.method})")
    return problems


def _write_schema(out: Path, spec: ObjectSpec) -> tuple[str, str]:
    data = canonical_json(spec.schema)
    rel = f"schema/{spec.name}.json"
    write_private(out / rel, data)
    return rel, hashlib.sha256(data).hexdigest()


def _file_entry(path: str, entry: dict[str, Any]) -> FileEntry:
    return FileEntry(path=path, sha256=entry["sha256"], bytes=entry["bytes"],
                     count=entry["count"], content_digest=entry["content_digest"])


def _object_entry(result: ObjectResult) -> dict[str, Any]:
    assert result.file is not None
    sc = result.source_count
    return {
        "count": result.count,
        "live": result.live,
        "archived": result.archived,
        "quarantined": result.quarantined,
        "source_count": None if sc is None else
        {"live": sc.live, "total": sc.total, "method": sc.method},
        "difference": result.difference,
        "file": result.file.path,
        "sha256": result.file.sha256,
        "bytes": result.file.bytes,
        "content_digest": result.file.content_digest,
        "quarantine_file": result.quarantine_file,
        "schema": {"file": result.schema_file, "sha256": result.schema_sha256,
                   "properties": result.properties},
        "duration_s": result.duration_s,
    }
