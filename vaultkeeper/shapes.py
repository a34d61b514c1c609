"""How to read one object's records: the id field, the archived flag, and the typed columns
flattened from the vendor's schema. Shared by the mirror (db/mirror.py) and diff.

HubSpot: ``id``, ``archived``, top-level ``createdAt``/``updatedAt``/``archivedAt``, then one
column per property of the schema (``properties.X`` → ``X``). Salesforce: ``Id``,
``IsDeleted``, one column per describe field (``Id`` itself is skipped: it collides with ``id``).
CSV and anything else: the manifest's ``primary_key`` (if any) and the record's own keys.
A column whose name collides case-insensitively with an earlier one is skipped; the value stays
in ``_raw``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

RESERVED = ("id", "_archived", "_raw")
HUBSPOT_TOP_LEVEL = ("createdAt", "updatedAt", "archivedAt")
_TRUTHY = {"true", "1", "yes", "y"}

# SQLite column types by vendor type. REAL affinity turns "359" into 359.0 in C, for free;
# anything that is not a number stays text. `_raw` keeps the vendor's exact value regardless.
_HUBSPOT_TYPES = {"number": "REAL"}
_SALESFORCE_TYPES = {"boolean": "INTEGER", "int": "INTEGER", "double": "REAL",
                     "currency": "REAL", "percent": "REAL", "long": "INTEGER"}

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


def _getter(names: Sequence[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
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


def _unique(candidates: Sequence[Column]) -> list[Column]:
    seen = {r.lower() for r in RESERVED}
    out = []
    for col in candidates:
        key = col.name.lower()
        if not col.name or key in seen:
            continue
        seen.add(key)
        out.append(col)
    return out


def hubspot_shape(name: str, schema: Any) -> ObjectShape:
    """HubSpot: top-level fields, then ``properties.X`` as ``X`` in schema order."""
    props = [Column(str(p["name"]), _HUBSPOT_TYPES.get(str(p.get("type")), "TEXT"))
             for p in (schema or {}).get("results", []) if isinstance(p, dict) and p.get("name")]
    top = [Column(n) for n in HUBSPOT_TOP_LEVEL]
    columns = _unique(top + props)
    top_names = [c.name for c in columns if c.name in HUBSPOT_TOP_LEVEL]
    prop_names = [c.name for c in columns if c.name not in top_names]
    top_get = _getter(top_names)
    prop_get = _getter(prop_names)

    def extract(record: dict[str, Any]) -> tuple[Any, ...]:
        props = record.get("properties")
        return (*top_get(record), *prop_get(props if props is not None else {}))

    def flatten(record: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in record.items() if k != "properties"}
        props = record.get("properties")
        if isinstance(props, dict):
            out.update({f"properties.{k}": v for k, v in props.items()})
        return out

    return ObjectShape(name, "id", columns, extract,
                       lambda r: bool(r.get("archived")), flatten)


def salesforce_shape(name: str, schema: Any) -> ObjectShape:
    """Salesforce: one column per describe field (``Id`` collides with ``id`` and is skipped)."""
    fields = [Column(str(f["name"]), _SALESFORCE_TYPES.get(str(f.get("type")), "TEXT"))
              for f in (schema or {}).get("fields", []) if isinstance(f, dict) and f.get("name")]
    columns = _unique(fields)
    get = _getter([c.name for c in columns])
    return ObjectShape(name, "Id", columns, get, lambda r: bool(r.get("IsDeleted")))


def generic_shape(name: str, primary_key: str | None, first: dict[str, Any] | None,
                  schema: Any = None) -> ObjectShape:
    """CSV and unknown sources: the keys of the first record, all text."""
    keys = list(first) if isinstance(first, dict) else []
    columns = _unique([Column(str(k)) for k in keys])
    get = _getter([c.name for c in columns])
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
    if connector == "hubspot" and isinstance(schema, dict) and "results" in schema:
        return hubspot_shape(name, schema)
    if connector == "salesforce" and isinstance(schema, dict) and "fields" in schema:
        return salesforce_shape(name, schema)
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
