"""Salesforce REST connector: every queryable object via queryAll (deleted rows included).

Wide objects are split into several SOQL queries (Id plus a slice of the fields) so each URL stays
under the limit; all slices are ordered by Id and merged record by record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx
import orjson

from vaultkeeper import registry, shapes
from vaultkeeper.config import SourceSettings
from vaultkeeper.connectors.base import Connector, http_opener, require_token
from vaultkeeper.connectors.files_base import FileSource
from vaultkeeper.connectors.http import (
    HttpClient,
    SessionExpired,
    UrlTooLong,
    default_validate,
    json_body,
)
from vaultkeeper.connectors.paginate import NextUrlPaginator
from vaultkeeper.connectors.sf_auth import SalesforceSignIn, sign_in_from
from vaultkeeper.connectors.sf_bulk import BulkReader
from vaultkeeper.connectors.sf_changes import SalesforceChanges
from vaultkeeper.connectors.sf_files import SalesforceFiles
from vaultkeeper.connectors.sf_import_files import IMPORT_FILES
from vaultkeeper.errors import AuthError, ConnectorError, PaginationError, RetryableError
from vaultkeeper.models import Item, Malformed, ObjectSpec, Record, Relation, SourceCount
from vaultkeeper.registry import Fail, SourceKind
from vaultkeeper.shapes import Column, ObjectShape, getter, unique_columns

DEFAULT_ORDER = ("Account", "Contact", "Lead", "Opportunity", "OpportunityContactRole",
                 "Campaign", "CampaignMember", "Case", "Task", "Event", "Note")
# The REST API cannot return base64 bodies in a query (they come as URLs per record).
UNSELECTABLE_TYPES = frozenset({"base64"})
_ID = re.compile(r"^[A-Za-z0-9]{15,18}$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# SQLite column types by Salesforce type (REAL/INTEGER affinity; `_raw` keeps the exact value).
_MIRROR_TYPES = {"boolean": "INTEGER", "int": "INTEGER", "double": "REAL",
                 "currency": "REAL", "percent": "REAL", "long": "INTEGER"}


class LocatorExpired(ConnectorError):
    """INVALID_QUERY_LOCATOR: the server forgot our cursor; the query is re-anchored."""


def salesforce_validate(response: httpx.Response) -> None:
    """Salesforce error arrays → our error classes."""
    status = response.status_code
    if status < 400:
        return
    parsed = json_body(response)
    first = parsed[0] if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict) else {}
    code, message = str(first.get("errorCode", "")), str(first.get("message", ""))
    if code == "INVALID_SESSION_ID" or status == 401:
        raise SessionExpired(f"Salesforce refused the access token ({code or status}): "
                             f"{message}", "refresh the access token referenced by [source] "
                             "token, or let vaultkeeper sign in itself: [source] auth = jwt, "
                             "client_credentials or refresh_token")
    if code == "REQUEST_LIMIT_EXCEEDED":
        if "TotalRequests" in message:
            raise ConnectorError(f"Salesforce daily API limit reached: {message}",
                                 "wait for the rolling 24-hour allocation, or raise the org's "
                                 "API limit")
        raise RetryableError(f"REQUEST_LIMIT_EXCEEDED ({message})")
    if code == "INVALID_QUERY_LOCATOR":
        raise LocatorExpired(f"query cursor expired: {message}")
    if code:
        if status >= 500:
            raise RetryableError(f"HTTP {status} {code}")
        raise ConnectorError(f"Salesforce answered {code}: {message}")
    default_validate(response)


class SalesforceConnector(Connector):
    """Reads a Salesforce org through the REST API (describe + queryAll)."""

    name = "salesforce"
    version = "1"
    default_order = DEFAULT_ORDER

    def __init__(self, instance_url: str | None, token: str | None, *,
                 api_version: str = "59.0", ca_file: Path | None = None,
                 page_size: int | None = None, max_retries: int = 8, timeout: float = 60.0,
                 max_url_length: int = 12000, objects: Sequence[str] = (),
                 sign_in: SalesforceSignIn | None = None,
                 bulk_threshold: int | None = None) -> None:
        self.sign_in = sign_in
        if sign_in is not None:
            # The token answer names the org's instance: it wins over any configured URL.
            session = sign_in.sign_in()
            instance_url, token = session.instance_url, session.access_token
        if not instance_url or not token:
            raise AuthError("no Salesforce instance URL or access token",
                            "set [source] base_url and token, or a sign-in flow ([source] auth)")
        self.http = HttpClient(
            instance_url, headers={"Authorization": f"Bearer {token}"}, ca_file=ca_file,
            timeout=timeout, max_retries=max_retries, validate=salesforce_validate,
            on_response=self._note_usage, reauth=self._sign_in_again if sign_in else None)
        self.root = f"/services/data/v{api_version.lstrip('v')}"
        self.bulk_threshold = bulk_threshold
        """Objects with at least this many rows (deleted included) are read by Bulk API 2.0;
        None: never; 0: always."""
        self.bulk = BulkReader(self.http, self.root, on_note=self._notes_append)
        self._totals: dict[str, int] = {}
        self.read_via: dict[str, str] = {}
        batch = max(200, min(page_size or 2000, 2000))
        self.query_headers = {"Sforce-Query-Options": f"batchSize={batch}"}
        self.max_url_length = max_url_length
        self.wanted = tuple(objects)
        self.api_usage = ""
        self._specs: dict[str, ObjectSpec] = {}
        self._prefixes: dict[str, str] = {}
        self._notes: list[str] = []

    def discover(self) -> list[ObjectSpec]:
        """Queryable, replicable objects with every selectable field (describe kept whole)."""
        body = self.http.get_json(f"{self.root}/sobjects/")
        self._offered: list[str] = []
        names = []
        for sobject in body.get("sobjects", []):
            if sobject.get("keyPrefix"):
                self._prefixes[str(sobject["keyPrefix"])] = str(sobject["name"])
            if not sobject.get("queryable") or not sobject.get("replicateable", True) \
                    or not sobject.get("retrieveable", True):
                continue
            self._offered.append(str(sobject["name"]))
            if self.wanted and sobject["name"] not in self.wanted:
                continue
            if not _NAME.match(str(sobject["name"])):
                raise ConnectorError(f"Salesforce listed an object with an unusable name: "
                                     f"{sobject['name']!r}")
            names.append(str(sobject["name"]))
        for name in names:
            describe = self.http.get_json(f"{self.root}/sobjects/{name}/describe")
            fields = [f for f in describe.get("fields", [])
                      if f.get("type") not in UNSELECTABLE_TYPES]
            odd = [f["name"] for f in fields if not _NAME.match(str(f["name"]))]
            if odd:
                raise ConnectorError(f"Salesforce described {name} fields with unusable names: "
                                     f"{odd[:3]}")
            skipped = [f["name"] for f in describe.get("fields", [])
                       if f.get("type") in UNSELECTABLE_TYPES]
            if skipped:
                self._notes.append(f"{name}: base64 fields not exported: {', '.join(skipped)}")
            props = ("Id", *(f["name"] for f in fields if f["name"] != "Id"))
            self._specs[name] = ObjectSpec(name=name, primary_key="Id", properties=props,
                                           schema=describe, vendor_name=name)
        return list(self._specs.values())

    def _sign_in_again(self) -> dict[str, str]:
        assert self.sign_in is not None
        return {"Authorization": f"Bearer {self.sign_in.sign_in().access_token}"}

    def _notes_append(self, note: str) -> None:
        self._notes.append(note)

    def check_access(self) -> dict[str, object]:
        """Who we are signed in as and which objects that user can read (for `source check`)."""
        facts: dict[str, object] = {"instance_url": self.http.base_url,
                                    "sign_in": self.sign_in.flow if self.sign_in else "token"}
        try:
            info = self.http.get_json("/services/oauth2/userinfo")
            facts["user"] = info.get("preferred_username") or info.get("name")
            facts["organization_id"] = info.get("organization_id")
        except ConnectorError as exc:
            facts["user"] = f"unknown ({exc.message})"
        body = self.http.get_json(f"{self.root}/sobjects/")
        readable = sorted(str(o["name"]) for o in body.get("sobjects", [])
                          if o.get("queryable") and o.get("retrieveable", True))
        facts["readable_objects"] = readable
        if self.api_usage:
            facts["api_usage"] = self.api_usage
        return facts

    def describe_source(self) -> dict[str, str]:
        """Instance, API version, sign-in flow, bulk use and the last seen API usage."""
        facts = {"base_url": self.http.base_url, "api": f"Salesforce REST {self.root}"}
        if self.sign_in is not None:
            facts["sign_in"] = f"OAuth {self.sign_in.flow} ({self.sign_in.sign_ins} sign-ins)"
        bulk = sorted(n for n, how in self.read_via.items() if how == "bulk")
        if bulk:
            facts["bulk_api"] = f"Bulk API 2.0 query jobs for {', '.join(bulk)}"
        if self.api_usage:
            facts["api_usage"] = self.api_usage
        if self._notes:
            facts["notes"] = "; ".join(self._notes)
        return facts

    def source_count(self, obj: ObjectSpec) -> SourceCount | None:
        """``SELECT COUNT()`` via query (live) and queryAll (live + deleted)."""
        # Object and field names come from describe and are checked against _NAME in discover.
        soql = quote_plus(f"SELECT COUNT() FROM {obj.vendor_name}")  # noqa: S608
        live = self.http.get_json(f"{self.root}/query/?q={soql}")["totalSize"]
        total = self.http.get_json(f"{self.root}/queryAll/?q={soql}")["totalSize"]
        self._totals[obj.name] = int(total)
        return SourceCount(live=int(live), total=int(total), method="COUNT() totalSize")

    def read(self, obj: ObjectSpec) -> Iterator[Item]:
        """All rows incl. deleted, plus reference relations: Bulk API 2.0 for objects at or
        above ``bulk_threshold`` rows, else REST queryAll merged across field slices."""
        if self._use_bulk(obj):
            self.read_via[obj.name] = "bulk"
            yield from self._read_bulk(obj)
            return
        self.read_via[obj.name] = "rest"
        yield from self._read_rest(obj)

    def _use_bulk(self, obj: ObjectSpec) -> bool:
        if self.bulk_threshold is None:
            return False
        if self.bulk_threshold == 0:
            return True
        if obj.name not in self._totals:
            self.source_count(obj)
        return self._totals[obj.name] >= self.bulk_threshold

    def _read_bulk(self, obj: ObjectSpec) -> Iterator[Item]:
        references = self._references(obj)
        for row in self.bulk.rows(obj):
            reason = _invalid_reason(row)
            if reason:
                yield Malformed(raw=orjson.dumps(row).decode(), reason=reason,
                                location=f"{obj.name} (Bulk API results)")
                continue
            yield from self._relations(obj, row, references)
            yield Record(row, archived=bool(row.get("IsDeleted")))

    def _read_rest(self, obj: ObjectSpec) -> Iterator[Item]:
        slices = self._slices(obj)
        while True:
            streams = [self._stream(obj, fields) for fields in slices]
            try:
                first = next(streams[0])
            except UrlTooLong:
                if self.max_url_length < 256:
                    raise
                self.max_url_length //= 2  # nothing yielded yet: retry with shorter URLs
                slices = self._slices(obj)
                continue
            except StopIteration:
                return
            break
        references = self._references(obj)
        primary = _chain(first, streams[0])
        for item in primary:
            if isinstance(item, Malformed):
                yield item
                continue
            for index, other in enumerate(streams[1:], start=2):
                row, skipped = _next_valid(other, index)
                yield from skipped
                if row is None or row["Id"] != item["Id"]:
                    raise PaginationError(
                        f"{obj.name}: field slice {index} is out of step at Id {item['Id']} "
                        "(the data changed while paging)", "run the export again")
                item.update({k: v for k, v in row.items() if k != "attributes"})
            yield from self._relations(obj, item, references)
            yield Record(item, archived=bool(item.get("IsDeleted")))
        for index, other in enumerate(streams[1:], start=2):
            extra, leftovers = _next_valid(other, index)
            yield from leftovers
            if extra is not None:
                raise PaginationError(f"{obj.name}: field slice {index} has more rows than the "
                                      "first (the data changed while paging)",
                                      "run the export again")

    def _slices(self, obj: ObjectSpec) -> list[list[str]]:
        fields = [f for f in obj.properties if f != "Id"]
        budget = self.max_url_length - len(self._query_url(obj, ["Id"], None))
        slices: list[list[str]] = [["Id"]]
        used = 0
        for field in fields:
            cost = len(quote_plus(f", {field}"))
            if len(slices[-1]) > 1 and used + cost > budget:
                slices.append(["Id"])
                used = 0
            slices[-1].append(field)
            used += cost
        return slices

    def _query_url(self, obj: ObjectSpec, fields: list[str], after_id: str | None) -> str:
        # after_id passed _ID (alphanumeric) and names passed _NAME, so nothing can escape.
        where = f" WHERE Id > '{after_id}'" if after_id else ""
        soql = f"SELECT {', '.join(fields)} FROM {obj.vendor_name}{where} ORDER BY Id"  # noqa: S608
        return f"{self.http.base_url}{self.root}/queryAll/?q={quote_plus(soql)}"

    def _stream(self, obj: ObjectSpec, fields: list[str]) -> Iterator[dict[str, Any] | Malformed]:
        """One slice's rows in Id order; re-anchors on ``Id > last`` if the cursor expires."""
        last_id: str | None = None
        url = self._query_url(obj, fields, None)
        paginator = NextUrlPaginator()
        while True:
            try:
                body = self.http.get_json(url, headers=self.query_headers)
            except LocatorExpired:
                if last_id is None:
                    raise
                url, paginator = self._query_url(obj, fields, last_id), NextUrlPaginator()
                continue
            records = body.get("records")
            if not isinstance(records, list):
                raise ConnectorError(f"Salesforce page without records for {obj.name}")
            for row in records:
                reason = _invalid_reason(row)
                if reason:
                    yield Malformed(raw=orjson.dumps(row).decode(), reason=reason,
                                    location=f"{obj.name} after Id {last_id or '-'}")
                    continue
                last_id = row["Id"]
                yield row
            paginator.advance(body, len(records))
            if paginator.finished:
                return
            url = str(paginator.current)

    def _references(self, obj: ObjectSpec) -> list[tuple[str, list[str]]]:
        fields = obj.schema.get("fields", []) if isinstance(obj.schema, dict) else []
        return [(f["name"], list(f.get("referenceTo") or [])) for f in fields
                if f.get("type") == "reference" and f.get("referenceTo")]

    def _relations(self, obj: ObjectSpec, item: dict[str, Any],
                   references: list[tuple[str, list[str]]]) -> Iterator[Relation]:
        for field, targets in references:
            value = item.get(field)
            if not value:
                continue
            target = targets[0] if len(targets) == 1 else self._prefixes.get(str(value)[:3], "")
            # References to objects outside the export (OwnerId → User) stay in the record.
            if target in self._specs:
                yield Relation(obj.name, str(item["Id"]), target, str(value), field)

    def _note_usage(self, response: httpx.Response) -> None:
        usage = response.headers.get("Sforce-Limit-Info")
        if usage:
            self.api_usage = usage

    def file_source(self) -> FileSource:
        """Salesforce Files and legacy Attachments (connectors/sf_files.py)."""
        return SalesforceFiles(self.http, self.root)

    def change_feed(self) -> SalesforceChanges:
        """Records changed since a high-water mark (SystemModstamp) and the deleted ones."""
        return SalesforceChanges(self)

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()


