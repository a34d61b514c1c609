"""Where every exported record went: one import file, or a listed gap with its reason.

While the package is built, ``Placement`` records for each record of each object the import
file that holds it (``place``) or why none does (``gap``); the id-map files carry the same per
record (``import_file`` / ``gap`` columns). ``check_placement`` proves it afterwards without
holding ids in memory: an order-independent multiset hash (sum of 64-bit BLAKE2b digests) of
the legacy ids of each object's CSV, of each import file's legacy column and of the id-map rows
must agree, so a record missing from every file, or in two, is found.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_MASK = (1 << 64) - 1
IDMAP_HEADER = ("object", "legacy_id", "archived", "import_file", "gap", "new_id")


def _digest(value: str) -> int:
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "big")


@dataclass
class IdHash:
    """A multiset of ids as (count, sum of digests mod 2^64): equal sets give equal hashes."""

    count: int = 0
    total: int = 0

    def add(self, value: str) -> None:
        """Add one id."""
        self.count += 1
        self.total = (self.total + _digest(value)) & _MASK

    def as_json(self) -> list[int]:
        """``[count, sum]``."""
        return [self.count, self.total]


@dataclass
class ObjectPlacement:
    """One object's records: rows per import file and per gap reason."""

    records: int = 0
    files: Counter[str] = field(default_factory=Counter)
    gaps: Counter[str] = field(default_factory=Counter)


@dataclass
class Placement:
    """The build-side log of placements (see the module docstring)."""

    objects: dict[str, ObjectPlacement] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    """import file (package-relative) → object, entity, role, legacy column, links."""

    def declare(self, path: str, *, object_: str, entity: str, role: str, legacy_column: str,
                links: dict[str, str] | None = None, how: str = "",
                held_back: str = "") -> None:
        """An import file: ``role`` primary (places records), derived or associations;
        ``held_back``: the main file whose archived/inactive rows this one holds."""
        if path in self.files:
            return
        self.files[path] = {"object": object_, "entity": entity, "role": role,
                            "legacy_column": legacy_column, "links": links or {}, "how": how,
                            "held_back": held_back, "rows": 0}

    def place(self, object_: str, path: str) -> None:
        """One record of ``object_`` written to the primary import file ``path``."""
        entry = self.objects.get(object_) or self._new(object_)
        entry.records += 1
        entry.files[path] += 1
        self.files[path]["rows"] += 1

    def gap(self, object_: str, reason: str) -> None:
        """One record of ``object_`` that no import file holds, and why."""
        entry = self.objects.get(object_) or self._new(object_)
        entry.records += 1
        entry.gaps[reason] += 1

    def _new(self, object_: str) -> ObjectPlacement:
        # (not ``setdefault``: that builds an entry and its two Counters for every record)
        entry = self.objects[object_] = ObjectPlacement()
        return entry

    def count_rows(self, path: str, rows: int) -> None:
        """Rows of a derived or associations file."""
        self.files[path]["rows"] = rows

    def gap_total(self) -> int:
        """Records in no import file."""
        return sum(sum(p.gaps.values()) for p in self.objects.values())

    def as_json(self) -> dict[str, Any]:
        """For package.json, the runbook and ``--json``."""
        return {"objects": {name: {"records": p.records, "files": dict(p.files),
                                   "gaps": dict(p.gaps)} for name, p in self.objects.items()},
                "import_files": self.files,
                "gaps": [{"object": name, "reason": reason, "records": n}
                         for name, p in self.objects.items() for reason, n in p.gaps.items()],
                "gap_records": self.gap_total()}


# ------------------------------------------------------------------------ verification
def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(fh)


def _column(path: Path, column: str) -> IdHash:
    out = IdHash()
    for row in _rows(path):
        out.add(row.get(column) or "")
    return out


def check_placement(root: Path, manifest: dict[str, Any]) -> list[str]:
    """Problems: a record neither placed nor listed, or the files disagreeing with the log."""
    placement = manifest.get("placement")
    if not placement:
        return ["package.json has no placement section (built by an older vaultkeeper)"]
    problems: list[str] = []
    files = placement.get("import_files", {})
    for name, obj in manifest.get("objects", {}).items():
        idmap = root / "import" / "id-map" / f"{obj['resource']}.csv"
        data = root / obj["file"]
        if not idmap.is_file() or not data.is_file():
            problems.append(f"{idmap.relative_to(root)}: missing")
            continue
        everything, per_file = IdHash(), dict[str, IdHash]()
        gaps: Counter[str] = Counter()
        unplaced: list[str] = []
        for row in _rows(idmap):
            legacy = row.get("legacy_id") or ""
            everything.add(legacy)
            where, gap = row.get("import_file") or "", row.get("gap") or ""
            if bool(where) == bool(gap):
                unplaced.append(legacy)
            elif where:
                per_file.setdefault(where, IdHash()).add(legacy)
            else:
                gaps[gap] += 1
        if unplaced:
            problems.append(f"{name}: {len(unplaced)} record(s) neither placed in an import "
                            f"file nor listed as a gap (first: {', '.join(unplaced[:3])})")
        with data.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            exported = IdHash()
            for values in reader:
                exported.add(values[0] if values else "")
        if exported != everything:
            problems.append(f"import/id-map/{obj['resource']}.csv: {everything.count} ids that "
                            f"are not the {exported.count} records of {obj['file']}")
        listed = placement.get("objects", {}).get(name, {})
        if dict(gaps) != listed.get("gaps", {}):
            problems.append(f"{name}: the gaps in the id-map ({dict(gaps)}) differ from "
                            f"package.json ({listed.get('gaps', {})})")
        for path, ids in per_file.items():
            spec = files.get(path)
            if spec is None or not (root / path).is_file():
                problems.append(f"{name}: {ids.count} record(s) placed in {path}, which is "
                                "not in the package")
                continue
            found = _column(root / path, spec["legacy_column"])
            if found != ids:
                problems.append(f"{path}: its {spec['legacy_column']!r} column holds "
                                f"{found.count} ids, not the {ids.count} records of {name} "
                                "the id-map places there")
    for path, spec in files.items():
        if spec.get("role") == "primary" and not any(
                path in p.get("files", {}) for p in placement.get("objects", {}).values()) \
                and spec.get("rows"):
            problems.append(f"{path}: holds rows but no record is placed there")
    return problems
