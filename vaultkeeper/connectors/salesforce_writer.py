"""Salesforce writer: sObject Collections (200 records a request), queryAll, SOAP undelete.

Creates, updates and deletes go through ``/composite/sobjects`` with ``allOrNone=false``, so
Salesforce answers one ``{id, success, errors}`` per record and the good records are written.
Lookups (``AccountId`` …) are plain fields: relinking is an update. Deleted records sit in the
recycle bin (15 days) and come back *with their ids* through the SOAP API's ``undelete()``
call — REST has no undelete resource (docs/connectors.md, "Writing back"). Usage is read
from ``Sforce-Limit-Info``; ``REQUEST_LIMIT_EXCEEDED`` for the daily allocation stops the
run (exit 6), the concurrency limit and 5xx are retried.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote_plus
from xml.sax.saxutils import escape

import httpx
import orjson

from vaultkeeper import registry
from vaultkeeper.connectors.file_writer import SalesforceFileWriter
from vaultkeeper.connectors.salesforce import salesforce_validate
from vaultkeeper.connectors.writer import (
    CrmWriter,
    LinkSpec,
    LiveRecord,
    NewRecord,
    RecordUpdate,
    Status,
    WritableFields,
    WriteOutcome,
    WriterCapabilities,
    WriteResult,
    chunks,
    distinct_batches,
)
from vaultkeeper.errors import ConnectorError
from vaultkeeper.registry import WriterEndpoint

COLLECTION_MAX = 200
API_VERSION = "59.0"
"""The REST API version when ``[source] api_version`` names none."""
_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_FETCH_CHUNK = 100  # ids per SOQL IN (...) so the query URL stays short


def write_validate(response: httpx.Response) -> None:
    """Let 400/404 error arrays through (per-record reasons); SOAP faults are not retried."""
    status = response.status_code
    if status in (400, 404):
        return
    if status == 500 and b"faultcode" in response.content:
        fault = re.search(rb"<faultstring>(.*?)</faultstring>", response.content, re.S)
        text = fault.group(1).decode(errors="replace") if fault else response.text[:300]
        raise ConnectorError(f"Salesforce SOAP fault: {text}")
    salesforce_validate(response)


class SalesforceWriter(CrmWriter):
    """Writes records and lookups into a Salesforce org through the REST API."""

    name = "salesforce"
    capabilities = WriterCapabilities(batch_size=COLLECTION_MAX, link_batch_size=COLLECTION_MAX,
                                      undelete=True, inline_links=True,
                                      legacy_id_property=False)

    def __init__(self, at: WriterEndpoint, *, batch_size: int = COLLECTION_MAX,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        version = (at.api_version or API_VERSION).lstrip("v")
        self._connect(at, validate=write_validate, sleep=sleep, batch_size=batch_size,
                      on_response=self._note_usage)
        self.token = at.token
        self.root = f"/services/data/v{version}"
        self.soap_path = f"/services/Soap/u/{version}"
        self.api_usage = ""
        self._describe: dict[str, dict[str, Any]] = {}
        self._fields: dict[str, WritableFields] = {}

    def _note_usage(self, response: httpx.Response) -> None:
        usage = response.headers.get("Sforce-Limit-Info")
        if usage:
            self.api_usage = usage

    def _counted(self, run: Callable[[], WriteResult]) -> WriteResult:
        before = self.http.stats.requests
        result = run()
        result.requests = self.http.stats.requests - before
        return result

    def _send(self, method: str, url: str, body: Any = None) -> tuple[int, Any]:
        response = self.http.request(method, url, json=body)
        if not response.content:
            return response.status_code, None
        try:
            return response.status_code, orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return response.status_code, [{"message": response.text[:300], "errorCode": ""}]

    @staticmethod
    def _reason(errors: Any) -> tuple[str, str]:
        """(message, code) from per-record ``errors`` or a top-level error array."""
        if not isinstance(errors, list) or not errors:
            return (str(errors)[:300] if errors else "Salesforce gave no reason"), ""
        parts, code = [], ""
        for err in errors:
            if not isinstance(err, dict):
                continue
            c = str(err.get("statusCode") or err.get("errorCode") or "")
            code = code or c
            fields = err.get("fields") or []
            where = f" ({', '.join(map(str, fields))})" if fields else ""
            parts.append(f"{c}: {err.get('message', '')}{where}")
        return "; ".join(parts), code

    # -- schema ----------------------------------------------------------------------------
    def file_writer(self) -> SalesforceFileWriter:
        """ContentVersions (with their document links) and legacy Attachments."""
        return SalesforceFileWriter(self)

    def describe(self, obj: str) -> dict[str, Any]:
        """The object's describe (cached)."""
        if not _NAME.match(obj):
            raise ConnectorError(f"not a Salesforce object name: {obj!r}")
        if obj not in self._describe:
            self._describe[obj] = self.http.get_json(f"{self.root}/sobjects/{obj}/describe")
        return self._describe[obj]

    def writable_fields(self, obj: str) -> WritableFields:
        """``createable`` / ``updateable`` fields from describe."""
        if obj not in self._fields:
            fields = self.describe(obj).get("fields", [])
            create = frozenset(f["name"] for f in fields if f.get("createable"))
            update = frozenset(f["name"] for f in fields if f.get("updateable"))
            every = frozenset(f["name"] for f in fields)
            self._fields[obj] = WritableFields(obj, create, update, every - create - update)
        return self._fields[obj]

    def _lookup_field(self, obj: str, link: LinkSpec) -> str:
        if link.kind:
            return link.kind
        fields = [f["name"] for f in self.describe(obj).get("fields", [])
                  if f.get("type") == "reference" and link.to_object in (f.get("referenceTo")
                                                                          or [])]
        if len(fields) != 1:
            raise ConnectorError(f"cannot tell which lookup field of {obj} points at "
                                 f"{link.to_object} ({', '.join(fields) or 'none'})",
                                 "give the field name as the link kind")
        return fields[0]

    # -- reads -----------------------------------------------------------------------------
    def _query(self, soql: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        url: str | None = f"{self.root}/queryAll/?q={quote_plus(soql)}"
        while url:
            body = self.http.get_json(url)
            rows.extend(body.get("records") or [])
            url = None if body.get("done", True) else body.get("nextRecordsUrl")
        return rows

    def fetch(self, obj: str, ids: Sequence[str],
              properties: Sequence[str] = ()) -> dict[str, LiveRecord]:
        """queryAll by Id (deleted rows included, ``IsDeleted`` tells them apart)."""
        self.describe(obj)
        names = [p for p in dict.fromkeys(["Id", "IsDeleted", "SystemModstamp", *properties])
                 if _NAME.match(p)]
        wanted = [i for i in dict.fromkeys(ids) if _ID.match(i)]
        found: dict[str, LiveRecord] = {}
        for batch in chunks(wanted, _FETCH_CHUNK):
            # Names passed _NAME and ids passed _ID: nothing can escape the quotes.
            soql = (f"SELECT {', '.join(names)} FROM {obj} "  # noqa: S608
                    f"WHERE Id IN ({', '.join(repr(str(i)) for i in batch)})")
            for row in self._query(soql):
                row.pop("attributes", None)
                rid = str(row["Id"])
                record = LiveRecord(rid, row, bool(row.get("IsDeleted")),
                                    row.get("SystemModstamp") if row.get("IsDeleted") else None)
                found[rid] = record
                found.setdefault(rid[:15], record)
        return {i: found[i] for i in ids if i in found}

    def identity_fields(self, obj: str) -> list[str]:
        """External-id and unique fields from describe (external ids first)."""
        fields = self.describe(obj).get("fields", [])
        return ([f["name"] for f in fields if f.get("externalId")]
                + [f["name"] for f in fields if f.get("unique") and not f.get("externalId")])

    def find_by_property(self, obj: str, prop: str, values: Sequence[str]) -> dict[str, str]:
        """Live records whose ``prop`` is one of ``values`` (SOQL ``IN``)."""
        if not _NAME.match(prop):
            raise ConnectorError(f"not a Salesforce field name: {prop!r}")
        self.describe(obj)
        out: dict[str, str] = {}
        for batch in chunks(list(dict.fromkeys(values)), _FETCH_CHUNK):
            quoted = ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
                               for v in batch)
            soql = f"SELECT Id, {prop} FROM {obj} WHERE {prop} IN ({quoted})"  # noqa: S608
            for row in self._query(soql):
                if not row.get("IsDeleted") and row.get(prop) is not None:
                    out.setdefault(str(row[prop]), str(row["Id"]))
        return out

    # -- writes ----------------------------------------------------------------------------
    def _collection(self, method: str, records: list[dict[str, Any]],
                    keys: list[str], ids: list[str | None], ok: Status) -> WriteResult:
        """One sObject Collections call; a request refused as a whole is split."""
        status, body = self._send(method, f"{self.root}/composite/sobjects",
                                  {"allOrNone": False, "records": records})
        if status >= 400 or not isinstance(body, list) or len(body) != len(records):
            if len(records) > 1 and status >= 400:
                half = len(records) // 2
                result = self._collection(method, records[:half], keys[:half], ids[:half], ok)
                result.extend(self._collection(method, records[half:], keys[half:],
                                               ids[half:], ok))
                return result
            message, code = self._reason(body)
            return WriteResult([WriteOutcome(k, "failed", i, message, code)
                                for k, i in zip(keys, ids, strict=True)])
        result = WriteResult()
        for key, rid, item in zip(keys, ids, body, strict=True):
            if item.get("success"):
                result.outcomes.append(WriteOutcome(key, ok, str(item.get("id") or rid)))
            else:
                message, code = self._reason(item.get("errors"))
                result.outcomes.append(WriteOutcome(key, "failed", rid, message, code))
        return result

    def create(self, obj: str, records: Sequence[NewRecord]) -> WriteResult:
        """Insert (200 a request); ``links`` become lookup fields of the insert."""
        fields = self.writable_fields(obj)

        def run() -> WriteResult:
            result = WriteResult()
            for batch in chunks(list(records), self.batch_size):
                rows = []
                for rec in batch:
                    row = {"attributes": {"type": obj}, **fields.for_create(rec.properties)}
                    for link in rec.links:
                        row[self._lookup_field(obj, link)] = link.to_id
                    rows.append(row)
                result.extend(self._collection("POST", rows, [r.key for r in batch],
                                               [None] * len(batch), "created"))
            return result
        return self._counted(run)

    def update(self, obj: str, updates: Sequence[RecordUpdate]) -> WriteResult:
        """Update (200 a request); an id twice in one call waits for the next request."""
        fields = self.writable_fields(obj)

        def run() -> WriteResult:
            placed: list[tuple[int, WriteOutcome]] = []
            for batch in distinct_batches(list(updates), self.batch_size):
                rows = [{"attributes": {"type": obj}, "Id": u.id,
                         **fields.for_update(u.properties)} for _, u in batch]
                done = self._collection("PATCH", rows, [u.key or u.id for _, u in batch],
                                        [u.id for _, u in batch], "updated")
                placed.extend(zip([n for n, _ in batch], done.outcomes, strict=True))
            return WriteResult([o for _, o in sorted(placed, key=lambda p: p[0])])
        return self._counted(run)

    def archive(self, obj: str, ids: Sequence[str]) -> WriteResult:
        """Delete to the recycle bin (200 ids a request)."""
        def run() -> WriteResult:
            result = WriteResult()
            for batch in chunks(list(ids), self.batch_size):
                url = (f"{self.root}/composite/sobjects?allOrNone=false&ids="
                       + ",".join(quote_plus(i) for i in batch))
                status, body = self._send("DELETE", url)
                if status >= 400 or not isinstance(body, list):
                    message, code = self._reason(body)
                    result.outcomes.extend(WriteOutcome(i, "failed", i, message, code)
                                           for i in batch)
                    continue
                for rid, item in zip(batch, body, strict=True):
                    if item.get("success"):
                        result.outcomes.append(WriteOutcome(rid, "archived", rid))
                    else:
                        message, code = self._reason(item.get("errors"))
                        result.outcomes.append(WriteOutcome(rid, "failed", rid, message, code))
            return result
        return self._counted(run)

    def restore(self, obj: str, ids: Sequence[str]) -> WriteResult:
        """Undelete from the recycle bin via the SOAP API (200 ids a call); ids are kept."""
        def run() -> WriteResult:
            result = WriteResult()
            for batch in chunks(list(ids), self.batch_size):
                envelope = (
                    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
                    '"http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn='
                    '"urn:partner.soap.sforce.com"><soapenv:Header><urn:SessionHeader>'
                    f"<urn:sessionId>{escape(self.token)}</urn:sessionId></urn:SessionHeader>"
                    "</soapenv:Header><soapenv:Body><urn:undelete>"
                    + "".join(f"<urn:ids>{escape(i)}</urn:ids>" for i in batch)
                    + "</urn:undelete></soapenv:Body></soapenv:Envelope>")
                response = self.http.request(
                    "POST", self.soap_path, content=envelope.encode(),
                    headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "undelete"})
                result.outcomes.extend(_undelete_results(response.content, list(batch)))
            return result
        return self._counted(run)

    def link(self, links: Sequence[LinkSpec]) -> WriteResult:
        """Set lookup fields (one update per record, 200 records a request)."""
        def run() -> WriteResult:
            per_record: dict[tuple[str, str], dict[str, Any]] = {}
            members: dict[tuple[str, str], list[int]] = {}
            for n, spec in enumerate(links):
                key = (spec.from_object, spec.from_id)
                per_record.setdefault(key, {})[self._lookup_field(spec.from_object, spec)] = \
                    spec.to_id
                members.setdefault(key, []).append(n)
            outcomes: dict[int, WriteOutcome] = {}
            by_object: dict[str, list[tuple[str, str]]] = {}
            for key in per_record:
                by_object.setdefault(key[0], []).append(key)
            for obj, keys in by_object.items():
                updates = [RecordUpdate(k[1], per_record[k], key=k[1]) for k in keys]
                done = self.update(obj, updates)
                for k, outcome in zip(keys, done.outcomes, strict=True):
                    for n in members[k]:
                        outcomes[n] = WriteOutcome(
                            str(n), "linked" if outcome.ok else "failed", outcome.id,
                            outcome.error, outcome.code)
            return WriteResult([outcomes[n] for n in range(len(links))])
        return self._counted(run)


