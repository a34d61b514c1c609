"""Export every object of a source into NDJSON files plus a manifest written last, atomically.

An export directory without ``manifest.json`` is, by definition, not an export: the manifest is
only written once every file is complete, flushed and hashed.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vaultkeeper import __version__
from vaultkeeper.connectors.base import Connector
from vaultkeeper.digest import ContentDigest, canonical_json
from vaultkeeper.errors import UsageError
from vaultkeeper.exportfmt import FORMAT, MANIFEST, SUBDIRS, write_manifest
from vaultkeeper.exportfmt_files import FILES_DIR
from vaultkeeper.filelimits import FileLimits
from vaultkeeper.models import FileEntry, Malformed, ObjectResult, ObjectSpec, Record, Relation
from vaultkeeper.privatefs import fsync_dir, open_private, write_private
from vaultkeeper.services.export_files import FileReuse, export_files

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
    findings: list[str] = field(default_factory=list)


def prepare_out_dir(out: Path, *, overwrite: bool) -> None:
    """Create a private (0700) export directory; refuse to mix with other content."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a directory", "choose another --out")
    if out.exists() and any(out.iterdir()):
        known = {MANIFEST, *SUBDIRS, FILES_DIR}
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
        for sub in (*SUBDIRS, FILES_DIR):
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
               priority: Sequence[str] = (), files: FileLimits | None = None,
               reuse: FileReuse | None = None,
               extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Export everything ``connector`` holds into ``out``; return the manifest written.

    ``priority`` lists objects to export first (see services.processes.priority_order);
    ``files``: also download the source's files under these limits (export_files.py), taking
    unchanged ones from ``reuse``; ``extra``: more top-level manifest keys (the
    ``incremental`` block)."""
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
    files_part, file_problems = (None, []) if files is None else \
        export_files(connector, out, files, reuse=reuse, observer=observer)
    run.problems.extend(file_problems)
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
        "findings": run.findings,
        "order": [s.name for s in specs],
        "excluded": list(exclude),
        "objects": run.objects,
        "unverified_counts": [n for n, e in run.objects.items() if not e["count_verified"]],
        "relations": run.relation_entries,
        "requests": connector.request_stats(),
        **(extra or {}),
    }
    if files_part is not None:
        manifest["files"] = files_part
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
    ids = _IdCounter(spec.primary_key)
    pending = 0

    def to_quarantine(item: Malformed) -> None:
        nonlocal quarantine
        if quarantine is None:
            quarantine = NdjsonWriter(run.out / "quarantine" / f"{spec.name}.ndjson")
        quarantine.write({"reason": item.reason, "location": item.location, "raw": item.raw})
        result.quarantined += 1

    try:
        for item in connector.read(spec):
            if isinstance(item, Record):
                try:
                    line = canonical_json(item.data)
                except (TypeError, ValueError):   # orjson: a str holding non-UTF-8 bytes
                    to_quarantine(_not_utf8(item, spec))
                    continue
                writer.write_canonical(line)
                ids.add(item)
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
                to_quarantine(item)
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
    if ids.enabled:
        result.distinct_live, result.distinct_archived = ids.live, ids.archived
    if result.source_count is not None and connector.recount_after_read:
        # Offset paging shifts under deletes: what moved is caught by comparing distinct
        # ids with the smaller of the counts before and after the read.
        result.recount = connector.source_count(spec)
    result.duration_s = round(time.monotonic() - began, 3)
    run.problems.extend(_check_counts(result))
    run.findings.extend(_findings(result))
    return result


class _IdCounter:
    """Distinct ids per archived state, as 64-bit hashes (8 bytes a record, not the ids)."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.enabled = bool(key)
        self._seen: tuple[set[int], set[int]] = (set(), set())

    def add(self, record: Record) -> None:
        """Count one written record's id."""
        if not self.enabled:
            return
        value = record.data.get(self.key)
        if value is None or value == "":
            self.enabled = False   # records without ids: fall back to line counts
            return
        digest = hashlib.blake2b(str(value).encode("utf-8", "surrogatepass"), digest_size=8)
        self._seen[bool(record.archived)].add(int.from_bytes(digest.digest(), "big"))

    @property
    def live(self) -> int:
        """Distinct live ids."""
        return len(self._seen[0])

    @property
    def archived(self) -> int:
        """Distinct archived ids."""
        return len(self._seen[1])


