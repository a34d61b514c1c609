"""Record values for restore: a snapshot record's properties per vendor, how values compare,
and the natural keys used to find a record whose create outcome a crash left unknown."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

# Properties a record of the snapshot carries but never writes back (ids, system envelope).
_ENVELOPE = frozenset({"attributes", "Id", "IsDeleted", "hs_object_id"})

NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    # Salesforce cannot carry a legacy id without an admin-made custom field, so a record whose
    # create was in flight at a crash is looked up by these (then confirmed by all its values).
    "Contact": ("Email", "LastName"), "Lead": ("Email", "LastName"), "Account": ("Name",),
    "Opportunity": ("Name",), "Case": ("Subject",), "Task": ("Subject",), "Event": ("Subject",),
    "Campaign": ("Name",), "Note": ("Title",),
    "contacts": ("email",), "companies": ("domain", "name"), "deals": ("dealname",),
    "tickets": ("subject",), "notes": ("hs_note_body",),
}


def properties_of(connector: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The vendor properties of one exported record (HubSpot ``properties``; Salesforce the
    record's own fields)."""
    if isinstance(raw.get("properties"), dict):   # HubSpot-shaped: values under properties
        props = raw.get("properties")
        return {k: v for k, v in (props or {}).items() if k not in _ENVELOPE}
    return {k: v for k, v in raw.items() if k not in _ENVELOPE}


def norm(value: Any) -> str | None:
    """A value as compared: empty and null are the same, numbers and booleans as text."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    text = str(value)
    if text in ("True", "False"):
        return text.lower()
    return text


def differing(snapshot: Mapping[str, Any], live: Mapping[str, Any],
              fields: Iterable[str]) -> list[str]:
    """Of ``fields``, those whose snapshot value differs from the live one."""
    return [f for f in fields if norm(snapshot.get(f)) != norm(live.get(f))]


def update_values(connector: str, snapshot: Mapping[str, Any],
                  fields: Iterable[str]) -> dict[str, Any]:
    """The values an update sends to put ``fields`` back as in the snapshot (None clears a
    value; each writer sends it the vendor's way, e.g. HubSpot's empty string)."""
    return {f: (None if snapshot.get(f) in (None, "") else snapshot[f]) for f in fields}
