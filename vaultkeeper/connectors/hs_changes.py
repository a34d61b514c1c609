"""HubSpot change feed: records modified since a moment (CRM search by last-modified date),
archivals (the archived listing), and the changed records' associations (v4 batch read).

Search returns at most 10,000 results per query, so it is paged in windows: sorted by the
modified date, and when a window is used up the next query starts at the last date seen
(records seen twice are kept once). Search returns neither archived records nor associations:
archivals come from the archived listing (ids only, then a batch read of the new ones), and
associations from ``/crm/v4/associations/{from}/{to}/batch/read``, named as the v3 inline
associations of a full export name them (``/crm/v3/associations/{from}/{to}/types``).
The archived listing is skipped when the live count shows that no record left the live set.
The change search is sorted newest first without a filter, so its first page's total is that
live count (no separate count request); an object empty in the base and still empty keeps the
base's schema (one search instead of reading its properties).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from vaultkeeper.connectors.changes import ChangeSet, Previous
from vaultkeeper.connectors.hs_settings import is_settings
from vaultkeeper.connectors.paginate import CursorPaginator
from vaultkeeper.errors import ConnectorError
from vaultkeeper.models import ObjectSpec, Relation, SourceCount

if TYPE_CHECKING:
    from vaultkeeper.connectors.hubspot import HubSpotConnector

SEARCH_PAGE = 200
SEARCH_WINDOW = 10_000
ASSOC_BATCH = 1000
BATCH_READ = 100
INLINE_ASSOCIATIONS = 100
"""A list page carries this many associations inline; a full export names the rest as v4 does."""
ARCHIVED_SHARE = 0.05
"""Estimate of archived records per live record when nothing better is known."""


def modified_property(obj: ObjectSpec) -> str:
    """``lastmodifieddate`` for contacts, ``hs_lastmodifieddate`` for every other object."""
    return "lastmodifieddate" if obj.vendor_name == "contacts" else "hs_lastmodifieddate"


def _ms(value: Any) -> int | None:
    """Epoch milliseconds of a HubSpot date value (ISO 8601 or epoch ms)."""
    text = str(value or "").strip()
    if not text:
        return None
    if text.isdigit():
        return int(text)
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


class HubSpotChanges:
    """The ChangeFeed of a HubSpotConnector (see connectors/changes.py)."""

    def __init__(self, conn: HubSpotConnector) -> None:
        self.conn = conn
        self.http = conn.http
        self._names: dict[tuple[str, str], dict[int, str]] = {}
        self._daily: tuple[int, int] | None = None
        self._last_total = 0
        self._empty_now: set[str] = set()
        chained = conn.http.on_response

        def seen(response: httpx.Response) -> None:
            self._note_quota(response)
            if chained is not None:
                chained(response)

        conn.http.on_response = seen

    # -- the contract --------------------------------------------------------------------
    def supports(self, obj: ObjectSpec) -> bool:
        """Objects with a last-modified property (owners and pipelines are read in full)."""
        return not is_settings(obj) and modified_property(obj) in obj.properties

    def is_archived(self, record: dict[str, Any]) -> bool:
        """HubSpot marks archived records ``archived: true``."""
        return bool(record.get("archived"))

    def changes(self, obj: ObjectSpec, since: datetime, previous: Previous) -> ChangeSet:
        """Modified live records with their associations, then archivals when the live count
        says some record left the live set."""
        out = ChangeSet()
        if obj.name in self._empty_now:   # found empty in discovery: nothing to read
            out.count = SourceCount(live=0, method="search total")
            out.notes.append("still empty (its schema carried from the base)")
            return out
        for item in self._search_changed(obj, since):
            out.records[str(item["id"])] = item
        out.relations = list(self._relations(obj, sorted(out.records, key=_id_key)))
        live = self._last_total   # the unfiltered search's total: the live count
        out.count = SourceCount(live=live, method="search total")
        out.notes.append(f"{len(out.records)} modified since {since.isoformat()}")
        if not previous.live and not previous.archived:
            return out   # empty at the last run: nothing could leave the live set
        if live == len(previous.live | set(out.records)):
            return out   # nothing left the live set: the archived listing can be skipped
        archived_now = self._archived_ids(obj)
        new = sorted((i for i in archived_now if i not in previous.archived), key=_id_key)
        for item in self._batch_read(obj, new):
            out.records[str(item["id"])] = item
        out.removed = previous.archived - archived_now - set(out.records)
        out.gone = set(new) | out.removed
        out.notes.append(f"{len(new)} newly archived, {len(out.removed)} purged")
        return out

    def discover(self, reusable: Mapping[str, Any]) -> list[ObjectSpec]:
        """The portal's objects; an object that was empty in the base (``reusable``: name →
        its stored properties document) and has no live record now keeps that schema, found
        by one search instead of its properties (one request, not two)."""
        self._empty_now = set()

        def still_empty(name: str, type_id: str) -> Any:
            if name not in reusable:
                return None
            body = self.http.post_json(f"/crm/v3/objects/{type_id}/search",
                                       {"limit": 1, "properties": ["hs_object_id"]})
            if int(body.get("total") or 0) or body.get("results"):
                return None
            self._empty_now.add(name)
            return reusable[name]

        return self.conn.discover(unchanged=still_empty)

    def estimate(self, obj: ObjectSpec, since: datetime | None,
                 archived: int | None = None) -> int:
        """Requests: a full read pages live and archived records per property chunk; an
        incremental one pages the search, the associations and (pessimistically) the
        archived listing."""
        if is_settings(obj):
            return 2
        if since is not None and obj.name in self._empty_now:
            return 0   # found empty in discovery: nothing more to ask
        live = self.live_count(obj) or 0
        archived = archived if archived is not None else int(live * ARCHIVED_SHARE)
        targets = len(self.conn._association_targets(obj))
        if since is None:
            chunks = len(self.conn._chunks(obj, self.conn._association_targets(obj)))
            page = self.conn.page_size
            return chunks * (math.ceil(live / page) + math.ceil(archived / page) + 2) + 2
        changed = self._changed_count(obj, since)
        return (2 + max(1, math.ceil(changed / SEARCH_PAGE))
                + targets * (1 + math.ceil(changed / ASSOC_BATCH))
                + math.ceil(archived / self.conn.page_size) + 1)

    def quota(self) -> tuple[int, int] | None:
        """``X-HubSpot-RateLimit-Daily`` and ``-Daily-Remaining`` of the latest response
        (HubSpot sends none to OAuth apps: None then)."""
        if self._daily is None:
            self.http.request("GET", "/crm/v3/objects/contacts",
                              params={"limit": 1, "properties": "hs_object_id"})
        return self._daily

    # -- reading -------------------------------------------------------------------------
    def live_count(self, obj: ObjectSpec) -> int | None:
        """HubSpot's ``total`` of live records (search)."""
        body = self.http.post_json(f"/crm/v3/objects/{obj.vendor_name}/search",
                                   {"limit": 1, "properties": ["hs_object_id"]})
        total = body.get("total")
        return int(total) if total is not None else None

    def _filter(self, obj: ObjectSpec, floor_ms: int) -> dict[str, Any]:
        prop = modified_property(obj)
        return {"filterGroups": [{"filters": [
                    {"propertyName": prop, "operator": "GTE", "value": str(floor_ms)}]}],
                "sorts": [{"propertyName": prop, "direction": "ASCENDING"}]}

    def _changed_count(self, obj: ObjectSpec, since: datetime) -> int:
        body = self.http.post_json(
            f"/crm/v3/objects/{obj.vendor_name}/search",
            self._filter(obj, int(since.timestamp() * 1000)) | {"limit": 1,
                                                                  "properties": ["hs_object_id"]})
        return int(body.get("total") or 0)

    def _search_changed(self, obj: ObjectSpec, since: datetime) -> Iterator[dict[str, Any]]:
        """Live records modified at or after ``since``, newest first. The first query has no
        filter, so its total is the live count (``_last_total``): one request serves both.
        Paging stops at the first older record; past 10,000 results the next window asks for
        records modified at or before the last date seen."""
        prop = modified_property(obj)
        floor = int(since.timestamp() * 1000)
        ceiling: int | None = None
        offset = 0
        seen: set[str] = set()
        while True:
            query: dict[str, Any] = {
                "sorts": [{"propertyName": prop, "direction": "DESCENDING"}],
                "limit": SEARCH_PAGE, "properties": list(obj.properties)}
            if ceiling is not None:
                query["filterGroups"] = [{"filters": [
                    {"propertyName": prop, "operator": "GTE", "value": str(floor)},
                    {"propertyName": prop, "operator": "LTE", "value": str(ceiling)}]}]
            if offset:
                query["after"] = str(offset)
            body = self.http.post_json(f"/crm/v3/objects/{obj.vendor_name}/search", query)
            results = body.get("results")
            if not isinstance(results, list):
                raise ConnectorError(f"HubSpot search page without results for {obj.name}")
            if ceiling is None and not offset:
                self._last_total = int(body.get("total") or 0)
            last = ceiling
            for item in results:
                if not (isinstance(item, dict) and item.get("id")
                        and isinstance(item.get("properties"), dict)):
                    raise ConnectorError(f"{obj.name}: a malformed search result")
                stamp = _ms(item["properties"].get(prop))
                if stamp is None or stamp < floor:
                    return   # newest first: every later record is older (or undated)
                last = stamp if last is None else min(last, stamp)
                key = str(item["id"])
                if key not in seen:
                    seen.add(key)
                    yield item
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after or not results:
                return
            offset = int(after)
            if offset + SEARCH_PAGE > SEARCH_WINDOW:
                if ceiling is not None and last is not None and last >= ceiling:
                    raise ConnectorError(f"{obj.name}: more than {SEARCH_WINDOW} records share "
                                         "one modified time; search cannot page past them")
                ceiling, offset = last, 0   # the next window ends at the last date seen

    def _type_names(self, from_type: str, to_type: str) -> dict[int, str]:
        key = (from_type, to_type)
        if key not in self._names:
            body = self.http.get_json(f"/crm/v3/associations/{from_type}/{to_type}/types")
            self._names[key] = {int(t["id"]): str(t["name"]) for t in body.get("results", [])
                                if str(t.get("id", "")).isdigit() and t.get("name")}
        return self._names[key]

    def _relations(self, obj: ObjectSpec, ids: Sequence[str]) -> Iterator[Relation]:
        for target in self.conn._association_targets(obj):
            if not ids:
                return
            names = self._type_names(obj.vendor_name, target)
            for start in range(0, len(ids), ASSOC_BATCH):
                body = self.http.post_json(
                    f"/crm/v4/associations/{obj.vendor_name}/{target}/batch/read",
                    {"inputs": [{"id": i} for i in ids[start:start + ASSOC_BATCH]]})
                for entry in body.get("results", []):
                    yield from self._pairs(obj, target, entry, names)

    def _pairs(self, obj: ObjectSpec, target: str, entry: dict[str, Any],
               names: dict[int, str]) -> Iterator[Relation]:
        from_id = str(entry["from"]["id"])
        pairs: dict[str, set[str]] = {}
        for pos, to in enumerate(entry.get("to", [])):
            types = pairs.setdefault(str(to["toObjectId"]), set())
            for spec in to.get("associationTypes", []):
                v4 = spec.get("label") or f"{spec.get('category')}:{spec.get('typeId')}"
                inline = names.get(int(spec.get("typeId") or 0))
                types.add(inline if pos < INLINE_ASSOCIATIONS and inline else v4)
        after = ((entry.get("paging") or {}).get("next") or {}).get("after")
        if after:
            self.conn._more_associations(obj, from_id, target, str(after), pairs)
        to_name = self.conn._object_name(target)
        for to_id, types in pairs.items():
            yield Relation(obj.name, from_id, to_name, to_id, ";".join(sorted(types)))

    def _archived_ids(self, obj: ObjectSpec) -> set[str]:
        found: set[str] = set()
        paginator = CursorPaginator()
        while not paginator.finished:
            body = self.http.get_json(
                f"/crm/v3/objects/{obj.vendor_name}",
                params={"limit": self.conn.page_size, "archived": "true",
                        "properties": "hs_object_id",
                        **({"after": paginator.current} if paginator.current else {})})
            results = body.get("results") or []
            found.update(str(r["id"]) for r in results if isinstance(r, dict) and r.get("id"))
            paginator.advance(body, len(results))
        return found

    def _batch_read(self, obj: ObjectSpec, ids: Sequence[str]) -> Iterator[dict[str, Any]]:
        for start in range(0, len(ids), BATCH_READ):
            body = self.http.post_json(
                f"/crm/v3/objects/{obj.vendor_name}/batch/read?archived=true",
                {"properties": list(obj.properties), "propertiesWithHistory": [],
                 "inputs": [{"id": i} for i in ids[start:start + BATCH_READ]]})
            yield from (r for r in body.get("results", []) if isinstance(r, dict))

    def _note_quota(self, response: httpx.Response) -> None:
        try:
            self._daily = (int(response.headers["X-HubSpot-RateLimit-Daily"]),
                           int(response.headers["X-HubSpot-RateLimit-Daily-Remaining"]))
        except (KeyError, ValueError):
            return


def _id_key(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)

