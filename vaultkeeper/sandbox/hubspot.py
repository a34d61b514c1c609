"""HubSpot CRM v3 (+ v4 associations) emulation: routes, record shapes, errors, headers."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import orjson

from vaultkeeper.sandbox import hs_assoc, hs_legacy, hs_meta
from vaultkeeper.sandbox import hs_schema as hs
from vaultkeeper.sandbox.data import Dataset, ObjectStore, iso_ms, mix64
from vaultkeeper.sandbox.faults import Decision, FaultConfig
from vaultkeeper.sandbox.gen_hubspot import Props, properties_of
from vaultkeeper.sandbox.hs_imports import HubSpotImports
from vaultkeeper.sandbox.hs_meta import batch_inputs, error, history_of, parse_bool
from vaultkeeper.sandbox.hs_search import SearchEngine
from vaultkeeper.sandbox.hs_write import HubSpotWrites, all_types
from vaultkeeper.sandbox.wire import (
    NGINX_502,
    ApiError,
    Request,
    Response,
    html_response,
    json_response,
)

RATE_MAX = 190
RATE_INTERVAL_MS = 10_000
DAILY_MAX = 1_000_000
_INLINE_ASSOC_PAGE = 100
BAD_UTF8_MARK = "\u2063VK-BAD-UTF8\u2063"
"""Replaced by bytes that are not UTF-8 in the response of the ``bad_utf8`` fault."""
_DATED = re.compile(r"^/crm/objects/\d{4}-\d{2}/")


class HubSpotApi:
    """Answers HubSpot requests for one dataset."""

    def __init__(self, ds: Dataset, faults: FaultConfig, *, rate_limit: int = RATE_MAX) -> None:
        # What X-HubSpot-RateLimit-Max advertises per 10 s window (HubSpot Pro/Enterprise: 190).
        self.rate_limit = rate_limit
        self.ds = ds
        self.faults = faults
        self.search_engine = SearchEngine(ds)
        self.writes = HubSpotWrites(self)
        self.imports = HubSpotImports(self)
        self.base_url = ""  # set by the server once the port is known
        self._window: deque[float] = deque()
        self._window_lock = threading.Lock()
        self._malformed: dict[tuple[str, bool], int] = {}
        self._repeat_after: dict[tuple[str, bool], str] = {}
        if faults.on("malformed"):
            at = faults.param("malformed", "at")
            for name, store in ds.stores.items():
                for archived in (False, True):
                    self._malformed[(name, archived)] = malformed_target(store, archived, at)

    # -- framing: headers, auth, injected errors ----------------------------------------
    @staticmethod
    def is_cursor(method: str, path: str, query: dict[str, list[str]], body: bytes) -> bool:
        """True for requests that continue a pagination (5xx faults only hit those)."""
        if query.get("after"):
            return True
        if method == "POST" and path.endswith("/search") and b'"after"' in body:
            try:
                after = orjson.loads(body).get("after")
            except (orjson.JSONDecodeError, AttributeError):
                return False
            return after not in (None, "", "0", 0)
        return False

    def admit(self, enforce: bool, count: bool = True) -> bool:
        """Stamp a request into the rolling window when it *arrives* (as HubSpot counts).

        ``enforce``: refuse it (False, not stamped) when the window is already full.
        ``count``: False for requests refused anyway (they do not use the budget).
        """
        now = time.monotonic()
        with self._window_lock:
            win = self._window
            while win and win[0] < now - RATE_INTERVAL_MS / 1000:
                win.popleft()
            if enforce and len(win) >= self.rate_limit:
                return False
            if count:
                win.append(now)
            return True

    def rate_headers(self, decision: Decision) -> list[tuple[str, str]]:
        """``X-HubSpot-RateLimit-*`` for this response (Remaining 0 on a 429)."""
        now = time.monotonic()
        with self._window_lock:
            win = self._window
            while win and win[0] < now - RATE_INTERVAL_MS / 1000:
                win.popleft()
            used = len(win)
        # Unless enforcement is on, only the 429 fault throttles, so the remaining count stays
        # >= 1 unless that fault fires.
        remaining = 0 if decision.error == "rate_limit" else max(1, self.rate_limit - used)
        daily_left = 0 if decision.error == "daily_limit" else max(0, DAILY_MAX - decision.k)
        return [("X-HubSpot-RateLimit-Max", str(self.rate_limit)),
                ("X-HubSpot-RateLimit-Remaining", str(remaining)),
                ("X-HubSpot-RateLimit-Interval-Milliseconds", str(RATE_INTERVAL_MS)),
                ("X-HubSpot-RateLimit-Daily", str(DAILY_MAX)),
                ("X-HubSpot-RateLimit-Daily-Remaining", str(daily_left))]

    @staticmethod
    def unauthorized(req: Request, token_given: bool) -> Response:
        """401 body for a missing or wrong bearer token."""
        message = ("The access token used to make this call is invalid or has been revoked."
                   if token_given else
                   "Authentication credentials not found. This API supports OAuth 2.0 "
                   "authentication and you can find more details at "
                   "https://developers.hubspot.com/docs/methods/auth/oauth-overview")
        return error(req, 401, message, "INVALID_AUTHENTICATION").response

    @staticmethod
    def fault_response(req: Request) -> Response:
        """The response for an injected 429 / daily limit / 5xx."""
        d = req.decision
        if d.error in ("rate_limit", "daily_limit"):
            daily = d.error == "daily_limit"
            body = {"status": "error",
                    "message": "You have reached your daily limit." if daily else
                    "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT", "correlationId": req.correlation_id(),
                    "policyName": "DAILY" if daily else "TEN_SECONDLY_ROLLING",
                    "requestId": f"{mix64(d.k):032x}"[:32]}
            headers = []
            # The search endpoint never sends Retry-After (Airbyte works around this).
            if d.retry_after is not None and not req.path.endswith("/search"):
                headers.append(("Retry-After", str(d.retry_after)))
            return json_response(429, body, headers)
        if d.status == 502:
            return html_response(502, NGINX_502)
        message = ("internal error" if d.status == 500 else
                   "The service is temporarily unavailable; please retry.")
        return error(req, d.status, message,
                     "INTERNAL_ERROR" if d.status == 500 else "SERVICE_UNAVAILABLE").response

    # -- routing -------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        """Route one authenticated request."""
        path = _DATED.sub("/crm/v3/objects/", req.path.rstrip("/") or "/")
        parts = path.strip("/").split("/")
        try:
            return self._route(req, parts)
        except ApiError as exc:
            return exc.response

    def _route(self, req: Request, p: list[str]) -> Response:
        m, n = req.method, len(p)
        imported = self.imports.route(req, p)   # CRM imports API (sandbox/hs_imports.py)
        if imported is not None:
            return imported
        legacy = hs_legacy.route(self, req, p)   # v1/v2 endpoints clients still call
        if legacy is not None:
            return legacy
        if m != "GET":
            written = self.writes.route(req, p)
            if written is not None:
                return written
        if (assoc := hs_assoc.route(self, req, p)) is not None:
            return assoc
        if p[:2] == ["crm", "v3"] and n >= 4 and p[2] == "objects":
            obj = self._type(req, p[3])
            if n == 4 and m == "GET":
                return self._list(req, obj)
            if n == 5 and p[4] == "search" and m == "POST":
                return self.search_engine.handle(self, req, obj)
            if n == 6 and p[4:] == ["batch", "read"] and m == "POST":
                return self._batch_read(req, obj)
            if n == 5 and m == "GET":
                return self._read(req, obj, p[4])
        elif p[:3] == ["crm", "v3", "properties"] and n >= 4:
            return hs_meta.properties(self, req, self._type(req, p[3]), p[4:])
        elif p[:2] == ["properties", "v2"] and n == 4 and p[3] == "properties":
            return json_response(200, list(hs.properties_payload(self._type(req, p[2]))))
        elif p in (["crm-object-schemas", "v3", "schemas"], ["crm", "v3", "schemas"]):
            return json_response(200, {"results": []})
        elif p[:3] == ["crm", "v3", "owners"] and m == "GET":
            return hs_meta.owners(self, req, p[3] if n > 3 else None)
        elif p[:3] == ["crm", "v3", "pipelines"] and n >= 4 and m == "GET":
            return hs_meta.pipelines(self, req, self._type(req, p[3]), p[4:])
        if m not in ("GET", "POST"):
            raise error(req, 405, f"Method {m} is not supported on {req.path}",
                        "VALIDATION_ERROR")
        raise error(req, 404, f"No route for {req.method} {req.path}", "OBJECT_NOT_FOUND")

    def _type(self, req: Request, name: str) -> str:
        obj = hs.resolve_type(name)
        denied = next((scope for t, (tid, scope) in hs.TIER_DENIED.items()
                       if name.lower() in (t, tid)), None)
        if denied is not None:   # a standard type this portal's tier does not have
            raise error(req, 403, "This app hasn't been granted all required scopes to make "
                        "this call. Read more about required scopes here: "
                        "https://developers.hubspot.com/scopes.", "MISSING_SCOPES",
                        errors=[{"message": "One or more of the following scopes are "
                                 "required.", "context": {"requiredGranularScopes": [denied]}}])
        if obj is None:
            raise error(req, 404, f"Unable to infer object type from: {name}",
                        "OBJECT_NOT_FOUND")
        return obj

    # -- record shape ----------------------------------------------------------------------
    def selection(self, obj: str, requested: Sequence[str]) -> tuple[str, ...]:
        """Property names a response carries: defaults, or the known requested ones plus the
        always-present id and timestamps (unknown names are ignored, like HubSpot does)."""
        if not requested:
            names: set[str] = set(hs.default_properties(obj))
        else:
            known = all_types(self.ds, obj)
            names = {p for p in requested if p in known}
            names |= {"createdate", hs.modified_property(obj), "hs_object_id"}
        return tuple(sorted(names))

    def record(self, obj: str, i: int, sel: tuple[str, ...], history: Sequence[str] = (),
               assoc: Sequence[str] = (), props: Props | None = None) -> dict[str, Any]:
        """One ``SimplePublicObject`` (with history/associations when asked)."""
        store = self.ds.stores[obj]
        if props is None:
            props = properties_of(self.ds, obj, i, None if history else sel)
        mod = hs.modified_property(obj)
        out: dict[str, Any] = {"id": str(hs.ID_BASES[obj] + i),
                               "properties": {k: props.get(k) for k in sel}}
        if history:
            known = hs.property_types(obj)
            out["propertiesWithHistory"] = {
                name: history_of(self.ds, obj, i, name, props[name])
                for name in dict.fromkeys(history) if name in known}
        archived = store.is_archived(i)
        out["createdAt"] = props["createdate"]
        out["updatedAt"] = props[mod]
        out["archived"] = archived
        if archived:
            out["archivedAt"] = iso_ms(store.archived_ms(i))
        if assoc and not archived:
            assocs = {}
            for to in assoc:
                ids = self.related(obj, i, to)
                if not ids:
                    continue
                base, name = hs.ID_BASES[to], hs_assoc.assoc_name(obj, to)
                entry: dict[str, Any] = {"results": [
                    {"id": str(base + j), "type": name} for j in ids[:_INLINE_ASSOC_PAGE]]}
                if len(ids) > _INLINE_ASSOC_PAGE:
                    entry["paging"] = {"next": {
                        "after": str(_INLINE_ASSOC_PAGE),
                        "link": f"{self.base_url}/crm/v3/objects/{obj}/{out['id']}"
                                f"/associations/{to}"
                                f"?after={_INLINE_ASSOC_PAGE}"}}
                assocs[to] = entry
            if assocs:
                out["associations"] = assocs
        return out

    def malformed_item(self, obj: str, i: int, archived: bool) -> Any:
        """An extra, invalid result entry (no ``id``, or not even an object)."""
        self_count = self.ds.stores[obj]
        stamp = iso_ms(self_count.created_ms(i))
        kind = self_count.code % 3
        if kind == 0:
            return {"properties": {"hs_object_id": None}, "createdAt": stamp,
                    "updatedAt": stamp, "archived": archived}
        if kind == 1:
            return {"properties": "<<truncated: property map lost in transit>>",
                    "createdAt": stamp, "updatedAt": stamp, "archived": archived}
        return "<<corrupted record>>"

    def related(self, obj: str, i: int, to: str) -> list[int]:
        """Live records of ``to`` associated with live record ``i`` of ``obj``."""
        found = self.ds.hubspot_link(obj, to)
        if found is None:
            return []
        link, forward = found
        if forward:
            j = link.target(i)
            return [j] if j >= 0 else []
        return link.sources(i)

    def _index(self, req: Request, obj: str, raw: str) -> int:
        """Record index of a HubSpot id; 404 when there is no such record."""
        store = self.ds.stores[obj]
        try:
            i = int(raw) - hs.ID_BASES[obj]
        except ValueError:
            i = -1
        if not 0 <= i < store.count:
            raise error(req, 404, "resource not found", "OBJECT_NOT_FOUND")
        return i

    def _int(self, req: Request, name: str, default: int, top: int) -> int:
        raw = req.q1(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise error(req, 400, f"Invalid input JSON on line 1: '{name}' must be an "
                        f"integer, got '{raw}'", "VALIDATION_ERROR") from None
        if value < 1:
            raise error(req, 400, f"'{name}' must be at least 1", "VALIDATION_ERROR")
        return min(value, top)

    # -- endpoints -------------------------------------------------------------------------
    def _list(self, req: Request, obj: str) -> Response:
        store = self.ds.stores[obj]
        history = req.qlist("propertiesWithHistory")
        limit = self._int(req, "limit", 10, 50 if history else 100)
        archived = parse_bool(req.q1("archived"))
        after = req.q1("after")
        start = 0
        if after:
            if not after.isdigit():
                raise error(req, 400, f"Invalid 'after' cursor: {after}", "VALIDATION_ERROR")
            start = int(after) - hs.ID_BASES[obj]
        if req.decision.short and limit > 1:
            limit = (limit + 1) // 2
            req.faults.count("fault.short")
        sel = self.selection(obj, req.qlist("properties"))
        assoc = [t for t in dict.fromkeys(hs.resolve_type(a) for a in req.qlist("associations"))
                 if t is not None]
        target = self._malformed.get((obj, archived), -1)
        results: list[Any] = []
        valid = 0
        i = store.next_index(start, archived)
        if after and self.faults.on("repeat") and i >= 0 and \
                self._repeat_after.setdefault((obj, archived), after) == after:
            # The first continuation page starts with page 1's last record again, and the
            # record that belonged there is never listed (an offset shifted under a delete).
            prev = store.prev_index(start, archived)
            if prev >= 0:
                results.append(self.record(obj, prev, sel, history, assoc))
                valid += 1
                i = store.next_index(i + 1, archived)
                req.faults.count("fault.repeat")
        bad_utf8 = store.next_index(2, False) if self.faults.on("bad_utf8") and not archived \
            else -1
        while i >= 0 and valid < limit:
            results.append(self.record(obj, i, sel, history, assoc))
            if i == bad_utf8:
                results[-1]["properties"] = results[-1]["properties"] | {
                    "vk_note": BAD_UTF8_MARK}
                req.faults.count("fault.bad_utf8")
            valid += 1
            if i == target:
                results.append(self.malformed_item(obj, i, archived))
                req.faults.count("fault.malformed")
            i = store.next_index(i + 1, archived)
        body: dict[str, Any] = {"results": results}
        if i >= 0:
            nxt = str(hs.ID_BASES[obj] + i)
            query = [(k, v) for k, vs in req.query.items() if k != "after" for v in vs]
            query.append(("after", nxt))
            body["paging"] = {"next": {"after": nxt,
                                       "link": f"{req.base_url}{req.path}?{urlencode(query)}"}}
        response = json_response(200, body)
        if bad_utf8 >= 0 and BAD_UTF8_MARK.encode() in response.body:
            response.body = response.body.replace(BAD_UTF8_MARK.encode(), b"caf\xff\xfe")
        return response

    def _read(self, req: Request, obj: str, raw_id: str) -> Response:
        id_property = req.q1("idProperty")
        if id_property and id_property != "hs_object_id":
            raise error(req, 400, f"idProperty '{id_property}' is not supported by the "
                        "sandbox; use record ids", "VALIDATION_ERROR")
        i = self._index(req, obj, raw_id)
        if self.ds.stores[obj].is_archived(i) != parse_bool(req.q1("archived")):
            raise error(req, 404, "resource not found", "OBJECT_NOT_FOUND")
        assoc = [t for t in (hs.resolve_type(a) for a in req.qlist("associations")) if t]
        return json_response(200, self.record(
            obj, i, self.selection(obj, req.qlist("properties")),
            req.qlist("propertiesWithHistory"), list(dict.fromkeys(assoc))))

    def _json_body(self, req: Request) -> dict[str, Any]:
        try:
            body = orjson.loads(req.body or b"{}")
        except orjson.JSONDecodeError as exc:
            raise error(req, 400, f"Invalid input JSON: {exc}", "VALIDATION_ERROR") from None
        if not isinstance(body, dict):
            raise error(req, 400, "Invalid input JSON: expected an object", "VALIDATION_ERROR")
        return body

    def _batch_read(self, req: Request, obj: str) -> Response:
        body = self._json_body(req)
        inputs = batch_inputs(req, body, '{"id"}')
        if len(inputs) > 100:
            raise error(req, 400, f"Batch input limit is 100 but {len(inputs)} were given",
                        "VALIDATION_ERROR", context={"limit": ["100"]})
        if body.get("idProperty") not in (None, "", "hs_object_id"):
            raise error(req, 400, "idProperty is not supported by the sandbox; use record ids",
                        "VALIDATION_ERROR")
        archived = parse_bool(req.q1("archived"))
        sel = self.selection(obj, [str(p) for p in body.get("properties") or []])
        history = [str(p) for p in body.get("propertiesWithHistory") or []]
        store = self.ds.stores[obj]
        results, missing = [], []
        started = iso_ms(int(time.time() * 1000))
        for item in inputs:
            raw = str(item.get("id", ""))
            try:
                i = self._index(req, obj, raw)
            except ApiError:
                i = -1
            if i < 0 or store.is_archived(i) != archived:
                missing.append(raw)
                continue
            results.append(self.record(obj, i, sel, history))
        out: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if missing:
            out["numErrors"] = 1
            out["errors"] = [{
                "status": "error", "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {hs.OBJECT_TYPES[obj][1].upper()} objects, they "
                           "may be deleted or not exist. Check that ids are valid.",
                "context": {"ids": missing}}]
        out["startedAt"] = started
        out["completedAt"] = iso_ms(int(time.time() * 1000))
        return json_response(207 if missing else 200, out)


def malformed_target(store: ObjectStore, archived: bool | None, at: float) -> int:
    """The record after which the malformed extra is injected (-1: set is empty).

    ``at`` in [0, 1] is the relative position; negative means "derived from the seed", so
    every object gets it on a different, but always the same, page.
    """
    size = store.size(archived)
    if not size:
        return -1
    frac = at if at >= 0 else (mix64(store.key ^ (0xBAD + int(bool(archived)))) % 1000) / 1000
    return store.select(min(size - 1, int(frac * size)), archived)