def _undelete_results(content: bytes, ids: list[str]) -> list[WriteOutcome]:
    """Parse an ``undeleteResponse`` (one ``result`` per id, in order)."""
    try:
        root = ET.fromstring(content)  # noqa: S314 - the org's own answer to our call
    except ET.ParseError as exc:
        raise ConnectorError(
            f"Salesforce undelete answered something that is not XML: {exc}") from None

    def local(el: ET.Element) -> str:
        return el.tag.rsplit("}", 1)[-1]

    results = [el for el in root.iter() if local(el) == "result"]
    out = []
    for n, rid in enumerate(ids):
        el = results[n] if n < len(results) else None
        if el is None:
            out.append(WriteOutcome(rid, "failed", rid, "Salesforce returned no result", ""))
            continue
        values = {local(c): (c.text or "") for c in el}
        if values.get("success") == "true":
            out.append(WriteOutcome(rid, "undeleted", values.get("id") or rid))
            continue
        errors = [{local(c): (c.text or "") for c in e} for e in el if local(e) == "errors"]
        message = "; ".join(f"{e.get('statusCode', '')}: {e.get('message', '')}"
                            for e in errors) or "undelete failed"
        code = errors[0].get("statusCode", "") if errors else ""
        out.append(WriteOutcome(rid, "failed", rid, message, code))
    return out


registry.register_writer(SalesforceWriter.name, SalesforceWriter)
