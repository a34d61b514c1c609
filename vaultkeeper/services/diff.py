"""What changed between two snapshots, per object: records added, removed and changed (by CRM id
and per-record content hash), with a sample of field-level changes; and files added, removed,
changed and relinked (diff_files.py).

``compare_counts`` is the shared count comparison: the backup's mass-deletion guard, the drill's
``--against-source`` and ``diff`` all use it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from vaultkeeper.config import Settings
from vaultkeeper.db.diffindex import RecordIndex
from vaultkeeper.errors import StorageError, UsageError
from vaultkeeper.exportfmt import MANIFEST, ExportFolder, Manifest
from vaultkeeper.privatefs import private_staging, run_lock
from vaultkeeper.restic import select_snapshot
from vaultkeeper.services.context import CommandContext, restore_export
from vaultkeeper.services.diff_files import compare_files
from vaultkeeper.shapes import ObjectShape, shape_for

STAGING = "diff-staging"
LOCK = "diff.lock"
BATCH = 5000
VALUE_CHARS = 200


@dataclass(frozen=True)
class CountChange:
    """One object's record count before and after."""

    name: str
    before: int
    after: int

    @property
    def delta(self) -> int:
        """after − before."""
        return self.after - self.before

    @property
    def drop(self) -> float:
        """The fraction lost (0 when the count grew or there was nothing before)."""
        if self.before <= 0 or self.after >= self.before:
            return 0.0
        return (self.before - self.after) / self.before


def compare_counts(before: Mapping[str, int], after: Mapping[str, int]) -> list[CountChange]:
    """Every object in either mapping, sorted by name; a missing side counts as 0."""
    return [CountChange(name, int(before.get(name, 0)), int(after.get(name, 0)))
            for name in sorted(set(before) | set(after))]


@dataclass
class ObjectDiff:
    """One object's differences."""

    object: str
    before: int = 0
    after: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0
    added_ids: list[str] = field(default_factory=list)
    removed_ids: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    keyed_by: str = "id"


@dataclass
class DiffReport:
    """The whole diff."""

    location: str
    a: dict[str, str]
    b: dict[str, str]
    objects: list[ObjectDiff] = field(default_factory=list)
    relations: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, Any] | None = None
    """Files added/removed/changed/relinked (services/diff_files.py); None without files."""

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return asdict(self)


def diff_snapshots(settings: Settings | CommandContext, a: str, b: str, *,
                   location: str | None = None, sample: int = 5) -> DiffReport:
    """Restore snapshots ``a`` and ``b`` from one location and compare them record by record."""
    ctx = CommandContext.of(settings)
    ctx.password  # noqa: B018 - the guard: no password, no diff
    locations = [loc for loc in ctx.locations() if location in (None, loc.name)]
    if location is not None and not locations:
        raise UsageError(f"no location named {location!r}", "see `vaultkeeper status`")
    present = ctx.usable_locations(locations)
    if not present:
        raise StorageError("no location is reachable", "run `vaultkeeper locations check`")
    loc = present[0]
    restic = ctx.restic(loc)
    snaps = restic.snapshots()
    where = f"location {loc.name}"
    snap_a, snap_b = select_snapshot(snaps, a, where), select_snapshot(snaps, b, where)
    report = DiffReport(loc.name, _describe(snap_a), _describe(snap_b))
    with run_lock(ctx.state_dir, LOCK, "diff"), \
            private_staging(ctx.state_dir, STAGING) as staging:
        roots = [restore_export(restic, snap, staging / side,
                                "diff snapshots made by `vaultkeeper backup`")
                 for side, snap in (("a", snap_a), ("b", snap_b))]
        compare_exports(roots[0], roots[1], staging / "index.db", report, sample)
    return report


def _describe(snap: Any) -> dict[str, str]:
    key = snap.original or snap.id
    return {"snapshot_id": key, "short_id": key[:8], "time": snap.time.isoformat()}


