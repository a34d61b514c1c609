"""HubSpot through its CSV imports API: the package's own ``import/hubspot/*.csv`` files, as an
administrator imports them (custom properties created first, one import per file in the
runbook's order, association columns matched on the legacy-id property), then exported back
with vaultkeeper's reader.

The mapping says which HubSpot property each canonical field's column goes to (``prop:``),
which link columns associate (``link:OBJECT``: matched on that object's legacy-id property),
that a membership updates its person's contact (``same``), or why a field is not imported
(``none:why``). A field it leaves out is not imported and the rehearsal names it as lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from vaultkeeper import registry
from vaultkeeper.canonical import ENTITIES
from vaultkeeper.connectors.hs_rehearsal import IMPORT_MAPPING
from vaultkeeper.connectors.hubspot_imports import HubSpotImports, ImportFile
from vaultkeeper.connectors.writer import LEGACY_ID_PROPERTY
from vaultkeeper.services.emergency.targets import import_files
from vaultkeeper.services.rehearse.importfiles import read_rows
from vaultkeeper.services.rehearse.model import (
    LoadStats,
    PackageData,
    TargetMapping,
    entity_fields,
)

_TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "notes": "0-46"}
LEGACY = LEGACY_ID_PROPERTY
DEFAULT_MAPPING = IMPORT_MAPPING
"""The built-in mapping of ``--via import``: the vendor's own (connectors/hs_rehearsal.py)."""


def source_field(source: str) -> str:
    """The canonical field an import column carries (``birth_date|date`` → birth_date)."""
    if source == "@valid_email":
        return "email"
    return "" if source.startswith(("@", "=")) else source.split("|", 1)[0]


def column_mappings(kind: str, entity: str, mapping: TargetMapping
                    ) -> tuple[list[dict[str, Any]], str]:
    """HubSpot ``columnMappings`` for the entity's import file, and the operation."""
    spec = next(s for s in import_files(kind) if s.entity == entity)
    own = _TYPE_IDS[registry.rehearsal(kind).objects[entity]]
    out: list[dict[str, Any]] = []
    operation = "CREATE"
    for column, source in spec.columns:
        name = source_field(source)
        dest = mapping.dest(entity, name) or "" if name else ""
        if dest.startswith("prop:"):
            out.append({"columnObjectTypeId": own, "columnName": column,
                        "propertyName": dest[5:]})
        elif dest.startswith("link:"):
            other = dest.split(":")[1]
            out.append({"columnObjectTypeId": _TYPE_IDS.get(other, other),
                        "columnName": column, "propertyName": LEGACY,
                        "idColumnType": "HUBSPOT_ALTERNATE_ID"})
        elif dest == "same":   # the row updates the person's contact, found by its legacy id
            out.insert(0, {"columnObjectTypeId": own, "columnName": column,
                           "propertyName": LEGACY, "idColumnType": "HUBSPOT_ALTERNATE_ID"})
            operation = "UPDATE"
    return out, operation


def load_by_csv(kind: str, imports: HubSpotImports, writer: Any, pkg: PackageData,
                mapping: TargetMapping, progress: Callable[[str, int], None]) -> LoadStats:
    """Create the custom properties, then import each file of ``import/<kind>/``."""
    stats = LoadStats()
    folder = pkg.root / "import" / kind
    objects = registry.rehearsal(kind).objects
    for obj in sorted(set(objects.values())):
        have = set(writer.writable_fields(obj).createable)
        wanted = {d[5:] for e, o in objects.items() if o == obj
                  for d in mapping.fields.get(e, {}).values() if d.startswith("prop:")}
        for name in sorted(wanted - have):
            writer.ensure_legacy_id_property(obj, name)
    for spec in import_files(kind):
        entity = spec.entity
        stats.sent[entity] = len(pkg.rows.get(entity, {}))
        paths = sorted(folder.rglob(spec.name))
        if not paths:
            continue
        mappings, operation = column_mappings(kind, entity, mapping)
        files = [ImportFile(f"{p.parent.name}-{p.name}" if p.parent != folder else p.name,
                            p.read_bytes(), mappings) for p in paths]
        result = imports.run(f"rehearsal {spec.name}",
                             files, {_TYPE_IDS[objects[entity]]: operation})
        kinds: dict[str, int] = {}
        for err in result.errors:
            key = f"{err.get('errorType', '?')} {err.get('propertyName', '')}".strip()
            kinds[key] = kinds.get(key, 0) + 1
        for key, n in sorted(kinds.items()):
            stats.notes.append(f"{spec.name}: HubSpot reported {n} × {key}")
        progress(entity, result.counters.get("TOTAL_ROWS", 0))
        time.sleep(0)   # imports are sequential, in the runbook's order
    return stats


def file_expectations(kind: str, pkg: PackageData, mapping: TargetMapping) -> PackageData:
    """The package as the import files state it: a value the file changes on purpose (an
    invalid e-mail left empty, a partial date dropped) is expected as the file has it."""
    rows: dict[str, dict[str, dict[str, str]]] = {}
    for spec in import_files(kind):
        found = read_rows(pkg, kind, spec)
        # Only columns the file fills by a rule of its format (a filter, valid e-mails only):
        # a plain column must hold the canonical value, or the rehearsal fails.
        columns = {source_field(src): col for col, src in reversed(spec.columns)
                   if source_field(src) and src != source_field(src)}
        current = pkg.rows.get(spec.entity, {})
        rows[spec.entity] = {}
        for legacy, row in current.items():
            file_row = found.get(legacy)
            if file_row is None:
                rows[spec.entity][legacy] = row
                continue
            adjusted = dict(row)
            for name in entity_fields(spec.entity):
                dest = mapping.dest(spec.entity, name) or ""
                if name in columns and dest.startswith("prop:") and \
                        ENTITIES[spec.entity].get(name, ("",))[0] != "ref":
                    adjusted[name] = file_row.get(columns[name], "")
            rows[spec.entity][legacy] = adjusted
    return PackageData(pkg.root, rows, pkg.extras, pkg.relations)