def _not_utf8(item: Record, spec: ObjectSpec) -> Malformed:
    """A record whose strings hold bytes that are not UTF-8 (kept as surrogates by the
    connector): quarantined raw, the bad bytes as ``\\udcXX`` escapes (byte 0xXX)."""
    bad = sorted(k for k, v in _walk_strings(item.data) if not _utf8_ok(v))
    raw = json.dumps(item.data, ensure_ascii=True, sort_keys=True)
    record_id = item.data.get(spec.primary_key, "?") if spec.primary_key else "?"
    return Malformed(raw, f"property {', '.join(bad[:5]) or '?'} is not valid UTF-8",
                     f"{spec.name} id {record_id!s:.80}")


def _walk_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _walk_strings(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _walk_strings(inner, f"{path}[{index}]")


def _utf8_ok(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _expected(result: ObjectResult) -> int | None:
    sc = result.source_count
    if sc is None:
        return None
    return sc.total if sc.total is not None else sc.live


def _check_counts(result: ObjectResult) -> list[str]:
    """Problems that make the export incomplete: quarantine, fewer distinct records than the
    source reports (before and after the read: the smaller count, so records created meanwhile
    do not count against us and records deleted meanwhile do not hide a skipped one)."""
    problems = []
    if result.quarantined:
        problems.append(f"{result.name}: {result.quarantined} record(s) could not be parsed and "
                        f"are kept raw in {result.quarantine_file}")
    sc, again = result.source_count, result.recount
    live = result.live if result.distinct_live is None else result.distinct_live
    total = result.count if result.distinct_archived is None else \
        (result.distinct_live or 0) + result.distinct_archived
    what = "distinct " if result.distinct_live is not None else ""
    expected_live = _smaller(sc.live if sc else None, again.live if again else None)
    expected_total = _smaller(sc.total if sc else None, again.total if again else None)
    method = sc.method if sc else ""
    if expected_live is not None and live < expected_live:
        problems.append(f"{result.name}: exported {live} {what}live records but the source "
                        f"reports {expected_live} ({method})")
    if expected_total is not None and total + result.quarantined < expected_total:
        problems.append(f"{result.name}: exported {total + result.quarantined} {what}records "
                        f"(incl. archived and quarantined) but the source holds "
                        f"{expected_total} ({method})")
    return problems


def _smaller(first: int | None, second: int | None) -> int | None:
    if first is None:
        return second
    return first if second is None else min(first, second)


def _findings(result: ObjectResult) -> list[str]:
    """Not fatal, but worth knowing: duplicated ids, counts that moved during the read."""
    found = []
    if result.duplicates:
        found.append(f"{result.name}: {result.duplicates} record(s) were listed twice by the "
                     "source (same id; the later copy is kept by a restore)")
    sc, again = result.source_count, result.recount
    if sc is not None and again is not None and (sc.live, sc.total) != (again.live, again.total):
        found.append(f"{result.name}: the source's count changed during the read "
                     f"({sc.live}/{sc.total} → {again.live}/{again.total} live/total)")
    return found


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
        # False: the source reported no count, so completeness could not be checked.
        "count_verified": sc is not None and (sc.live is not None or sc.total is not None),
        "difference": result.difference,
        "distinct_ids": None if result.distinct_live is None else
        {"live": result.distinct_live, "archived": result.distinct_archived},
        "duplicates": result.duplicates,
        "recount": None if result.recount is None else
        {"live": result.recount.live, "total": result.recount.total},
        "file": result.file.path,
        "sha256": result.file.sha256,
        "bytes": result.file.bytes,
        "content_digest": result.file.content_digest,
        "quarantine_file": result.quarantine_file,
        "schema": {"file": result.schema_file, "sha256": result.schema_sha256,
                   "properties": result.properties},
        "duration_s": result.duration_s,
    }