def _chain(first: dict[str, Any] | Malformed,
           rest: Iterator[dict[str, Any] | Malformed]) -> Iterator[dict[str, Any] | Malformed]:
    yield first
    yield from rest


def _next_valid(stream: Iterator[dict[str, Any] | Malformed], index: int,
                ) -> tuple[dict[str, Any] | None, list[Malformed]]:
    """The next row of a secondary slice, and any malformed rows before it (kept, not dropped)."""
    bad: list[Malformed] = []
    for row in stream:
        if isinstance(row, Malformed):
            bad.append(Malformed(row.raw, f"{row.reason} (field slice {index})", row.location))
            continue
        return row, bad
    return None, bad


def _invalid_reason(row: Any) -> str:
    """Why a query row is not a usable record ('' when it is)."""
    if not isinstance(row, dict):
        return "row is not a JSON object"
    if not isinstance(row.get("Id"), str) or not _ID.match(row["Id"]):
        return "row has no valid Id"
    return ""


# ---------------------------------------------------------------------- the registry's record
def connect(source: SourceSettings, url: str | None, token: str | None,
            ca_file: Path | None) -> SalesforceConnector:
    """The connector to a Salesforce org at ``url`` (or the sandbox's flavour); with an OAuth
    flow in ``[source] auth`` it signs in first and the instance URL comes from the answer."""
    sign_in = sign_in_from(source, ca_file) if source.auth != "token" else None
    return SalesforceConnector(
        None if sign_in else url, None if sign_in else token, api_version=source.api_version,
        ca_file=ca_file, page_size=source.page_size, max_retries=source.max_retries,
        timeout=source.timeout, max_url_length=source.max_url_length, objects=source.objects,
        sign_in=sign_in, bulk_threshold=source.bulk_threshold)


