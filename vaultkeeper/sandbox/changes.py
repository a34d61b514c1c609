"""Change-feed faults for tests: edits that do not move the modified stamps.

The change feeds (HubSpot search by ``lastmodifieddate``, Salesforce ``SystemModstamp``) see
a record only when its stamp moves. ``silent_edit`` changes values without moving it, as a
vendor bug or a back-end data fix would: an incremental export misses the change, and only the
scheduled full export (and its comparison with the synthetic chain) can catch it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vaultkeeper.sandbox.admin import resolve, to_index
from vaultkeeper.sandbox.data import Dataset


def silent_edit(ds: Dataset, obj: str, values: Mapping[str, Mapping[str, Any]]) -> None:
    """Set property (HubSpot) or field (Salesforce) values, id → {name: value}, leaving every
    modified stamp where it was."""
    name, sobject = resolve(obj)
    store = ds.stores[name]
    with ds.write_lock:
        for raw, props in values.items():
            target = store.sf_edits if sobject else store.edits
            target.setdefault(to_index(obj, raw), {}).update(props)
        ds.changed()
