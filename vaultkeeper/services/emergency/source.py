"""Reading an export folder as flat rows: one string per column, the legacy id first.

Exports keep the vendor's JSON whole (HubSpot nests values under ``properties``, Salesforce has
``attributes`` and compound address fields, CSV sources are flat already). Here each record
becomes a flat ``{column: text}`` row: ``None`` is the empty string, booleans are ``true`` /
``false``, nested values are canonical JSON, so nothing is lost in a CSV cell.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from vaultkeeper.connectors.csv_detect import find_primary_key, is_truthy
from vaultkeeper.digest import canonical_json
from vaultkeeper.errors import VerificationError
from vaultkeeper.services.export import MANIFEST, iter_lines, read_manifest

_HUBSPOT_TOP = ("createdAt", "updatedAt", "archived", "archivedAt")
_RESOURCE = re.compile(r"[^a-z0-9._-]+")

# Vendor types → the Frictionless type a column gets when every value conforms.
_TYPES = {
    "number": "number", "double": "number", "currency": "number", "percent": "number",
    "int": "number", "long": "number", "bool": "boolean", "boolean": "boolean", "date": "date",
    "datetime": "datetime",
}


@dataclass(frozen=True)
class Column:
    """One column of an object's CSV."""

    name: str
    label: str = ""
    vendor_type: str = "string"
    description: str = ""

    @property
    def candidate_type(self) -> str:
        """The Frictionless type the vendor declares (kept only if every value conforms)."""
        return _TYPES.get(self.vendor_type, "string")


@dataclass
class ExportObject:
    """One object of the export: where its records are and how to flatten them."""

    name: str
    resource: str
    path: Path
    primary_key: str
    count: int
    archived: int
    flavour: str
    columns: dict[str, Column] = field(default_factory=dict)
    archived_columns: tuple[str, ...] = ()

    def rows(self) -> Iterator[tuple[dict[str, str], bool]]:
        """Each record as a flat row plus whether it is archived/deleted."""
        flatten = {"hubspot": _flat_hubspot, "salesforce": _flat_salesforce}.get(
            self.flavour, _flat_plain)
        if not self.path.exists():
            return
        for n, line in enumerate(iter_lines(self.path), 1):
            if not line:
                continue
            record = orjson.loads(line)
            row = flatten(record)
            if self.primary_key == "":
                row["_row"] = str(n)
            yield row, self._archived(record, row)

    def _archived(self, record: dict[str, Any], row: dict[str, str]) -> bool:
        if self.flavour == "hubspot":
            return bool(record.get("archived"))
        if self.flavour == "salesforce":
            return bool(record.get("IsDeleted"))
        return any(is_truthy(row.get(c, "")) for c in self.archived_columns)

    @property
    def id_column(self) -> str:
        """The column holding the legacy id (``_row`` when the source had no id column)."""
        return self.primary_key or "_row"


@dataclass(frozen=True)
class ExportRelation:
    """One relation file: ``<from>__<to>``."""

    stem: str
    from_object: str
    to_object: str
    path: Path
    count: int

    def pairs(self) -> Iterator[tuple[str, str, str]]:
        """(from id, to id, type) of every relation line."""
        if not self.path.exists():
            return
        for line in iter_lines(self.path):
            if line:
                item = orjson.loads(line)
                yield str(item["from_id"]), str(item["to_id"]), str(item.get("type") or "")


