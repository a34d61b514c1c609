"""The Frictionless Data Package descriptor (``datapackage.json``) of a package and of its
sample, and its validation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vaultkeeper.canonical import ENTITIES, EntityMapping
from vaultkeeper.services.emergency.source import Column, resource_name

if TYPE_CHECKING:
    from vaultkeeper.services.emergency.package import PackageBuilder


def _field(col: Column, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": col.name, "type": kind}
    if col.label and col.label != col.name:
        out["title"] = col.label
    text = col.description
    if col.vendor_type and col.vendor_type != "string":
        declared = f"vendor type: {col.vendor_type}"
        if kind == "string" and col.candidate_type != "string":
            declared += " (kept as text: some values do not conform)"
        text = f"{text} ({declared})" if text else declared.capitalize()
    if text:
        out["description"] = text
    if kind == "boolean":
        out["trueValues"] = ["true"]
        out["falseValues"] = ["false"]
    return out


def descriptor(b: PackageBuilder, *, sample: bool) -> dict[str, Any]:
    """The Frictionless Data Package descriptor of the package (or of its sample)."""
    resources: list[dict[str, Any]] = []
    for obj in b.folder.objects.values():
        types = b.types[obj.name]
        schema: dict[str, Any] = {"fields": [_field(obj.columns[c], types[c])
                                             for c in b.columns[obj.name]]}
        if b.unique_ids[obj.name]:
            schema["primaryKey"] = [obj.id_column]
        resources.append(_resource(obj.resource, f"data/objects/{obj.resource}.csv", schema,
                                   f"{obj.name}: every exported record (archived included), "
                                   f"values exactly as the vendor returned them; legacy id in "
                                   f"{obj.id_column}"))
    for rel in b.folder.relations.values():
        schema = {"fields": [
            {"name": "from_id", "type": "string",
             "description": f"Legacy id in {rel.from_object}"},
            {"name": "to_id", "type": "string", "description": f"Legacy id in {rel.to_object}"},
            {"name": "type", "type": "string", "description": "Association type"}],
            "foreignKeys": []}
        for col, obj_name in (("from_id", rel.from_object), ("to_id", rel.to_object)):
            ref = b.folder.objects.get(obj_name)
            if ref is not None and b.unique_ids[obj_name]:
                schema["foreignKeys"].append({"fields": [col], "reference": {
                    "resource": ref.resource, "fields": [ref.id_column]}})
        name = resource_name(rel.stem)
        resources.append(_resource(name, f"data/relations/{name}.csv", schema,
                                   f"Relation {rel.from_object} → {rel.to_object}"))
    if not sample:
        resources += _canonical_resources(b)
    return {"profile": "tabular-data-package",
            "name": "vaultkeeper-emergency-sample" if sample else "vaultkeeper-emergency",
            "title": "CRM emergency exit package" + (" (sample)" if sample else ""),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "description": "Every object of the CRM as UTF-8 CSV with its legacy id as primary key"
                           ", relations as foreign keys, and the canonical model. "
                           + ("A ~10 % sample with relations kept consistent." if sample else
                              "See RUNBOOK.md."),
            "resources": resources}


def _resource(name: str, path: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "path": path, "profile": "tabular-data-resource", "format": "csv",
            "mediatype": "text/csv", "encoding": "utf-8", "description": description,
            "schema": schema}


def _canonical_resources(b: PackageBuilder) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for em in b.mapping:
        fields: list[dict[str, Any]] = [{"name": "legacy_id", "type": "string",
                                         "description": f"Legacy id of the {em.object} record"}]
        src_types = b.types[em.object]
        fks = []
        for fname, (kind, text) in ENTITIES[em.entity].items():
            src = em.fields.get(fname)
            source_note = f"from {em.object}.{src.describe()}" if src else "not mapped (empty)"
            ftype = "string"
            if kind in ("number", "boolean") and src is not None and src.kind == "field" and \
                    src_types.get(src.name) == kind:
                ftype = kind
            spec: dict[str, Any] = {"name": fname, "type": ftype,
                                    "description": f"{text}; {source_note}"}
            if ftype == "boolean":
                spec |= {"trueValues": ["true"], "falseValues": ["false"]}
            fields.append(spec)
            target = kind[4:] if kind.startswith("ref:") else ""
            if target and src is not None and not b.dangling_refs.get(f"{em.entity}.{fname}") \
                    and any(e.entity == target for e in b.mapping):
                fks.append({"fields": [fname], "reference": {"resource": f"canonical-{target}",
                                                             "fields": ["legacy_id"]}})
        fields += [{"name": "archived", "type": "boolean", "trueValues": ["true"],
                    "falseValues": ["false"], "description": "Archived/deleted in the old CRM"},
                   {"name": "inactive", "type": "boolean", "trueValues": ["true"],
                    "falseValues": ["false"], "description": "Inactive by the mapping's "
                                                            "`inactive` rule"}]
        schema: dict[str, Any] = {"fields": fields, "foreignKeys": fks}
        if b.unique_ids[em.object]:
            schema["primaryKey"] = ["legacy_id"]
        out.append(_resource(f"canonical-{em.entity}", f"canonical/{em.entity}.csv", schema,
                             f"Canonical {em.entity} rows from {em.object}"))
        extra_fields = [{"name": "legacy_id", "type": "string"}] + [
            {"name": c, "type": "string"} for c in _extra_cols(b, em)]
        extra_schema: dict[str, Any] = {"fields": extra_fields}
        if b.unique_ids[em.object]:
            extra_schema["foreignKeys"] = [{"fields": ["legacy_id"], "reference": {
                "resource": f"canonical-{em.entity}", "fields": ["legacy_id"]}}]
        out.append(_resource(f"canonical-{em.entity}-extra", f"canonical/{em.entity}.extra.csv",
                             extra_schema, f"Fields of {em.object} that the mapping does not "
                                           f"cover, for every {em.entity} row"))
    return out


def _extra_cols(b: PackageBuilder, em: EntityMapping) -> list[str]:
    used = em.source_fields() | {b.folder.objects[em.object].id_column}
    return [c for c in b.columns[em.object] if c not in used and
            b.log.profiles[em.object].filled[c]]


def validate_descriptor(root: Path, name: str = "datapackage.json") -> list[str]:
    """Frictionless validation of a package folder: one line per error (first 50)."""
    # Lazy: frictionless is heavy and needed only to validate a descriptor.
    from frictionless import Package, system

    with system.use_context(trusted=True):
        report = Package(str(root.resolve() / name)).validate()
    if report.valid:
        return []
    lines = []
    for task in report.tasks:
        for error in task.errors[:10]:
            where = task.name or task.place
            lines.append(f"{where}: {error.type}: {error.note or error.message}")
    for error in report.errors[:10]:
        lines.append(f"datapackage.json: {error.type}: {error.message}")
    return lines[:50]
