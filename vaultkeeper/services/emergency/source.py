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
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from vaultkeeper import registry
from vaultkeeper.errors import VerificationError
from vaultkeeper.exportfmt import ExportFolder as Export
from vaultkeeper.exportfmt import iter_lines
from vaultkeeper.shapes import PackageColumn as Column
from vaultkeeper.shapes import PackageReader

_RESOURCE = re.compile(r"[^a-z0-9._-]+")

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

    def rows(self, start: int = 0, stop: int | None = None
             ) -> Iterator[tuple[dict[str, str], bool]]:
        """Each record as a flat row plus whether it is archived/deleted (``start``/``stop``:
        only the lines with these 0-based numbers, the others are skipped unparsed)."""
        reader = self.reader
        if not self.path.exists():
            return
        flatten, archived, columns = reader.flatten, reader.archived, self.archived_columns
        numbered = self.primary_key == ""
        # (a large buffer: a record line is kilobytes, the default would read every few lines)
        with self.path.open("rb", buffering=1 << 20) as handle:
            # The lines as ``exportfmt.iter_lines`` reads them, those before ``start`` skipped
            # at C speed; each keeps its newline, which JSON reads as the blank it is, so only
            # an empty line (a lone newline) is passed over, as there.
            for n, line in enumerate(islice(handle, start, stop), start + 1):
                if line == b"\n":
                    continue
                record = orjson.loads(line)
                row = flatten(record)
                if numbered:
                    row["_row"] = str(n)
                yield row, archived(record, row, columns)

    @property
    def reader(self) -> PackageReader:
        """How this object's vendor (its ``flavour``) is read, from the registry."""
        package = registry.reader_for(self.flavour).package
        assert package is not None, f"{self.flavour} has no package reader"
        return package

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
        self.export = Export(root)
        self.manifest = dict(self.export.manifest.raw)
        self.manifest_bytes = self.export.manifest.data
        connector = self.export.manifest.connector
        self.connector = connector
        flavour = registry.reader_for(connector).name
        self.objects: dict[str, ExportObject] = {}
        used: set[str] = set()
        for name in self.export.manifest.order:
            entry = self.export.manifest.objects[name]
            obj = ExportObject(name=name, resource=_unique(resource_name(name), used),
                               path=self.export.object_path(name), primary_key="",
                               count=entry.count, archived=entry.archived, flavour=flavour)
            _describe(obj, self._schema(name))
            self.objects[name] = obj
        self.relations: dict[str, ExportRelation] = {}
        for stem, rel in sorted(self.export.manifest.relations.items()):
            self.relations[stem] = ExportRelation(stem, rel.from_object, rel.to_object,
                                                  self.export.relation_path(stem), rel.count)

    def _schema(self, name: str) -> Any:
        data = self.export.schema_bytes(name)
        return None if data is None else orjson.loads(data)

    def check_files(self) -> list[str]:
        """Problems with the data files against the manifest (missing files)."""
        return self.export.missing_files()


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


def _describe(obj: ExportObject, schema: Any) -> None:
    """Columns (in the vendor's order) and the primary key from the stored schema."""
    described = obj.reader.describe(obj.name, schema)
    obj.primary_key = described.primary_key
    obj.archived_columns = described.archived_columns
    obj.columns = {c.name: c for c in described.columns}
