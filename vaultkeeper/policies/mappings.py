"""``policies/mappings.toml``: object and field renames of the generic import files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vaultkeeper.policies.common import as_table
from vaultkeeper.tomlcheck import Field, Origin, as_str, read_fields


@dataclass(frozen=True)
class ObjectMapping:
    """How one exported object is named in the target CRM, field by field."""

    name: str
    target: str
    fields: dict[str, str]


@dataclass(frozen=True)
class MappingPolicy:
    """The field mapping used by the emergency package."""

    target: str
    objects: tuple[ObjectMapping, ...]


def parse_mappings(doc: dict[str, Any], file: str) -> MappingPolicy:
    """``mappings.toml`` as a MappingPolicy."""
    top = read_fields(doc, {"target": Field(as_str, "generic CSV import"),
                            "objects": Field(as_table, None)}, Origin(file, ""))
    objects: list[ObjectMapping] = []
    for name, item in top.get("objects", {}).items():
        section = f"[objects.{name}]"
        values = read_fields(item, {"target": Field(as_str, "People"),
                                    "fields": Field(as_table, None)}, Origin(file, section))
        fields = values.get("fields", {})
        field_spec = {key: Field(as_str, "Column name") for key in fields}
        fields = read_fields(fields, field_spec, Origin(file, f"[objects.{name}.fields]"))
        objects.append(ObjectMapping(name=name, target=values.get("target", name),
                                     fields=fields))
    return MappingPolicy(target=top.get("target", "generic CSV import"), objects=tuple(objects))
