"""Salesforce REST connector: every queryable object via queryAll (deleted rows included).

Wide objects are split into several SOQL queries (Id plus a slice of the fields) so each URL stays
under the limit; all slices are ordered by Id and merged record by record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx
import orjson

from vaultkeeper import registry, shapes
from vaultkeeper.canonical import ImportFile
from vaultkeeper.config import SourceSettings
from vaultkeeper.connectors.base import Connector, http_opener, require_token
from vaultkeeper.connectors.http import HttpClient, UrlTooLong, default_validate, json_body
from vaultkeeper.connectors.paginate import NextUrlPaginator
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
LEGACY_FIELD = "Legacy_Id__c"


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
        raise AuthError(f"Salesforce refused the access token ({code or status}): {message}",
                        "refresh the access token referenced by [source] token")
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

    def __init__(self, instance_url: str, token: str, *, api_version: str = "59.0",
                 ca_file: Path | None = None, page_size: int | None = None,
                 max_retries: int = 8, timeout: float = 60.0, max_url_length: int = 12000,
                 objects: Sequence[str] = ()) -> None:
        self.http = HttpClient(
            instance_url, headers={"Authorization": f"Bearer {token}"}, ca_file=ca_file,
            timeout=timeout, max_retries=max_retries, validate=salesforce_validate,
            on_response=self._note_usage)
        self.root = f"/services/data/v{api_version.lstrip('v')}"
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

    def describe_source(self) -> dict[str, str]:
        """Instance, API version and the last seen API usage."""
        facts = {"base_url": self.http.base_url, "api": f"Salesforce REST {self.root}"}
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
        return SourceCount(live=int(live), total=int(total), method="COUNT() totalSize")

    def read(self, obj: ObjectSpec) -> Iterator[Item]:
        """All rows incl. deleted, merged across field slices, plus reference relations."""
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
def connect(source: SourceSettings, url: str, token: str,
            ca_file: Path | None) -> SalesforceConnector:
    """The connector to a Salesforce org at ``url`` (or the sandbox's flavour)."""
    return SalesforceConnector(
        url, token, api_version=source.api_version, ca_file=ca_file,
        page_size=source.page_size, max_retries=source.max_retries, timeout=source.timeout,
        max_url_length=source.max_url_length, objects=source.objects)


def check_settings(source: SourceSettings, fail: Fail) -> SourceSettings:
    """The instance URL and a token are required."""
    if source.base_url is None:
        raise fail("base_url", "required for connector salesforce (your instance URL)",
                   'base_url = "https://<mydomain>.my.salesforce.com"')
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


_SF = LEGACY_FIELD

IMPORT_FILES: tuple[ImportFile, ...] = (
    ImportFile("organisation", "Account.csv", (
        ("Name", "name"), ("Website", "website"), ("Phone", "phone"),
        ("BillingStreet", "street"), ("BillingCity", "city"), ("BillingState", "region"),
        ("BillingPostalCode", "postcode"), ("BillingCountry", "country"),
        ("Industry", "industry"), ("Type", "type"), (_SF, "legacy_id")),
        f"Data Loader: upsert Account on the External ID field {_SF} (create it: Text, "
        "External ID, Unique)."),
    ImportFile("person", "Contact.csv", (
        ("FirstName", "first_name"), ("LastName", "last_name"), ("Salutation", "salutation"),
        ("Email", "@valid_email"), ("Phone", "phone"), ("MobilePhone", "mobile"),
        ("MailingStreet", "street"), ("MailingCity", "city"), ("MailingState", "region"),
        ("MailingPostalCode", "postcode"), ("MailingCountry", "country"),
        ("Birthdate", "birth_date|date"), ("Title", "job_title"),
        ("HasOptedOutOfEmail", "email_opt_out|bool"), (_SF, "legacy_id"),
        (f"Account.{_SF}", "organisation_id")),
        f"Data Loader: upsert Contact on {_SF}; map Account.{_SF} to the Account lookup by "
        "external id. LastName is required by Salesforce."),
    ImportFile("membership", "Membership__c.csv", (
        ("Name", "number"), (f"Contact__r.{_SF}", "person_id"), ("Level__c", "level"),
        ("Status__c", "status"), ("Start_Date__c", "start_date|date"),
        ("End_Date__c", "end_date|date"), ("Branch__c", "branch"), (_SF, "legacy_id"),
        (f"Account__r.{_SF}", "organisation_id")),
        "Data Loader: upsert into a custom object Membership__c (or your membership app's "
        "object) on its legacy id; the contact lookup resolves by external id."),
    ImportFile("donation", "Opportunity.csv", (
        ("Name", "name"), ("Amount", "amount"), ("CloseDate", "date|date"),
        ("StageName", "status"), ("Type", "=Donation"), ("Donation_Type__c", "type"),
        ("Campaign_Code__c", "campaign"), ("Payment_Method__c", "payment_method"),
        ("Gift_Aid_Eligible__c", "gift_aid|bool"), (_SF, "legacy_id"),
        (f"Account.{_SF}", "organisation_id"), (f"Primary_Contact__r.{_SF}", "person_id")),
        f"Data Loader: upsert Opportunity on {_SF}; Name, CloseDate and StageName are required "
        "(stages must exist)."),
    ImportFile("activity", "Task.csv", (
        ("Subject", "subject"), ("Description", "body"), ("ActivityDate", "date|date"),
        ("Type", "type"), ("OwnerId_legacy", "owner"), (_SF, "legacy_id"),
        ("Who_Legacy_Id", "person_id"), ("What_Legacy_Id", "donation_id"),
        ("What_Account_Legacy_Id", "organisation_id")),
        "Data Loader: insert Task; WhoId/WhatId are polymorphic, so fill them from the id-map "
        "files (legacy id → new id) before the import."),
)


SOURCE = registry.register(SourceKind(
    name=SalesforceConnector.name, open=http_opener(connect), connect=connect,
    check_settings=check_settings, known_objects=known_objects, standard_objects=DEFAULT_ORDER,
    summary=summary, mirror_shape=mirror_shape,
    package=shapes.PackageReader(
        _package_describe,
        lambda record: {k: shapes.cell(v) for k, v in record.items() if k != "attributes"},
        lambda record, row, columns: bool(record.get("IsDeleted"))),
    import_files=IMPORT_FILES))