def open_source(source: SourceSettings, stack: ExitStack) -> Connector:
    """``SourceKind.open``: sign in with an OAuth flow, or use base_url and a static token."""
    if source.auth != "token":
        return connect(source, None, None, source.ca_file)
    return http_opener(connect)(source, stack)


def check_settings(source: SourceSettings, fail: Fail) -> SourceSettings:
    """A sign-in flow and its keys, or the instance URL and a static token."""
    if source.auth != "token":
        needed = {"jwt": ("client_id", "username", "private_key"),
                  "client_credentials": ("client_id", "client_secret"),
                  "refresh_token": ("client_id", "refresh_token")}[source.auth]
        for key in needed:
            if getattr(source, key) is None:
                example = (f'{key} = {{ file = "keys/salesforce.key" }}' if key == "private_key"
                           else f'{key} = {{ env = "SALESFORCE_{key.upper()}" }}'
                           if key in ("client_secret", "refresh_token") else f'{key} = "…"')
                raise fail(key, f"required for auth = {source.auth}", example)
        if source.login_url is None:
            source = replace(source, login_url="https://login.salesforce.com")
        return source
    if source.base_url is None:
        raise fail("base_url", "required for connector salesforce (your instance URL)",
                   'base_url = "https://<mydomain>.my.salesforce.com", or sign in with '
                   'auth = "jwt" (the instance URL then comes from the sign-in)')
    return require_token(source, fail)


