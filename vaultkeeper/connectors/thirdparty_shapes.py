"""How the long tail's records are read: archived rules, relation targets, and the mirror's and
the emergency package's reading of a stream from its stored schema (connectors/thirdparty.py
writes that schema: the stream's JSON schema, primary key, archived rule and relation map)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from vaultkeeper.digest import canonical_json
from vaultkeeper.shapes import (
    Column,
    Described,
    ObjectShape,
    PackageColumn,
    PackageReader,
    cells,
    getter,
    unique_columns,
)

ARCHIVED_FROM = "_archived_from"
"""Added to a record read from another stream's archived partner: that stream's name."""


def is_archived(data: Mapping[str, Any], rule: Mapping[str, Any]) -> bool:
    """Whether a record is archived/deleted by ``[source.archived]``'s rule for its stream."""
    if ARCHIVED_FROM in data:
        return True
    field = rule.get("field")
    if not field:
        return False
    value = _path(data, str(field))
    if "equals" in rule:
        return value == rule["equals"] or (value is not None and str(value) == str(
            rule["equals"]))
    return value is True or (isinstance(value, str) and value.strip().lower() in
                             ("true", "1", "yes", "deleted", "archived")) or value == 1


def _path(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def targets(data: Mapping[str, Any], path: str) -> Iterator[str]:
    """The ids a relation field holds: a scalar, ``{"value"|"id": …}``, or a list of those."""
    value = _path(data, path)
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, Mapping):
            item = item.get("value", item.get("id"))
        if item is not None and item != "" and not isinstance(item, bool | dict | list):
            yield str(item)


def _doc(schema: Any) -> dict[str, Any]:
    return schema if isinstance(schema, dict) else {}


def _rule_of(schema: Any) -> dict[str, Any]:
    rule = _doc(schema).get("archived")
    return dict(rule) if isinstance(rule, dict) else {}


def mirror_shape(name: str, schema: Any) -> ObjectShape | None:
    """The mirror's reading: the stream's JSON-schema properties as columns."""
    doc = _doc(schema)
    if "json_schema" not in doc:
        return None
    keys = doc.get("primary_key") or []
    props = list(_doc(doc["json_schema"]).get("properties") or {})
    columns = unique_columns([Column(str(p)) for p in props])
    rule = _rule_of(schema)
    return ObjectShape(name, keys[0] if len(keys) == 1 else None, columns,
                       getter([c.name for c in columns]), lambda r: is_archived(r, rule))


def _describe(name: str, schema: Any) -> Described:
    doc = _doc(schema)
    keys = doc.get("primary_key") or []
    props = _doc(_doc(doc.get("json_schema")).get("properties"))
    cols = [PackageColumn(str(p), vendor_type=_json_type(t)) for p, t in props.items()]
    key = keys[0] if len(keys) == 1 else ""
    if not key:
        cols.insert(0, PackageColumn("_row", "Row", "string", "Row number in the export"))
    return Described(key, cols, (canonical_json(_rule_of(schema)).decode(),))


def _json_type(prop: Any) -> str:
    types = _doc(prop).get("type")
    kinds = [t for t in (types if isinstance(types, list) else [types]) if t != "null"]
    kind = str(kinds[0]) if len(kinds) == 1 else "string"
    fmt = _doc(prop).get("format")
    return "datetime" if fmt == "date-time" else "date" if fmt == "date" else kind


def _package_archived(record: dict[str, Any], row: dict[str, str],
                      columns: tuple[str, ...]) -> bool:
    rule = orjson.loads(columns[0]) if columns else {}
    return is_archived(record, rule)


PACKAGE = PackageReader(_describe, cells,
                        _package_archived)
