"""Salesforce Bulk API 2.0 query jobs for large objects: create a ``queryAll`` job, poll it,
page through its CSV results by ``Sforce-Locator``, and type every value the way the REST API
writes it, so both paths give the same records (and the same content digest).

A failed or aborted job is created again (``retries`` times) and then reported; a result that
holds fewer rows than the job says it processed is an error, never a silently short object.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from vaultkeeper.connectors.http import HttpClient
from vaultkeeper.errors import ConnectorError, PaginationError
from vaultkeeper.models import ObjectSpec

BULK_SKIPPED_TYPES = frozenset({"address", "location", "base64"})
"""Bulk queries cannot select compound or base64 fields; compounds are rebuilt from parts."""
_FLOATS = frozenset({"double", "currency", "percent"})
_INTS = frozenset({"int", "long"})


class BulkJobFailed(ConnectorError):
    """A Bulk API job ended Failed or Aborted."""


def typed(value: str, kind: str) -> Any:
    """A Bulk CSV cell as the REST API's JSON value of a field of type ``kind``."""
    if value == "":
        return None   # Salesforce stores no empty strings: an empty cell is null
    if kind == "boolean":
        return value.lower() == "true"
    if kind in _INTS:
        return int(float(value)) if "." in value or "E" in value else int(value)
    if kind in _FLOATS:
        return float(value)
    if kind == "datetime" and value.endswith("Z"):
        return value[:-1] + "+0000"   # REST writes …000+0000 where Bulk writes …000Z
    return value


