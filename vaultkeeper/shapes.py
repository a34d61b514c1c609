"""How to read one object's records, for the mirror (db/mirror.py, diff) and for the emergency
package (services/emergency/source.py): the types both readings are made of, and the generic
reading of a source no vendor claims.

Each vendor's own reading lives in its module and is found through ``vaultkeeper.registry``
(``SourceKind.mirror_shape`` and ``SourceKind.package``). HubSpot: ``id``, ``archived``,
top-level ``createdAt``/``updatedAt``/``archivedAt``, then one column per property of the schema
(``properties.X`` → ``X``). Salesforce: ``Id``, ``IsDeleted``, one column per describe field
(``Id`` itself is skipped: it collides with ``id``). CSV and anything else: the manifest's
``primary_key`` (if any) and the record's own keys. A column whose name collides
case-insensitively with an earlier one is skipped; the value stays in ``_raw``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from vaultkeeper import registry
from vaultkeeper.digest import canonical_json

RESERVED = ("id", "_archived", "_raw")
_TRUTHY = {"true", "1", "yes", "y"}

# Vendor types → the Frictionless type a package column gets when every value conforms.
_PACKAGE_TYPES = {
    "number": "number", "double": "number", "currency": "number", "percent": "number",
    "int": "number", "long": "number", "bool": "boolean", "boolean": "boolean", "date": "date",
    "datetime": "datetime",
}

# Objects whose people/organisation fields go into the full-text index, by lower-case name.
PEOPLE = {"contacts", "contact", "lead", "leads", "people", "persons", "members", "member"}
ORGANISATIONS = {"companies", "company", "account", "accounts", "organisations",
                 "organizations", "organisation", "organization"}
_NAME = ("name", "full_name", "fullname", "display_name")
_FIRST = ("firstname", "first_name", "givenname", "given_name")
_LAST = ("lastname", "last_name", "surname", "familyname", "family_name")
_EMAIL = ("email", "e_mail", "emailaddress", "email_address", "mail")
_CITY = ("city", "mailingcity", "billingcity", "town", "address_city")


@dataclass(frozen=True)
class Column:
    """One typed column of a mirror table."""

    name: str
    type: str = "TEXT"


@dataclass
class ObjectShape:
    """What the mirror and diff need to know about one object's records."""

    name: str
    id_field: str | None
    columns: list[Column]
    extract: Callable[[dict[str, Any]], tuple[Any, ...]]
    archived: Callable[[dict[str, Any]], bool]
    flatten: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda r: r)

    def record_id(self, record: dict[str, Any], line_number: int) -> str:
        """The CRM id, or ``#<line>`` for objects without one (CSV files without an id)."""
        if self.id_field is not None:
            value = record.get(self.id_field)
            if value is not None and value != "":
                return str(value)
        return f"#{line_number}"


def getter(names: Sequence[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A fast tuple of ``names`` from a dict (C-level itemgetter), tolerant of missing keys."""
    names = tuple(names)
    if not names:
        return lambda d: ()
    fast = itemgetter(*names)
    single = len(names) == 1

    def get(d: dict[str, Any]) -> tuple[Any, ...]:
        try:
            value = fast(d)
            return (value,) if single else value
        except (KeyError, TypeError):
            if not isinstance(d, dict):
                return (None,) * len(names)
            return tuple(d.get(k) for k in names)

    return get


def unique_columns(candidates: Sequence[Column]) -> list[Column]:
    """The columns in order, without reserved names, empty names and case-insensitive repeats."""
    seen = {r.lower() for r in RESERVED}
    out = []
    for col in candidates:
        key = col.name.lower()
        if not col.name or key in seen:
            continue
        seen.add(key)
        out.append(col)
    return out


def generic_shape(name: str, primary_key: str | None, first: dict[str, Any] | None,
                  schema: Any = None) -> ObjectShape:
    """CSV and unknown sources: the keys of the first record, all text."""
    keys = list(first) if isinstance(first, dict) else []
    columns = unique_columns([Column(str(k)) for k in keys])
    get = getter([c.name for c in columns])
    flags = [str(c) for c in (schema or {}).get("archived_columns", [])] \
        if isinstance(schema, dict) else []
    if not flags:
        flags = [k for k in keys if k.lower() in ("archived", "isdeleted")]

    def archived(record: dict[str, Any]) -> bool:
        for flag in flags:
            value = record.get(flag)
            if value is True or (isinstance(value, str) and value.strip().lower() in _TRUTHY):
                return True
        return False

    return ObjectShape(name, primary_key or None, columns, get, archived)


def shape_for(connector: str, name: str, entry: dict[str, Any], schema: Any,
              first: dict[str, Any] | None) -> ObjectShape:
    """The shape of one manifest object (``entry``) given its schema document."""
    vendor = registry.find(connector)
    shape = vendor.mirror_shape(name, schema) if vendor and vendor.mirror_shape else None
    if shape is not None:
        return shape
    pk = entry.get("primary_key")
    if pk is None and isinstance(first, dict):
        pk = next((k for k in ("id", "Id", "ID") if k in first), None)
    return generic_shape(name, pk, first, schema)


def search_columns(name: str, columns: Sequence[str]) -> dict[str, list[str]] | None:
    """For a people/organisation object: which columns give name, e-mail and city."""
    kind = name.lower()
    if kind not in PEOPLE and kind not in ORGANISATIONS:
        return None
    by_lower = {c.lower(): c for c in columns}

    def pick(options: Sequence[str]) -> list[str]:
        return [by_lower[o] for o in options if o in by_lower][:1]

    full = pick(_NAME)
    parts = pick(_FIRST) + pick(_LAST)
    found = {"name": full or parts, "email": pick(_EMAIL), "city": pick(_CITY)}
    if not any(found.values()):
        return None
    return found


# ------------------------------------------------------------------- the emergency package
@dataclass(frozen=True)
class PackageColumn:
    """One column of an object's CSV in the emergency package."""

    name: str
    label: str = ""
    vendor_type: str = "string"
    description: str = ""

    @property
    def candidate_type(self) -> str:
        """The Frictionless type the vendor declares (kept only if every value conforms)."""
        return _PACKAGE_TYPES.get(self.vendor_type, "string")


@dataclass(frozen=True)
class Described:
    """What the package learns of one object from its stored schema."""

    primary_key: str
    columns: list[PackageColumn]
    archived_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class PackageReader:
    """How the emergency package reads one source's exported objects."""

    describe: Callable[[str, Any], Described]
    """(object name, stored schema or None) → primary key, columns in the vendor's order."""
    flatten: Callable[[dict[str, Any]], dict[str, str]]
    """One record as a flat ``{column: text}`` row (see ``cell``)."""
    archived: Callable[[dict[str, Any], dict[str, str], tuple[str, ...]], bool]
    """(record, its row, the archived columns) → archived or deleted in the source."""


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


def cells(values: dict[str, Any]) -> dict[str, str]:
    """``{key: cell(value)}`` for a whole record (text and nulls inline: the common case)."""
    return cells_of(values.items())


def cells_of(items: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """``cells`` of (key, value) pairs, in order (a later pair of a key replaces its value)."""
    return {k: v if type(v) is str else "" if v is None else cell(v) for k, v in items}
