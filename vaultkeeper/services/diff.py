"""What changed between two snapshots, per object: records added, removed and changed (by CRM id
and per-record content hash), with a sample of field-level changes.

``compare_counts`` is the shared count comparison: the backup's mass-deletion guard, the drill's
``--against-source`` and ``diff`` all use it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from vaultkeeper.config import Settings
from vaultkeeper.errors import StorageError, UsageError
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

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        from dataclasses import asdict

        return asdict(self)


def diff_snapshots(settings: Settings, a: str, b: str, *, location: str | None = None,
                   sample: int = 5) -> DiffReport:
    """Restore snapshots ``a`` and ``b`` from one location and compare them record by record."""
    from vaultkeeper.restic import Restic, select_snapshot
    from vaultkeeper.services.backup import private_staging, run_lock
    from vaultkeeper.storage.locations import preflight, resolve_locations

    if settings.repository_password is None:
        raise StorageError("no repository password configured",
                           'set [repository] password = { file = "…" } (mode 0600)')
    locations = resolve_locations(settings)
    if location is not None:
        locations = [loc for loc in locations if loc.name == location]
        if not locations:
            raise UsageError(f"no location named {location!r}", "see `vaultkeeper status`")
    present = [loc for loc in locations if preflight(loc).present
               and preflight(loc).reachable is not False]
    if not present:
        raise StorageError("no location is reachable", "run `vaultkeeper locations check`")
    loc = present[0]
    restic = Restic(loc, settings.repository_password, cache_dir=settings.state_dir / "cache",
                    cwd=settings.base_dir)
    snaps = restic.snapshots()
    where = f"location {loc.name}"
    snap_a, snap_b = select_snapshot(snaps, a, where), select_snapshot(snaps, b, where)
    report = DiffReport(loc.name, _describe(snap_a), _describe(snap_b))
    with run_lock(settings.state_dir, LOCK, "diff"), \
            private_staging(settings.state_dir, STAGING) as staging:
        roots = []
        for side, snap in (("a", snap_a), ("b", snap_b)):
            target = staging / side
            target.mkdir(mode=0o700)
            restic.restore(snap.id, target)
            root = next((p.parent for p in sorted(target.rglob("manifest.json"),
                                                  key=lambda p: len(p.parts))), None)
            if root is None:
                raise UsageError(f"snapshot {snap.id[:8]} holds no manifest.json",
                                 "diff snapshots made by `vaultkeeper backup`")
            roots.append(root)
        compare_exports(roots[0], roots[1], staging / "index.db", report, sample)
    return report


def _describe(snap: Any) -> dict[str, str]:
    key = snap.original or snap.id
    return {"snapshot_id": key, "short_id": key[:8], "time": snap.time.isoformat()}


def compare_exports(root_a: Path, root_b: Path, index_path: Path, report: DiffReport,
                    sample: int = 5) -> None:
    """Compare two export folders (restored snapshots) into ``report``."""
    from vaultkeeper.db.diffindex import RecordIndex

    ma = orjson.loads((root_a / "manifest.json").read_bytes())
    mb = orjson.loads((root_b / "manifest.json").read_bytes())
    index = RecordIndex(index_path)
    try:
        objects_a, objects_b = ma.get("objects") or {}, mb.get("objects") or {}
        counts = compare_counts({n: e.get("count", 0) for n, e in objects_a.items()},
                                {n: e.get("count", 0) for n, e in objects_b.items()})
        for change in counts:
            shapes = []
            for side, root, manifest in (("a", root_a, ma), ("b", root_b, mb)):
                entry = (manifest.get("objects") or {}).get(change.name)
                shape = _index(index, side, root, manifest, change.name, entry) \
                    if entry is not None else None
                shapes.append(shape)
            shape = shapes[1] or shapes[0]
            assert shape is not None
            found = index.compare(change.name, sample)
            diff = ObjectDiff(change.name, change.before, change.after,
                              int(found["added"]), int(found["removed"]),
                              int(found["changed"]), int(found["unchanged"]),
                              list(found["added_ids"]), list(found["removed_ids"]),
                              keyed_by="id" if shape.id_field else "content")
            path_a = root_a / str(objects_a.get(change.name, {}).get("file", ""))
            path_b = root_b / str(objects_b.get(change.name, {}).get("file", ""))
            for rid, off_a, off_b in found["changed_offsets"]:
                diff.changes.append({"id": rid, "fields": field_changes(
                    shape, _line_at(path_a, off_a), _line_at(path_b, off_b))})
            report.objects.append(diff)
        rel_a, rel_b = ma.get("relations") or {}, mb.get("relations") or {}
        for c in compare_counts({n: e.get("count", 0) for n, e in rel_a.items()},
                                {n: e.get("count", 0) for n, e in rel_b.items()}):
            report.relations.append({"relation": c.name, "before": c.before, "after": c.after,
                                     "delta": c.delta})
    finally:
        index.close()


def _index(index: Any, side: str, root: Path, manifest: dict[str, Any], name: str,
           entry: dict[str, Any]) -> ObjectShape:
    path = root / str(entry.get("file") or f"objects/{name}.ndjson")
    schema = None
    schema_file = (entry.get("schema") or {}).get("file")
    if schema_file and (root / schema_file).exists():
        schema = orjson.loads((root / schema_file).read_bytes())
    first = None
    if path.exists():
        with path.open("rb") as handle:
            line = handle.readline()
            first = orjson.loads(line) if line.strip() else None
    connector = str((manifest.get("connector") or {}).get("name", ""))
    shape = shape_for(connector, name, entry, schema, first if isinstance(first, dict) else None)
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
