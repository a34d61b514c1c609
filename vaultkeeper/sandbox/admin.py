"""Direct changes to a running sandbox for tests and demos: the "bad days" (a mass deletion, a
bulk overwrite) done behind the API's back, as an automation or an import would. They change
what the readers see but are not in the request log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vaultkeeper.sandbox import hs_schema as hs
from vaultkeeper.sandbox import sf_schema as sf
from vaultkeeper.sandbox.data import SALESFORCE_OBJECTS, Dataset, iso_ms
from vaultkeeper.sandbox.hs_write import now_ms


def resolve(obj: str) -> tuple[str, str | None]:
    """(HubSpot object name, Salesforce SObject or None) for either vendor's name."""
    if obj in SALESFORCE_OBJECTS:
        return SALESFORCE_OBJECTS[obj], obj
    name = hs.resolve_type(obj)
    if name is None:
        raise ValueError(f"unknown sandbox object {obj!r}")
    return name, None


def to_id(obj: str, i: int) -> str:
    """The vendor id of record ``i`` (Salesforce id for SObject names)."""
    name, sobject = resolve(obj)
    return sf.sf_id(sf.KEY_PREFIX[sobject], i) if sobject else str(hs.ID_BASES[name] + i)


def to_index(obj: str, raw: str) -> int:
    """The record index behind a vendor id (ValueError when it is not one)."""
    name, sobject = resolve(obj)
    i = sf.id_index(sf.KEY_PREFIX[sobject], raw) if sobject else int(raw) - hs.ID_BASES[name]
    if i is None or i < 0:
        raise ValueError(f"{raw!r} is not a {obj} id of this sandbox")
    return i


def _has_relations(ds: Dataset, name: str, i: int) -> bool:
    for link in ds.links.values():
        if link.src.name == name and link.target(i) >= 0:
            return True
        if link.dst.name == name and link.sources(i):
            return True
    return False


def live_ids(ds: Dataset, obj: str, count: int, with_relations: bool = False,
             start: int = 0) -> list[str]:
    """The first ``count`` live records from index ``start`` (optionally only related ones)."""
    name, _ = resolve(obj)
    store = ds.stores[name]
    out: list[str] = []
    i = store.next_index(start, False)
    while i >= 0 and len(out) < count:
        if not with_relations or _has_relations(ds, name, i):
            out.append(to_id(obj, i))
        i = store.next_index(i + 1, False)
    return out


def archive(ds: Dataset, obj: str, ids: Sequence[str]) -> int:
    """Archive (HubSpot) / delete (Salesforce) records; returns how many changed."""
    name, _ = resolve(obj)
    store, changed = ds.stores[name], 0
    with ds.write_lock:
        for raw in ids:
            changed += store.set_archived(to_index(obj, raw), True, now_ms())
        ds.changed()
    return changed


def overwrite(ds: Dataset, obj: str, values: Mapping[str, Mapping[str, Any]]) -> None:
    """Set property (HubSpot) or field (Salesforce) values: id → {name: value}."""
    name, sobject = resolve(obj)
    store = ds.stores[name]
    with ds.write_lock:
        now = now_ms()
        for raw, props in values.items():
            i = to_index(obj, raw)
            target = store.sf_edits if sobject else store.edits
            target.setdefault(i, {}).update(props)
            if not sobject:
                target[i][hs.modified_property(name)] = iso_ms(now)
            store.touch(i, now)
        ds.changed()
