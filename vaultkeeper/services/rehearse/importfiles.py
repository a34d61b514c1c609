"""Does the package's own import folder (``import/<target>/``) carry what the rehearsal carried?

The rehearsal loads the canonical model; an administrator loads ``import/hubspot/*.csv`` or
``import/salesforce/*.csv``. For every field the rehearsal mapping puts in a typed home of the
vendor (``prop:``/``link:``) and every record, the matching import file must have a column and
a row: a missing column or row is a loss the administrator's import would suffer. Values the
import file deliberately changes (invalid e-mails left empty, partial dates dropped — listed in
the quality report) are counted, not failed.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultkeeper import registry
from vaultkeeper.canonical import ENTITIES
from vaultkeeper.services.emergency.targets import import_files
from vaultkeeper.services.rehearse.model import PackageData, TargetMapping, entity_fields
from vaultkeeper.services.rehearse.reconcile import normalise


@dataclass
class FileCheck:
    """One entity's import file against the canonical rows."""

    entity: str
    file: str
    rows: int = 0
    missing_rows: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)
    changed: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The report's shape."""
        return {"file": self.file, "rows": self.rows, "missing_rows": self.missing_rows[:20],
                "missing_row_count": len(self.missing_rows),
                "missing_columns": self.missing_columns, "changed_values": self.changed}


def _column_of(columns: tuple[tuple[str, str], ...], name: str) -> str | None:
    for column, source in columns:
        base = source.split("|", 1)[0]
        if base == name or (name == "email" and source == "@valid_email"):
            return column
    return None


def _read(path: Path, key: str) -> dict[str, dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    out: dict[str, dict[str, str]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row.get(key, ""), row)
    return out


def read_rows(pkg: PackageData, kind: str, spec: Any) -> dict[str, dict[str, str]]:
    """The rows of one import file and its ``inactive/`` twin, by the record's legacy id."""
    key = _column_of(spec.columns, "legacy_id") or ""
    found: dict[str, dict[str, str]] = {}
    for path in sorted((pkg.root / "import" / kind).rglob(spec.name)):
        found.update(_read(path, key))
    return found


def check_import_files(pkg: PackageData, kind: str,
                       mapping: TargetMapping) -> list[FileCheck] | None:
    """Per entity, what its import file lacks; None when the package has no such folder."""
    folder = pkg.root / "import" / kind
    if kind not in registry.import_targets() or not folder.is_dir():
        return None
    out = []
    for spec in import_files(kind):
        rows = pkg.rows.get(spec.entity, {})
        if not rows:
            continue
        check = FileCheck(spec.entity, f"import/{kind}/{spec.name}")
        found = read_rows(pkg, kind, spec)
        check.rows = len(found)
        check.missing_rows = [legacy for legacy in rows if legacy not in found]
        kinds = {n: t for n, (t, _d) in ENTITIES[spec.entity].items()}
        for name in ("legacy_id", *entity_fields(spec.entity)):
            dest = mapping.dest(spec.entity, name) or ""
            if not dest.startswith(("prop:", "link:")):
                continue
            column = _column_of(spec.columns, name)
            if column is None:
                check.missing_columns.append(name)
                continue
            kind_of = "ref" if kinds.get(name, "").startswith("ref") else kinds.get(name, "")
            changed = sum(1 for legacy, row in rows.items() if row.get(name)
                          and legacy in found and normalise(kind_of, row[name])
                          != normalise(kind_of, found[legacy].get(column, "")))
            if changed:
                check.changed[name] = changed
        out.append(check)
    return out


def losses(checks: list[FileCheck]) -> list[str]:
    """One line per missing column or missing rows (these fail the rehearsal)."""
    lines = []
    for c in checks:
        for name in c.missing_columns:
            lines.append(f"{c.file}: no column for {c.entity}.{name}, which the rehearsal "
                         "carried: an import of the package would lose it")
        if c.missing_rows:
            lines.append(f"{c.file}: {len(c.missing_rows)} {c.entity} records are in no row "
                         f"(first: {', '.join(c.missing_rows[:3])})")
    return lines