class ExportFolder:
    """An export folder (manifest.json, objects/, relations/, schema/) opened for reading."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest = read_manifest(root)
        self.manifest_bytes = (root / MANIFEST).read_bytes()
        connector = str(self.manifest.get("connector", {}).get("name", ""))
        self.connector = connector
        flavour = connector if connector in ("hubspot", "salesforce") else "csv"
        self.objects: dict[str, ExportObject] = {}
        used: set[str] = set()
        for name in self.manifest.get("order") or list(self.manifest["objects"]):
            entry = self.manifest["objects"][name]
            schema = self._schema(entry)
            obj = ExportObject(name=name, resource=_unique(resource_name(name), used),
                               path=root / entry["file"], primary_key="",
                               count=int(entry["count"]), archived=int(entry.get("archived", 0)),
                               flavour=flavour)
            _describe(obj, schema)
            self.objects[name] = obj
        self.relations: dict[str, ExportRelation] = {}
        for stem, entry in sorted(self.manifest.get("relations", {}).items()):
            a, _, b = stem.partition("__")
            self.relations[stem] = ExportRelation(stem, a, b, root / entry["path"],
                                                  int(entry["count"]))

    def _schema(self, entry: dict[str, Any]) -> Any:
        schema = entry.get("schema") or {}
        path = self.root / schema.get("file", "")
        if not schema.get("file") or not path.is_file():
            return None
        return orjson.loads(path.read_bytes())

    def check_files(self) -> list[str]:
        """Problems with the data files against the manifest (missing files)."""
        problems = [f"{o.path.relative_to(self.root)} is missing" for o in self.objects.values()
                    if o.count and not o.path.exists()]
        problems += [f"{r.path.relative_to(self.root)} is missing"
                     for r in self.relations.values() if r.count and not r.path.exists()]
        return problems


def open_export(root: Path) -> ExportFolder:
    """Open an export folder; refuse one whose data files are missing."""
    folder = ExportFolder(root)
    problems = folder.check_files()
    if problems:
        raise VerificationError(f"the export in {root} is damaged: {'; '.join(problems[:3])}",
                                "use another snapshot (--from SNAPSHOT)")
    return folder


def resource_name(name: str) -> str:
    """A Frictionless resource name: lower-case letters, digits, ``.``, ``-``, ``_``."""
    return _RESOURCE.sub("-", name.lower()).strip("-") or "object"


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name}-{n}"
    used.add(candidate)
    return candidate


def cell(value: Any) -> str:
    """One JSON value as CSV text: None → '', booleans true/false, nested → canonical JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return canonical_json(value).decode()


def _flat_hubspot(record: dict[str, Any]) -> dict[str, str]:
    row = {"id": cell(record.get("id"))}
    props = record.get("properties") or {}
    if "id" in props:
        for key, value in props.items():
            row[key if key != "id" else "properties.id"] = cell(value)
    else:   # the common case: text values copied as they are, the rest through cell()
        row.update({k: v if type(v) is str else cell(v) for k, v in props.items()})
    for key, value in record.items():
        if key in ("id", "properties"):
            continue
        row[key if key not in row else f"_{key}"] = cell(value)
    return row


def _flat_salesforce(record: dict[str, Any]) -> dict[str, str]:
    return {k: v if type(v) is str else cell(v) for k, v in record.items()
            if k != "attributes"}


def _flat_plain(record: dict[str, Any]) -> dict[str, str]:
    return {k: v if type(v) is str else cell(v) for k, v in record.items()}


def _describe(obj: ExportObject, schema: Any) -> None:
    """Columns (in the vendor's order) and the primary key from the stored schema."""
    cols: list[Column] = []
    if obj.flavour == "hubspot":
        obj.primary_key = "id"
        cols.append(Column("id", "Record ID", "string", "HubSpot record id (legacy id)"))
        for prop in (schema or {}).get("results", []):
            label = str(prop.get("label") or "")
            text = str(prop.get("description") or "")
            options = [str(o.get("value")) for o in prop.get("options") or []][:20]
            if options:
                text = (text + " " if text else "") + "Options: " + ", ".join(options)
            cols.append(Column(str(prop["name"]), label, str(prop.get("type") or "string"),
                               text))
        for key in _HUBSPOT_TOP:
            kind = "bool" if key == "archived" else "datetime"
            cols.append(Column(key, key, kind, "Record metadata from the HubSpot API"))
    elif obj.flavour == "salesforce":
        obj.primary_key = "Id"
        for f in (schema or {}).get("fields", []):
            kind = str(f.get("type") or "string")
            if kind in ("address", "location"):
                kind = "json"
            cols.append(Column(str(f["name"]), str(f.get("label") or ""), kind,
                               str(f.get("inlineHelpText") or "")))
    else:
        names = [str(c) for c in (schema or {}).get("columns", [])]
        obj.primary_key = find_primary_key(names, obj.name) if names else ""
        obj.archived_columns = tuple((schema or {}).get("archived_columns", []))
        if not obj.primary_key:
            cols.append(Column("_row", "Row", "string", "Row number in the export (the source "
                                                         "had no id column)"))
        cols += [Column(n) for n in names]
    obj.columns = {c.name: c for c in cols}