def known_objects(source: SourceSettings) -> tuple[set[str], str]:
    """The usual sObjects plus whatever ``[source] objects`` lists."""
    return (set(DEFAULT_ORDER) | set(source.objects),
            "Salesforce objects are sObject names: Account, Contact, Opportunity … (list "
            "others in [source] objects)")


def summary(source: SourceSettings) -> str:
    """``config show``: the instance URL and the API version."""
    return f"{source.base_url} (API {source.api_version})"


def mirror_shape(name: str, schema: Any) -> ObjectShape | None:
    """One column per describe field (``Id`` collides with ``id`` and is skipped)."""
    if not (isinstance(schema, dict) and "fields" in schema):
        return None
    fields = [Column(str(f["name"]), _MIRROR_TYPES.get(str(f.get("type")), "TEXT"))
              for f in (schema or {}).get("fields", []) if isinstance(f, dict) and f.get("name")]
    columns = unique_columns(fields)
    get = getter([c.name for c in columns])
    return ObjectShape(name, "Id", columns, get, lambda r: bool(r.get("IsDeleted")))


def _package_describe(name: str, schema: Any) -> shapes.Described:
    cols = []
    for f in (schema or {}).get("fields", []):
        kind = str(f.get("type") or "string")
        if kind in ("address", "location"):
            kind = "json"
        cols.append(shapes.PackageColumn(str(f["name"]), str(f.get("label") or ""), kind,
                                         str(f.get("inlineHelpText") or "")))
    return shapes.Described("Id", cols)


def _package_row(record: dict[str, Any]) -> dict[str, str]:
    row = shapes.cells(record)
    row.pop("attributes", None)
    return row


SOURCE = registry.register(SourceKind(
    associations_how=("Data Loader: insert into the junction object (AccountContactRelation, "
                     "OpportunityContactRole …), both lookups by Legacy_Id__c."),
    name=SalesforceConnector.name, open=open_source, connect=connect,
    check_settings=check_settings, known_objects=known_objects, standard_objects=DEFAULT_ORDER,
    summary=summary, mirror_shape=mirror_shape,
    package=shapes.PackageReader(
        _package_describe,
        _package_row,
        lambda record, row, columns: bool(record.get("IsDeleted"))),
    import_files=IMPORT_FILES))
