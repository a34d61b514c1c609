"""Salesforce REST emulation: versions, describe, query/queryAll/queryMore, limits, errors."""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from vaultkeeper.sandbox import sf_schema as sf
from vaultkeeper.sandbox import wire
from vaultkeeper.sandbox.data import AS_OF_MS, SF_RECYCLE_MS, Dataset
from vaultkeeper.sandbox.faults import Decision, FaultConfig
from vaultkeeper.sandbox.hubspot import malformed_target
from vaultkeeper.sandbox.sf_bulk import BulkJobs
from vaultkeeper.sandbox.sf_query import Executor, Plan
from vaultkeeper.sandbox.sf_write import SalesforceWrites
from vaultkeeper.sandbox.soql import SoqlError, parse_datetime
from vaultkeeper.sandbox.wire import ApiError, Request, Response, json_response

API_DAILY_MAX = 15_000
MAX_LOCATORS = 10  # Salesforce keeps at most 10 open query cursors per user
LOCATOR_IDLE_S = 15 * 60
_VERSION = re.compile(r"^v(\d{2,3}\.\d)$")
_CURSOR = re.compile(r"/(query|queryAll)/([0-9A-Za-z]{15,18})-(\d+)$")
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
JSON_SF = "application/json;charset=UTF-8"


def sf_error(status: int, code: str, message: str, fields: list[str] | None = None) -> ApiError:
    """A Salesforce error: a JSON *array* of ``{message, errorCode[, fields]}``."""
    body: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        body["fields"] = fields
    return ApiError(json_response(status, [body], content_type=JSON_SF))


def version_label(version: str) -> str:
    """``59.0`` → ``Winter '24`` (three releases a year)."""
    k = int(float(version)) - 59
    return f"{('Winter', 'Spring', 'Summer')[k % 3]} '{24 + k // 3:02d}"


@dataclass
class Cursor:
    """An open query locator."""

    plan: Plan
    batch: int
    used: float