def compound_parts(describe: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Compound field → [(component field, key in the compound value)] from a describe."""
    out: dict[str, list[tuple[str, str]]] = {}
    for f in describe.get("fields", []):
        parent = f.get("compoundFieldName")
        if not parent:
            continue
        name = str(f["name"])
        prefix = str(parent)[: -len("Address")] if str(parent).endswith("Address") else ""
        rest = name[len(prefix):] if prefix and name.startswith(prefix) else name
        key = rest.replace("__s", "").replace("__c", "")
        out.setdefault(str(parent), []).append((name, key[:1].lower() + key[1:]))
    return out


def bulk_fields(obj: ObjectSpec) -> list[str]:
    """The fields a bulk query selects: every exported field but compound/base64 ones."""
    kinds = _kinds(obj)
    return [p for p in obj.properties if kinds.get(p) not in BULK_SKIPPED_TYPES]


def _kinds(obj: ObjectSpec) -> dict[str, str]:
    fields = obj.schema.get("fields", []) if isinstance(obj.schema, dict) else []
    return {str(f["name"]): str(f.get("type", "string")) for f in fields}


@dataclass(eq=False)
class BulkReader:
    """Runs Bulk API 2.0 query jobs through the connector's HTTP client."""

    http: HttpClient
    root: str
    _: KW_ONLY
    max_records: int = 50_000
    retries: int = 2
    poll_s: float = 0.5
    poll_max_s: float = 10.0
    timeout_s: float = 6 * 3600.0
    on_note: Callable[[str], None] | None = None
    jobs: int = field(init=False, default=0)
    """Bulk query jobs created so far."""

    def rows(self, obj: ObjectSpec) -> Iterator[dict[str, Any]]:
        """Every row (deleted ones too) of ``obj`` as REST-shaped, typed dicts."""
        fields = bulk_fields(obj)
        soql = f"SELECT {', '.join(fields)} FROM {obj.vendor_name}"  # noqa: S608 (names checked)
        job_id = ""
        for attempt in range(self.retries + 1):
            job_id = self._create(soql)
            try:
                processed = self._wait(job_id, obj.name)
                break
            except BulkJobFailed as exc:
                self._delete(job_id)
                if attempt >= self.retries:
                    raise ConnectorError(
                        f"{obj.name}: Bulk API job failed {attempt + 1} times ({exc.message})",
                        "run the export again, or raise [source] bulk_threshold above this "
                        "object's size so it is read through the REST API") from None
                if self.on_note:
                    self.on_note(f"{obj.name}: bulk job {job_id} failed ({exc.message}); "
                                 "created it again")
        kinds = _kinds(obj)
        compounds = {c: parts for c, parts in compound_parts(obj.schema).items()
                     if c in obj.properties}
        seen = 0
        try:
            for row in self._results(job_id, obj.name):
                seen += 1
                yield self._shape(obj, row, kinds, compounds)
        finally:
            self._delete(job_id)
        if seen != processed:
            raise ConnectorError(f"{obj.name}: the bulk job processed {processed} records but "
                                 f"its results held {seen}", "run the export again")

    def _create(self, soql: str) -> str:
        body = self.http.post_json(f"{self.root}/jobs/query", {
            "operation": "queryAll", "query": soql, "contentType": "CSV",
            "columnDelimiter": "COMMA", "lineEnding": "LF"})
        self.jobs += 1
        if not isinstance(body, dict) or not body.get("id"):
            raise ConnectorError("Salesforce created a bulk job without an id")
        return str(body["id"])

    def _wait(self, job_id: str, name: str) -> int:
        waited, delay = 0.0, self.poll_s
        while True:
            info = self.http.get_json(f"{self.root}/jobs/query/{job_id}")
            state = info.get("state") if isinstance(info, dict) else None
            if state == "JobComplete":
                return int(info.get("numberRecordsProcessed") or 0)
            if state in ("Failed", "Aborted"):
                raise BulkJobFailed(f"{state}: {info.get('errorMessage') or 'no reason given'}")
            if state not in ("UploadComplete", "InProgress", "Open"):
                raise ConnectorError(f"{name}: bulk job {job_id} in unknown state {state!r}")
            if waited > self.timeout_s:
                raise ConnectorError(f"{name}: bulk job {job_id} did not finish within "
                                     f"{self.timeout_s:.0f} s", "run the export again later")
            self.http.sleep(delay)
            waited += delay
            delay = min(self.poll_max_s, delay * 2)

    def _results(self, job_id: str, name: str) -> Iterator[dict[str, str]]:
        locator: str | None = None
        seen_locators: set[str] = set()
        while True:
            params = {"maxRecords": str(self.max_records)}
            if locator:
                params["locator"] = locator
            response = self.http.request("GET", f"{self.root}/jobs/query/{job_id}/results",
                                         params=params, headers={"Accept": "text/csv"})
            reader = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))
            count = 0
            for row in reader:
                count += 1
                yield row
            stated = response.headers.get("Sforce-NumberOfRecords")
            if stated is not None and int(stated) != count:
                raise PaginationError(f"{name}: a bulk result page said {stated} records but "
                                      f"held {count}", "run the export again")
            nxt = response.headers.get("Sforce-Locator")
            if nxt is None:
                raise PaginationError(f"{name}: a bulk result page has no Sforce-Locator header",
                                      "run the export again")
            if nxt == "null":
                return
            if nxt in seen_locators:
                raise PaginationError(f"{name}: bulk results repeat locator {nxt}",
                                      "run the export again")
            seen_locators.add(nxt)
            locator = nxt

    def _shape(self, obj: ObjectSpec, row: dict[str, str], kinds: dict[str, str],
               compounds: dict[str, list[tuple[str, str]]]) -> dict[str, Any]:
        record_id = row.get("Id") or ""
        out: dict[str, Any] = {"attributes": {
            "type": obj.vendor_name, "url": f"{self.root}/sobjects/{obj.vendor_name}/{record_id}"}}
        for name in obj.properties:
            if name in compounds:
                parts = {key: typed(row.get(part, ""), kinds.get(part, "string"))
                         for part, key in compounds[name]}
                out[name] = parts if any(v is not None for v in parts.values()) else None
            elif name in row:
                out[name] = typed(row[name], kinds.get(name, "string"))
        return out

    def _delete(self, job_id: str) -> None:
        try:
            self.http.request("DELETE", f"{self.root}/jobs/query/{job_id}")
        except ConnectorError:
            pass   # results expire on their own after 7 days; a failed clean-up loses nothing