def compare_exports(root_a: Path, root_b: Path, index_path: Path, report: DiffReport,
                    sample: int = 5) -> None:
    """Compare two export folders (restored snapshots) into ``report``."""
    fa, fb = ExportFolder(root_a, _manifest(root_a)), ExportFolder(root_b, _manifest(root_b))
    index = RecordIndex(index_path)
    try:
        objects_a, objects_b = fa.manifest.objects, fb.manifest.objects
        counts = compare_counts(fa.manifest.counts, fb.manifest.counts)
        for change in counts:
            shapes = []
            for side, folder in (("a", fa), ("b", fb)):
                shape = _index(index, side, folder, change.name) \
                    if change.name in folder.manifest.objects else None
                shapes.append(shape)
            shape = shapes[1] or shapes[0]
            assert shape is not None
            found = index.compare(change.name, sample)
            diff = ObjectDiff(change.name, change.before, change.after,
                              int(found["added"]), int(found["removed"]),
                              int(found["changed"]), int(found["unchanged"]),
                              list(found["added_ids"]), list(found["removed_ids"]),
                              keyed_by="id" if shape.id_field else "content")
            path_a = root_a / (objects_a[change.name].file if change.name in objects_a else "")
            path_b = root_b / (objects_b[change.name].file if change.name in objects_b else "")
            for rid, off_a, off_b in found["changed_offsets"]:
                diff.changes.append({"id": rid, "fields": field_changes(
                    shape, _line_at(path_a, off_a), _line_at(path_b, off_b))})
            report.objects.append(diff)
        rel_a, rel_b = fa.manifest.relations, fb.manifest.relations
        for c in compare_counts({n: e.count for n, e in rel_a.items()},
                                {n: e.count for n, e in rel_b.items()}):
            report.relations.append({"relation": c.name, "before": c.before, "after": c.after,
                                     "delta": c.delta})
        report.files = compare_files(root_a, root_b)
    finally:
        index.close()


def _manifest(root: Path) -> Manifest:
    return Manifest.parse((root / MANIFEST).read_bytes())


def _index(index: Any, side: str, folder: ExportFolder, name: str) -> ObjectShape:
    entry = folder.manifest.objects[name]
    path = folder.root / entry.file
    schema_bytes = folder.schema_bytes(name)
    schema = orjson.loads(schema_bytes) if schema_bytes is not None else None
    first = None
    if path.exists():
        with path.open("rb") as handle:
            line = handle.readline()
            first = orjson.loads(line) if line.strip() else None
    shape = shape_for(folder.manifest.connector, name, dict(entry.raw), schema,
                      first if isinstance(first, dict) else None)
    if not path.exists():
        index.add(side, name, [])
        return shape
    rows: list[tuple[str, bytes, int]] = []
    offset = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            body = line.rstrip(b"\n")
            digest = hashlib.sha256(body).digest()
            if shape.id_field is None:
                rid = digest.hex()
            else:
                try:
                    record = orjson.loads(body)
                except orjson.JSONDecodeError:
                    record = None
                rid = shape.record_id(record, number) if isinstance(record, dict) \
                    else f"#{number}"
            rows.append((rid, digest, offset))
            offset += len(line)
            if len(rows) >= BATCH:
                index.add(side, name, rows)
                rows = []
    index.add(side, name, rows)
    return shape


def _line_at(path: Path, offset: int) -> dict[str, Any]:
    with path.open("rb") as handle:
        handle.seek(offset)
        value = orjson.loads(handle.readline())
    return value if isinstance(value, dict) else {}


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > VALUE_CHARS:
        return value[:VALUE_CHARS] + "…"
    if isinstance(value, dict | list):
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        return text if len(text) <= VALUE_CHARS else text[:VALUE_CHARS] + "…"
    return value


def field_changes(shape: ObjectShape, before: dict[str, Any],
                  after: dict[str, Any]) -> list[dict[str, Any]]:
    """Fields whose value differs (flattened: HubSpot ``properties.X``), sorted by name."""
    fa, fb = shape.flatten(before), shape.flatten(after)
    missing = object()
    out = []
    for key in sorted(set(fa) | set(fb)):
        va, vb = fa.get(key, missing), fb.get(key, missing)
        if va != vb or type(va) is not type(vb):
            out.append({"field": key, "before": None if va is missing else _short(va),
                        "after": None if vb is missing else _short(vb)})
    return out
