"""The generic import files of an object (``import/generic/<Target>.csv``), written by pass 2."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from vaultkeeper.policies import MappingPolicy
from vaultkeeper.services.emergency.files import CsvOut
from vaultkeeper.services.emergency.source import ExportObject

if TYPE_CHECKING:
    from vaultkeeper.services.emergency.package import PackageBuilder


class GenericWriter:
    """``import/generic/<Target>.csv``: the object's columns renamed by policies/mappings.toml."""

    def __init__(self, b: PackageBuilder, obj: ExportObject, policy: MappingPolicy) -> None:
        spec = next((m for m in policy.objects if m.name == obj.name), None)
        renames = spec.fields if spec else {}
        name = (spec.target if spec else obj.name).replace("/", "-")
        cols = b.columns[obj.name]
        taken = {v.lower() for v in renames.values()}
        self.header = []
        for c in cols:   # distinct names, case ignored ("Website" and "website" collide)
            new = renames.get(c) or (c if c.lower() not in taken else f"{obj.name}.{c}")
            taken.add(new.lower())
            self.header.append(new)
        self.pairs = list(zip(cols, self.header, strict=True))
        # The legacy id of the first linked record of each relation from this object.
        self.links: list[tuple[str, str]] = []
        link_targets: dict[str, str] = {}
        relation_columns: dict[str, str] = {}
        for rel in b.folder.relations.values():
            if rel.from_object != obj.name or rel.to_object not in b.folder.objects:
                continue
            other = next((m for m in policy.objects if m.name == rel.to_object), None)
            column = f"{other.target if other else rel.to_object} Legacy ID"
            while column.lower() in taken:
                column = f"{rel.stem} Legacy ID" if column != f"{rel.stem} Legacy ID" \
                    else f"{column} 2"
            taken.add(column.lower())
            self.links.append((column, rel.stem))
            link_targets[column] = rel.to_object
            relation_columns[column] = rel.stem
        self.header += [c for c, _ in self.links]
        root = b.out / "import" / "generic"
        self.active = CsvOut(root / f"{name}.csv", self.header)
        self.archived = CsvOut(root / "archived" / f"{name}.csv", self.header, always=False)
        self.sample = CsvOut(b.out / "sample" / "import" / "generic" / f"{name}.csv", self.header,
                             always=False)
        self.b = b
        self.obj = obj
        self.paths = (f"import/generic/{name}.csv", f"import/generic/archived/{name}.csv")
        legacy = self.header[cols.index(obj.id_column)] if obj.id_column in cols else ""
        how = ("Generic CSV: columns named by policies/mappings.toml; match records on the "
               f"legacy id column {legacy!r}" + (f"; {', '.join(repr(c) for c, _ in self.links)}"
                                                 " hold the legacy ids of linked records"
                                                 if self.links else "") + ".")
        for path, held in zip(self.paths, ("", self.paths[0]), strict=True):
            b.placement.declare(path, object_=obj.name, entity="", role="primary",
                                legacy_column=legacy, links=link_targets, how=how,
                                held_back=held)
            b.placement.files[path]["relation_columns"] = relation_columns

    def write(self, row: dict[str, str], archived: bool, sampled: bool) -> str:
        """One record, renamed; archived records to the archived/ file. Returns the file."""
        renamed = {new: row.get(old, "") for old, new in self.pairs}
        if self.links:
            legacy = row.get(self.obj.id_column, "")
            for column, stem in self.links:
                renamed[column] = self.b.scratch.first_link(stem, legacy) or ""
        (self.archived if archived else self.active).write(renamed)
        if sampled and not archived:
            self.sample.write(renamed)
        return self.paths[1] if archived else self.paths[0]

    def close(self) -> None:
        """Close the files and count them for the runbook."""
        for out in (self.active, self.archived, self.sample):
            out.close()
        counts = self.b.entity_counts.setdefault(f"generic:{self.obj.name}", Counter())
        counts["active"] = self.active.rows
        counts["inactive"] = self.archived.rows
        self.b.generic_files[self.obj.name] = self.active.path.name
        if not self.archived.rows:
            self.b.placement.files.pop(self.paths[1], None)