class SalesforceApi:
    """Answers Salesforce requests for one dataset."""

    def __init__(self, ds: Dataset, faults: FaultConfig) -> None:
        self.ds = ds
        self.faults = faults
        self.executor = Executor(ds)
        self.bulk = BulkJobs(self.executor, faults)
        self.writes = SalesforceWrites(self)
        self.base_url = ""
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._lock = threading.Lock()
        self._next_locator = 0
        self._malformed: dict[str, int] = {}
        if faults.on("malformed"):
            at = faults.param("malformed", "at")
            for name in sf.FIELDS:
                self._malformed[name] = malformed_target(sf.store_of(ds, name), False, at)

    # -- framing ---------------------------------------------------------------------------
    @staticmethod
    def is_cursor(path: str) -> bool:
        """True for ``query/{locator}-{offset}`` (5xx faults only hit those)."""
        return _CURSOR.search(path.rstrip("/")) is not None

    @staticmethod
    def headers(decision: Decision) -> list[tuple[str, str]]:
        """``Sforce-Limit-Info`` on every response."""
        used = API_DAILY_MAX if decision.error == "daily_limit" else \
            min(decision.k, API_DAILY_MAX)
        return [("Sforce-Limit-Info", f"api-usage={used}/{API_DAILY_MAX}")]

    @staticmethod
    def unauthorized(req: Request, token_given: bool) -> Response:
        """401 INVALID_SESSION_ID."""
        return sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid").response

    @staticmethod
    def fault_response(req: Request) -> Response:
        """The response for an injected limit error or 5xx."""
        d = req.decision
        if d.error == "rate_limit":
            # The retryable concurrency limit, distinct from the daily allocation below.
            return sf_error(403, "REQUEST_LIMIT_EXCEEDED",
                            "ConcurrentPerOrgLongTxn Limit exceeded").response
        if d.error == "daily_limit":
            return sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.").response
        if d.status == 502:
            return wire.html_response(502, wire.NGINX_502)
        if d.status == 503:
            return sf_error(503, "SERVER_UNAVAILABLE", "Server Unavailable").response
        return sf_error(500, "UNKNOWN_EXCEPTION",
                        "An unexpected error occurred. Please include this ErrorId if you contact "
                        f"support: {req.k:010d}-{req.k % 99991:05d} (-{req.k % 2**31})").response

    # -- routing ---------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        """Route one authenticated request."""
        try:
            return self._route(req)
        except SoqlError as exc:
            return sf_error(400, exc.code, exc.message).response
        except ApiError as exc:
            return exc.response

    def _route(self, req: Request) -> Response:
        if req.path.startswith("/services/Soap/") and req.method == "POST":
            return self.writes.soap(req)
        parts = [p for p in req.path.split("/") if p][2:]  # drop "services", "data"
        if len(parts) >= 2 and parts[1] == "jobs" and _VERSION.match(parts[0]):
            return self.bulk.handle(req, parts[0][1:], parts[2:])   # Bulk API 2.0 (sf_bulk)
        if req.method != "GET":
            m = _VERSION.match(parts[0]) if parts else None
            written = self.writes.route(req, parts[1:]) if m else None
            if written is not None:
                return written
            raise sf_error(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{req.method}' not allowed. "
                           "Allowed are GET,HEAD")
        if not parts:
            return json_response(200, [{"label": version_label(f"{v}.0"), "url":
                                        f"/services/data/v{v}.0", "version": f"{v}.0"}
                                       for v in range(31, 65)], content_type=JSON_SF)
        m = _VERSION.match(parts[0])
        if not m:
            raise sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        version, rest = m.group(1), parts[1:]
        root = f"/services/data/v{version}"
        if not rest:
            return json_response(200, {k: f"{root}/{k}" for k in (
                "sobjects", "query", "queryAll", "limits", "search", "recent")},
                content_type=JSON_SF)
        head = rest[0]
        if head in ("query", "queryAll"):
            if len(rest) == 2:
                return self._query_more(req, version, rest[1])
            if len(rest) == 1:
                return self._query(req, version, head == "queryAll")
        if head == "limits" and len(rest) == 1:
            return self._limits(req)
        if head == "sobjects":
            return self._sobjects(req, version, rest[1:])
        raise sf_error(404, "NOT_FOUND", "The requested resource does not exist")

    # -- query -----------------------------------------------------------------------------
    def _batch_size(self, req: Request, default: int = 2000) -> int:
        header = req.header("Sforce-Query-Options") or ""
        m = re.search(r"batchSize\s*=\s*(\d+)", header)
        if not m:
            return default
        return max(200, min(2000, int(m.group(1))))

    def _query(self, req: Request, version: str, include_deleted: bool) -> Response:
        text = req.q1("q")
        if text is None:
            raise sf_error(400, "MALFORMED_QUERY", "A query string has to be specified")
        plan = self.executor.plan(text, include_deleted)
        q = plan.query
        if q.count:
            return json_response(200, {"totalSize": plan.total, "done": True, "records": []},
                                 content_type=JSON_SF)
        if q.count_field:
            return json_response(200, {"totalSize": 1, "done": True, "records": [
                {"attributes": {"type": "AggregateResult"}, "expr0": plan.total}]},
                content_type=JSON_SF)
        batch = self._batch_size(req)
        locator = None
        if plan.total > batch:
            locator = self._open(plan, batch)
        return self._page(req, version, plan, locator, 0, batch)

    def _open(self, plan: Plan, batch: int) -> str:
        with self._lock:
            self._next_locator += 1
            n, digits = self._next_locator, []
            for _ in range(9):
                n, d = divmod(n, 62)
                digits.append(_B62[d])
            locator = sf.full_id("01g5g0000" + "".join(reversed(digits))[3:])
            self._cursors[locator] = Cursor(plan, batch, time.monotonic())
            while len(self._cursors) > MAX_LOCATORS:
                self._cursors.popitem(last=False)  # the oldest cursor is closed, like SF does
            return locator

    def _query_more(self, req: Request, version: str, token: str) -> Response:
        locator, _, offset = token.rpartition("-")
        now = time.monotonic()
        with self._lock:
            cursor = self._cursors.get(locator)
            if cursor is not None and now - cursor.used > LOCATOR_IDLE_S:
                del self._cursors[locator]
                cursor = None
            if cursor is not None:
                cursor.used = now
                self._cursors.move_to_end(locator)
        if cursor is None or not offset.isdigit():
            raise sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        batch = self._batch_size(req, cursor.batch)
        return self._page(req, version, cursor.plan, locator, int(offset), batch)

    def _page(self, req: Request, version: str, plan: Plan, locator: str | None, start: int,
              batch: int) -> Response:
        if req.decision.short and batch > 1:
            batch = max(1, batch // 2)
            req.faults.count("fault.short")
        target = self._malformed.get(plan.sobject, -1)
        records: list[Any] = []
        end = start
        for i in self.executor.indices(plan, start, batch):
            records.append(self.executor.row(plan, i, version))
            end += 1
            if i == target:
                records.append(self._malformed_row(plan.sobject, version))
                req.faults.count("fault.malformed")
        body: dict[str, Any] = {"totalSize": plan.total, "done": end >= plan.total}
        if end < plan.total:
            if locator is None:  # a short page of a query that fitted one batch
                locator = self._open(plan, batch)
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        body["records"] = records
        return json_response(200, body, content_type=JSON_SF)

    @staticmethod
    def _malformed_row(sobject: str, version: str) -> Any:
        kind = sf.KEY_PREFIX[sobject][-1]
        if kind in "1T":
            return {"attributes": {"type": sobject}, "Name": "<<row truncated>>"}
        if kind == "3":
            return {"attributes": {"type": sobject, "url": f"/services/data/v{version}/sobjects/"
                                   f"{sobject}/"}, "Id": None}
        return "<<corrupted row>>"

    # -- describe and records --------------------------------------------------------------
    def _sobjects(self, req: Request, version: str, rest: list[str]) -> Response:
        if not rest:
            names = [*sf.FIELDS, *(n for n, _, _ in sf.NON_QUERYABLE)]
            return json_response(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [
                sf.global_entry(n, version) for n in sorted(names)]}, content_type=JSON_SF)
        name = next((n for n in sf.FIELDS if n.lower() == rest[0].lower()), None)
        if name is None:
            extra = next((n for n in sf.DESCRIBE_ONLY if n.lower() == rest[0].lower()), None)
            if extra is not None and rest[1:] in ([], ["describe"]):
                return json_response(200, self._describe(extra, version) if rest[1:] else {
                    "objectDescribe": sf.global_entry(extra, version), "recentItems": []},
                    content_type=JSON_SF)
            raise sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        if len(rest) == 1:
            return json_response(200, {"objectDescribe": sf.global_entry(name, version),
                                       "recentItems": []}, content_type=JSON_SF)
        if rest[1:] == ["describe"]:
            return json_response(200, self._describe(name, version), content_type=JSON_SF)
        if rest[1] in ("deleted", "updated") and len(rest) == 2:
            return self._replication(req, name, rest[1] == "deleted")
        if len(rest) == 2:
            return self._record(req, version, name, rest[1])
        raise sf_error(404, "NOT_FOUND", "The requested resource does not exist")

    def _describe(self, name: str, version: str) -> dict[str, Any]:
        entry = sf.global_entry(name, version)
        children = []
        for child, fields in sf.FIELDS.items():
            for f in fields:
                if name in f[6] and f[7] not in ("MasterRecord", "Parent"):
                    children.append({"cascadeDelete": False, "childSObject": child,
                                     "deprecatedAndHidden": False, "field": f[0],
                                     "relationshipName": f"{child}s" if child != "Opportunity"
                                     else "Opportunities", "restrictedDelete": False})
        return {**entry, "childRelationships": children,
                "fields": [sf.field_describe(f) for f in
                           sf.FIELDS.get(name) or sf.DESCRIBE_ONLY[name]],
                "recordTypeInfos": [{"active": True, "available": True, "defaultRecordTypeMapping":
                                     True, "developerName": "Master", "master": True,
                                     "name": "Master", "recordTypeId": "012000000000000AAA"}],
                "compactLayoutable": True, "hasSubtypes": False, "isSubtype": False,
                "namedLayoutInfos": [], "networkScopeFieldName": None,
                "supportedScopes": [{"label": "All", "name": "everything"}]}

    def _record(self, req: Request, version: str, name: str, raw_id: str) -> Response:
        i = sf.id_index(sf.KEY_PREFIX[name], raw_id)
        store = sf.store_of(self.ds, name)
        if i is None or not 0 <= i < store.count:
            raise sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        if store.is_archived(i):
            raise sf_error(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        vals = sf.values(self.ds, name, i)
        wanted = [f.strip() for f in (req.q1("fields") or "").split(",") if f.strip()]
        fmap = sf.field_map(name)
        chosen = [fmap[w.lower()][0] for w in wanted if w.lower() in fmap] or list(vals)
        out: dict[str, Any] = {"attributes": {
            "type": name, "url": f"/services/data/v{version}/sobjects/{name}/{vals['Id']}"}}
        out.update({k: vals[k] for k in chosen})
        return json_response(200, out, content_type=JSON_SF)

    def _replication(self, req: Request, name: str, deleted: bool) -> Response:
        try:
            start = parse_datetime(req.q1("start") or "")
            end = parse_datetime(req.q1("end") or "")
        except ValueError:
            raise sf_error(400, "INVALID_REPLICATION_DATE",
                           "start and end must be ISO 8601 datetimes, e.g. "
                           "2025-05-01T00:00:00Z") from None
        store = sf.store_of(self.ds, name)
        prefix = sf.KEY_PREFIX[name]
        if deleted:
            rows = []
            i = store.next_index(0, True)
            while i >= 0:
                when = store.deleted_ms(i)
                if start <= when <= end:
                    rows.append({"id": sf.sf_id(prefix, i), "deletedDate": sf.sf_datetime(when)})
                i = store.next_index(i + 1, True)
            return json_response(200, {"deletedRecords": rows,
                                       "earliestDateAvailable": sf.sf_datetime(
                                           AS_OF_MS - SF_RECYCLE_MS),
                                       "latestDateCovered": sf.sf_datetime(min(end, AS_OF_MS))},
                                 content_type=JSON_SF)
        ids = [sf.sf_id(prefix, i) for i in range(store.count)
               if not store.is_archived(i) and start <= store.modified_ms(i) <= end]
        return json_response(200, {"ids": ids,
                                   "latestDateCovered": sf.sf_datetime(min(end, AS_OF_MS))},
                             content_type=JSON_SF)

    def _limits(self, req: Request) -> Response:
        used = min(req.k, API_DAILY_MAX)
        return json_response(200, {
            "DailyApiRequests": {"Max": API_DAILY_MAX, "Remaining": API_DAILY_MAX - used},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DataStorageMB": {"Max": 1024, "Remaining": 800},
            "FileStorageMB": {"Max": 10240, "Remaining": 10000},
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
        }, content_type=JSON_SF)
