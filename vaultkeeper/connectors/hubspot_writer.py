"""HubSpot writer: CRM v3 batch create/update/read/archive, v4 associations, custom properties.

Batches of 100 (HubSpot's limit). HubSpot refuses a whole batch create/update with 400 when
one input is invalid and with 409 for a duplicate contact e-mail; the writer then splits the
batch in halves until each bad input stands alone, so the others are written and every failure
carries HubSpot's own message. Batch create results are not in input order: inputs carry an
``objectWriteTraceId`` and results are matched on it. Requests are paced by the
``X-HubSpot-RateLimit-*`` headers (a rolling window) so the writer stays under the limit
instead of collecting 429s; 429s that still come are retried after ``Retry-After``.
Archived records cannot be un-archived through the public API: ``restore`` raises
``WriterUnsupported`` and the caller re-creates them (docs/connectors.md, "Writing back").
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson

from vaultkeeper import registry
from vaultkeeper.connectors.file_writer import HubSpotFileWriter
from vaultkeeper.connectors.hubspot import hubspot_validate
from vaultkeeper.connectors.pacing import RatePacer
from vaultkeeper.connectors.writer import (
    LEGACY_ID_PROPERTY,
    CrmWriter,
    Indexed,
    LinkSpec,
    LiveRecord,
    NewRecord,
    RecordUpdate,
    WritableFields,
    WriteOutcome,
    WriterCapabilities,
    WriteResult,
    WriterUnsupported,
    chunks,
    distinct_batches,
)
from vaultkeeper.errors import ConnectorError
from vaultkeeper.registry import WriterEndpoint

BATCH_MAX = 100
_V3_NAME = re.compile(r"^[a-z]+(_[a-z]+)*_to_[a-z]+(_[a-z]+)*$")  # contact_to_company[_unlabeled]
# HubSpot's published default (unlabeled) association type ids, so the common pairs need no
# labels request; other pairs are looked up once with GET /crm/v4/associations/{a}/{b}/labels.
DEFAULT_TYPES = {("contacts", "companies"): 279, ("companies", "contacts"): 280,
                 ("deals", "contacts"): 3, ("contacts", "deals"): 4,
                 ("deals", "companies"): 341, ("companies", "deals"): 342,
                 ("notes", "contacts"): 202, ("contacts", "notes"): 201}
LINK_BATCH = 100


def write_validate(response: httpx.Response) -> None:
    """Let 400/404/409 through (the writer reads HubSpot's body per input); map the rest."""
    if response.status_code in (400, 404, 409):
        return
    hubspot_validate(response)


class HubSpotWriter(CrmWriter):
    """Writes records, associations and properties into a HubSpot portal."""

    name = "hubspot"
    capabilities = WriterCapabilities(batch_size=BATCH_MAX, link_batch_size=LINK_BATCH,
                                      undelete=False, inline_links=True,
                                      legacy_id_property=True)

    def __init__(self, at: WriterEndpoint, *, batch_size: int = BATCH_MAX, concurrency: int = 4,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.pacer = RatePacer(sleep)
        self._connect(at, headers={"Accept": "application/json"}, validate=write_validate,
                      sleep=sleep, batch_size=batch_size, on_response=self.pacer.observe,
                      before_request=self.pacer.wait)
        # Batches in flight at once: HubSpot answers a batch create in a few hundred ms, so
        # one request at a time cannot use the rate limit; the pacer keeps the total under it.
        self._pool = ThreadPoolExecutor(concurrency, "vk-hubspot-writer") \
            if concurrency > 1 else None
        self._fields: dict[str, WritableFields] = {}
        self._labels: dict[tuple[str, str], list[dict[str, Any]]] = {}

    # -- plumbing --------------------------------------------------------------------------
    def _send(self, method: str, url: str, body: Any = None,
              params: Any = None) -> tuple[int, Any]:
        response = self.http.request(method, url, json=body, params=params)
        if not response.content:
            return response.status_code, None
        try:
            return response.status_code, orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return response.status_code, {"message": response.text[:300]}

    def _map(self, run: Callable[[Any], WriteResult], batches: list[Any]) -> WriteResult:
        """Run ``run`` per batch (concurrently when allowed); results in batch order."""
        result = WriteResult()
        if self._pool is None or len(batches) < 2:
            parts = [run(b) for b in batches]
        else:
            parts = list(self._pool.map(run, batches))
        for part in parts:
            result.extend(part)
        return result

    def file_writer(self) -> HubSpotFileWriter:
        """Uploads through the Files API, linked by ``hs_attachment_ids`` or file properties."""
        return HubSpotFileWriter(self)

    def close(self) -> None:
        """Stop the batch threads and close the HTTP client."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.http.close()

    @staticmethod
    def _reason(body: Any) -> tuple[str, str]:
        """(message, code) of a HubSpot error body; the code of the first property error."""
        if not isinstance(body, dict):
            return str(body)[:300], ""
        message = str(body.get("message") or body)
        code = str(body.get("category") or "")
        prefix = "Property values were not valid: "
        if message.startswith(prefix):
            try:
                detail = orjson.loads(message[len(prefix):])
                code = str(detail[0].get("error") or code)
            except (orjson.JSONDecodeError, IndexError, AttributeError, TypeError):
                pass
        return message, code

    def _counted(self, run: Callable[[], WriteResult]) -> WriteResult:
        before = self.http.stats.requests
        result = run()
        result.requests = self.http.stats.requests - before
        return result

    # -- schema ----------------------------------------------------------------------------
    def writable_fields(self, obj: str) -> WritableFields:
        """Properties minus those HubSpot computes (``readOnlyValue``) or calculates."""
        if obj not in self._fields:
            body = self.http.get_json(f"/crm/v3/properties/{obj}")
            names, read_only = set(), set()
            for prop in body.get("results", []):
                name = str(prop["name"])
                names.add(name)
                meta = prop.get("modificationMetadata") or {}
                if meta.get("readOnlyValue") or prop.get("calculated"):
                    read_only.add(name)
            writable = frozenset(names - read_only)
            self._fields[obj] = WritableFields(obj, writable, writable, frozenset(read_only))
        return self._fields[obj]

    def ensure_legacy_id_property(self, obj: str, name: str = LEGACY_ID_PROPERTY) -> str:
        """Create the text property ``name`` on ``obj`` unless it exists; return its name."""
        status, body = self._send("GET", f"/crm/v3/properties/{obj}/{name}")
        if status == 200:
            if body.get("type") != "string":
                raise ConnectorError(f"HubSpot property {obj}.{name} exists but is of type "
                                     f"{body.get('type')!r}, not a string",
                                     "choose another legacy-id property name")
            return name
        groups = self.http.get_json(f"/crm/v3/properties/{obj}/groups").get("results", [])
        if not groups:
            raise ConnectorError(f"HubSpot has no property group on {obj} to hold {name}")
        status, body = self._send("POST", f"/crm/v3/properties/{obj}", {
            "name": name, "label": "Vaultkeeper legacy id", "type": "string",
            "fieldType": "text", "groupName": groups[0]["name"],
            "description": "The record's id in the backup it was restored from (vaultkeeper)"})
        if status not in (200, 201, 409):
            raise ConnectorError(f"HubSpot refused to create property {obj}.{name}: "
                                 f"{self._reason(body)[0]}",
                                 "grant the private app the crm.schemas.*.write scope")
        self._fields.pop(obj, None)
        return name

    # -- reads -----------------------------------------------------------------------------
    def fetch(self, obj: str, ids: Sequence[str],
              properties: Sequence[str] = ()) -> dict[str, LiveRecord]:
        """Batch read live records, then the missing ids again with ``archived=true``."""
        found: dict[str, LiveRecord] = {}
        for archived in (False, True):
            wanted = [i for i in dict.fromkeys(ids) if i not in found]
            for batch in chunks(wanted, BATCH_MAX):
                status, body = self._send(
                    "POST", f"/crm/v3/objects/{obj}/batch/read",
                    {"inputs": [{"id": i} for i in batch], "properties": list(properties),
                     "propertiesWithHistory": []},
                    params={"archived": "true" if archived else "false"})
                if status >= 400:
                    raise ConnectorError(f"HubSpot batch read of {obj} failed: "
                                         f"{self._reason(body)[0]}")
                for item in body.get("results", []):
                    found[str(item["id"])] = LiveRecord(
                        str(item["id"]), dict(item.get("properties") or {}),
                        bool(item.get("archived", archived)), item.get("archivedAt"))
        return found

    def find_by_property(self, obj: str, prop: str, values: Sequence[str]) -> dict[str, str]:
        """Search live records with ``prop IN values`` (100 values a request)."""
        out: dict[str, str] = {}
        for batch in chunks(list(dict.fromkeys(values)), 100):
            after = "0"
            while True:
                status, body = self._send("POST", f"/crm/v3/objects/{obj}/search", {
                    "filterGroups": [{"filters": [{"propertyName": prop, "operator": "IN",
                                                   "values": list(batch)}]}],
                    "properties": [prop], "limit": 200, "after": after})
                if status >= 400:
                    raise ConnectorError(f"HubSpot search on {obj}.{prop} failed: "
                                         f"{self._reason(body)[0]}")
                for item in body.get("results", []):
                    value = (item.get("properties") or {}).get(prop)
                    if value is not None:
                        out.setdefault(str(value), str(item["id"]))
                nxt = ((body.get("paging") or {}).get("next") or {}).get("after")
                if not nxt:
                    break
                after = str(nxt)
        return out

    # -- writes ----------------------------------------------------------------------------
    def create(self, obj: str, records: Sequence[NewRecord]) -> WriteResult:
        """Batch create (100 a request) with inline associations; splits refused batches."""
        fields = self.writable_fields(obj)

        def run() -> WriteResult:
            return self._map(lambda b: self._create_batch(obj, b, fields),
                             [list(b) for b in chunks(list(records), self.batch_size)])
        return self._counted(run)

    def _create_batch(self, obj: str, batch: list[NewRecord],
                      fields: WritableFields) -> WriteResult:
        inputs = []
        for n, rec in enumerate(batch):
            entry: dict[str, Any] = {"properties": _strings(fields.for_create(rec.properties)),
                                     "objectWriteTraceId": str(n)}
            assocs = [{"to": {"id": link.to_id}, "types": self._types(obj, link)}
                      for link in rec.links]
            if assocs:
                entry["associations"] = assocs
            inputs.append(entry)
        status, body = self._send("POST", f"/crm/v3/objects/{obj}/batch/create",
                                  {"inputs": inputs})
        if status in (400, 404, 409):
            return self._split(batch, status, body,
                               lambda part: self._create_batch(obj, part, fields))
        by_trace = {str(r.get("objectWriteTraceId")): r for r in (body or {}).get("results", [])}
        errors = (body or {}).get("errors") or []
        result = WriteResult()
        for n, rec in enumerate(batch):
            item = by_trace.get(str(n))
            if item is not None:
                result.outcomes.append(WriteOutcome(rec.key, "created", str(item["id"])))
            else:
                message, code = self._reason(errors[0]) if errors else (
                    "HubSpot did not return this record", "")
                result.outcomes.append(WriteOutcome(rec.key, "failed", None, message, code))
        return result

    def _split(self, batch: list[Any], status: int, body: Any,
               again: Callable[[list[Any]], WriteResult]) -> WriteResult:
        """A batch refused as a whole: retry halves until the bad inputs stand alone."""
        if len(batch) == 1:
            message, code = self._reason(body)
            item = batch[0]
            key = item.key or getattr(item, "id", "")
            return WriteResult([WriteOutcome(key, "failed", getattr(item, "id", None) or None,
                                             message, code or str(status))])
        half = len(batch) // 2
        result = again(batch[:half])
        result.extend(again(batch[half:]))
        return result

    def update(self, obj: str, updates: Sequence[RecordUpdate]) -> WriteResult:
        """Batch update (100 a request); unknown/archived ids fail with HubSpot's message."""
        fields = self.writable_fields(obj)

        def run() -> WriteResult:
            todo = [RecordUpdate(u.id, u.properties, u.key or u.id) for u in updates]
            placed: list[tuple[int, WriteOutcome]] = []
            for round_ in _rounds(distinct_batches(todo, self.batch_size)):
                done = self._map(lambda b: self._update_batch(obj, [u for _, u in b], fields),
                                 round_)
                positions = [n for batch in round_ for n, _ in batch]
                placed.extend(zip(positions, done.outcomes, strict=True))
            return WriteResult([o for _, o in sorted(placed, key=lambda p: p[0])])
        return self._counted(run)

    def _update_batch(self, obj: str, batch: list[RecordUpdate],
                      fields: WritableFields) -> WriteResult:
        inputs = [{"id": u.id, "properties": _strings(fields.for_update(u.properties))}
                  for u in batch]
        status, body = self._send("POST", f"/crm/v3/objects/{obj}/batch/update",
                                  {"inputs": inputs})
        if status in (400, 404, 409):
            return self._split(batch, status, body,
                               lambda part: self._update_batch(obj, part, fields))
        done = {str(r["id"]) for r in (body or {}).get("results", [])}
        failed: dict[str, tuple[str, str]] = {}
        for err in (body or {}).get("errors") or []:
            message, code = self._reason(err)
            for i in ((err.get("context") or {}).get("ids") or []):
                failed[str(i)] = (message, code)
        result = WriteResult()
        for u in batch:
            if u.id in done:
                result.outcomes.append(WriteOutcome(u.key, "updated", u.id))
            else:
                message, code = failed.get(u.id, ("HubSpot did not return this record", ""))
                result.outcomes.append(WriteOutcome(u.key, "failed", u.id, message, code))
        return result

    def restore(self, obj: str, ids: Sequence[str]) -> WriteResult:
        """Not offered by HubSpot's public API: archived records must be re-created."""
        if not ids:
            return WriteResult()
        raise WriterUnsupported(
            "HubSpot's public API cannot un-archive CRM records",
            "re-create them with create() (they get new ids) and re-link their associations")

    def archive(self, obj: str, ids: Sequence[str]) -> WriteResult:
        """Batch archive (100 a request). HubSpot answers 204 even for unknown ids."""
        def one(batch: list[str]) -> WriteResult:
            status, body = self._send("POST", f"/crm/v3/objects/{obj}/batch/archive",
                                      {"inputs": [{"id": i} for i in batch]})
            if status < 300:
                return WriteResult([WriteOutcome(i, "archived", i) for i in batch])
            message, code = self._reason(body)
            return WriteResult([WriteOutcome(i, "failed", i, message, code) for i in batch])
        return self._counted(lambda: self._map(one, [list(b) for b in
                                                     chunks(list(ids), self.batch_size)]))

    # -- associations ----------------------------------------------------------------------
    def _types(self, a: str, link: LinkSpec) -> list[dict[str, Any]]:
        """Association type specs for ``link.kind`` (default: the unlabeled HubSpot type)."""
        pair = (a, link.to_object)
        parts = [p.strip() for p in link.kind.split(";") if p.strip()]
        if pair in DEFAULT_TYPES and all(_V3_NAME.match(p) for p in parts):
            return [{"associationCategory": "HUBSPOT_DEFINED",
                     "associationTypeId": DEFAULT_TYPES[pair]}]
        if pair not in self._labels:
            body = self.http.get_json(f"/crm/v4/associations/{a}/{link.to_object}/labels")
            self._labels[pair] = list(body.get("results", []))
        labels = self._labels[pair]
        specs: list[dict[str, Any]] = []
        for part in (p.strip() for p in link.kind.split(";") if p.strip()):
            category, sep, type_id = part.partition(":")
            if sep and type_id.isdigit():
                specs.append({"associationCategory": category,
                              "associationTypeId": int(type_id)})
                continue
            for label in labels:
                if label.get("label") and str(label["label"]).lower() == part.lower():
                    specs.append({"associationCategory": label["category"],
                                  "associationTypeId": int(label["typeId"])})
        if not specs:
            default = next((x for x in labels if x.get("category") == "HUBSPOT_DEFINED"
                            and not x.get("label")), labels[0] if labels else None)
            if default is None:
                raise ConnectorError(f"HubSpot has no association type from {a} to "
                                     f"{link.to_object}")
            specs.append({"associationCategory": default["category"],
                          "associationTypeId": int(default["typeId"])})
        unique = {(s["associationCategory"], s["associationTypeId"]): s for s in specs}
        return list(unique.values())

    def link(self, links: Sequence[LinkSpec]) -> WriteResult:
        """v4 associations batch create, per object pair, 100 a request."""
        def run() -> WriteResult:
            outcomes: dict[int, WriteOutcome] = {}
            groups: dict[tuple[str, str], list[tuple[int, LinkSpec]]] = {}
            for n, spec in enumerate(links):
                groups.setdefault((spec.from_object, spec.to_object), []).append((n, spec))
            jobs = [(a, b, list(batch)) for (a, b), items in groups.items()
                    for batch in chunks(items, LINK_BATCH)]

            def one(job: tuple[str, str, list[tuple[int, LinkSpec]]]) -> WriteResult:
                a, b, batch = job
                pairs = self._link_batch(a, b, batch)
                for n, outcome in pairs:
                    outcomes[n] = outcome
                return WriteResult()
            self._map(one, jobs)
            return WriteResult([outcomes[n] for n in range(len(links))])
        return self._counted(run)

    def _link_batch(self, a: str, b: str, batch: list[tuple[int, LinkSpec]],
                    ) -> list[tuple[int, WriteOutcome]]:
        inputs = [{"from": {"id": s.from_id}, "to": {"id": s.to_id}, "types": self._types(a, s)}
                  for _, s in batch]
        status, body = self._send("POST", f"/crm/v4/associations/{a}/{b}/batch/create",
                                  {"inputs": inputs})
        if status in (400, 404, 409):
            if len(batch) == 1:
                message, code = self._reason(body)
                return [(batch[0][0], WriteOutcome(str(batch[0][0]), "failed", None, message,
                                                   code))]
            half = len(batch) // 2
            return self._link_batch(a, b, batch[:half]) + self._link_batch(a, b, batch[half:])
        done = {(str(r.get("fromObjectId")), str(r.get("toObjectId")))
                for r in (body or {}).get("results", [])}
        errors: dict[tuple[str, str], tuple[str, str]] = {}
        for err in (body or {}).get("errors") or []:
            ctx = err.get("context") or {}
            for f in ctx.get("fromObjectId") or [""]:
                for t in ctx.get("toObjectId") or [""]:
                    errors[(str(f), str(t))] = self._reason(err)
        out = []
        for n, s in batch:
            if (s.from_id, s.to_id) in done:
                out.append((n, WriteOutcome(str(n), "linked", s.from_id)))
            else:
                message, code = errors.get((s.from_id, s.to_id),
                                           ("HubSpot did not confirm this association", ""))
                out.append((n, WriteOutcome(str(n), "failed", s.from_id, message, code)))
        return out

    def request_stats(self) -> dict[str, object]:
        """Requests, retries and the time spent pacing under the rate limit."""
        stats = super().request_stats()
        stats["paced_s"] = round(self.pacer.waited_s, 3)
        return stats


def _rounds(batches: list[Indexed]) -> list[list[Indexed]]:
    """Group consecutive batches so no id appears in two batches of the same group (groups
    run one after another, so a later update of an id still wins)."""
    rounds: list[list[Indexed]] = []
    seen: set[str] = set()
    for batch in batches:
        ids = {u.id for _, u in batch}
        if not rounds or ids & seen:
            rounds.append([])
            seen = set()
        rounds[-1].append(batch)
        seen |= ids
    return rounds


def _strings(props: dict[str, Any]) -> dict[str, str]:
    """HubSpot property values are strings ('' clears a value)."""
    out = {}
    for key, value in props.items():
        if value is None:
            out[key] = ""
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


registry.register_writer(HubSpotWriter.name, HubSpotWriter)
