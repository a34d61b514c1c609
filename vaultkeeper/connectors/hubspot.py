"""HubSpot CRM v3 connector: every object, every property, live and archived, with associations.

Why lists rather than search: search caps at 10,000 results and never returns archived records;
lists page through everything. Search is used only for the count HubSpot itself reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from itertools import chain
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from vaultkeeper import registry, shapes
from vaultkeeper.canonical import ImportFile
from vaultkeeper.config import SourceSettings
from vaultkeeper.connectors.base import Connector, http_opener, require_token
from vaultkeeper.connectors.files_base import FileSource
from vaultkeeper.connectors.hs_changes import HubSpotChanges
from vaultkeeper.connectors.hs_files import HubSpotFiles, file_properties
from vaultkeeper.connectors.hs_settings import discover_settings, is_settings, read_settings
from vaultkeeper.connectors.http import (
    HttpClient,
    NotFound,
    UrlTooLong,
    default_validate,
    json_body,
)
from vaultkeeper.connectors.paginate import CursorPaginator
from vaultkeeper.errors import (
    AuthError,
    ConnectorError,
    PaginationError,
    RetryableError,
    ScopeError,
)
from vaultkeeper.models import Item, Malformed, ObjectSpec, Record, Relation, SourceCount
from vaultkeeper.registry import Fail, SourceKind
from vaultkeeper.shapes import Column, ObjectShape, getter, unique_columns

STANDARD_OBJECTS = ("contacts", "companies", "deals", "tickets", "notes", "calls", "emails",
                    "meetings", "tasks", "communications", "postal_mail", "products",
                    "line_items", "quotes", "leads")
# Associations are symmetric in HubSpot; each pair is exported once, from the side that has few
# associations per record (a note has one contact; a contact may have hundreds of notes).
ASSOCIATION_RANK = ("notes", "calls", "emails", "meetings", "tasks", "communications",
                    "postal_mail", "line_items", "quotes", "leads",
                    "deals", "tickets", "contacts", "companies", "products")
PAGE_MAX = 100
API_URL = "https://api.hubapi.com"
"""HubSpot's public API: ``[source] base_url`` when the file gives none."""
TOP_LEVEL = ("createdAt", "updatedAt", "archivedAt")
# SQLite column types by HubSpot type. REAL affinity turns "359" into 359.0 in C, for free;
# anything that is not a number stays text. `_raw` keeps the vendor's exact value regardless.
_MIRROR_TYPES = {"number": "REAL"}
_PACKAGE_TOP = ("createdAt", "updatedAt", "archived", "archivedAt")
LEGACY_HEADER = "Legacy Record ID"


def hubspot_validate(response: httpx.Response) -> None:
    """HubSpot-specific messages on top of the generic status mapping."""
    status = response.status_code
    if status < 400:
        return
    parsed = json_body(response)
    body: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
    message = str(body.get("message", ""))
    if status == 401:
        raise AuthError(f"HubSpot refused the token: {message or 'HTTP 401'}",
                        "check [source] token (a private-app token, pat-…) is current")
    if status == 403:
        raise ScopeError(f"HubSpot denied access: {message or 'HTTP 403'}",
                        "grant the private app the crm.objects.*.read and crm.schemas.*.read "
                        "scopes, or add the object to [source] exclude")
    if status == 400 and message:
        raise ConnectorError(f"HubSpot rejected a request: {message}")
    if status == 429:
        raise RetryableError(f"HTTP 429 ({body.get('policyName', 'rate limit')})",
                             retry_after=_retry_after(response))
    default_validate(response)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class HubSpotConnector(Connector):
    """Reads a HubSpot portal through the CRM v3 objects, properties and search endpoints."""

    name = "hubspot"
    version = "1"
    default_order = STANDARD_OBJECTS

    def __init__(self, base_url: str, token: str, *, ca_file: Path | None = None,
                 page_size: int | None = None, max_retries: int = 8, timeout: float = 60.0,
                 max_url_length: int = 12000, objects: Sequence[str] = ()) -> None:
        self.http = HttpClient(
            base_url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            ca_file=ca_file, timeout=timeout, max_retries=max_retries,
            validate=hubspot_validate, on_response=self._throttle,
        )
        self.page_size = min(page_size or PAGE_MAX, PAGE_MAX)
        self.max_url_length = max_url_length
        self.wanted = tuple(objects)
        self._specs: dict[str, ObjectSpec] = {}
        self._problems: list[str] = []
        self._settings_pages: dict[str, Any] = {}

    # -- discovery ---------------------------------------------------------------------------
    def discover(self, unchanged: Callable[[str, str], Any] | None = None) -> list[ObjectSpec]:
        """Standard objects that exist in the portal plus custom objects, with all properties.

        ``unchanged(name, type_id)``: a properties document to use instead of reading it (an
        incremental run's still-empty objects, connectors/hs_changes.py); None: read it."""
        candidates: list[tuple[str, str]] = [(n, n) for n in STANDARD_OBJECTS]
        try:
            schemas = self.http.get_json("/crm-object-schemas/v3/schemas")
            for schema in schemas.get("results", []):
                candidates.append((str(schema.get("name") or schema["objectTypeId"]),
                                   str(schema["objectTypeId"])))
        except NotFound:
            pass
        except ScopeError as exc:
            self._problems.append(f"custom objects not listed: {exc.message}")
        self._offered = [name for name, _ in candidates]
        for name, type_id in candidates:
            if self.wanted and name not in self.wanted:
                continue
            try:
                body = (unchanged and unchanged(name, type_id)) or \
                    self.http.get_json(f"/crm/v3/properties/{type_id}")
            except NotFound:
                continue  # the object type does not exist in this portal
            except ScopeError as exc:
                self._problems.append(f"{name}: not readable ({exc.message})")
                continue
            props = tuple(p["name"] for p in body.get("results", []))
            self._specs[name] = ObjectSpec(name=name, primary_key="id", properties=props,
                                           schema=body, vendor_name=type_id)
        objects = list(self._specs.values())
        # Owners and pipelines are kept apart from _specs: records have no associations to them.
        return objects + discover_settings(self.http, self.wanted, self._problems,
                                           self._settings_pages)

    def problems(self) -> list[str]:
        """Objects HubSpot would not let us read."""
        return list(self._problems)

    def describe_source(self) -> dict[str, str]:
        """Base URL and API family."""
        return {"base_url": self.http.base_url, "api": "HubSpot CRM v3"}

    def source_count(self, obj: ObjectSpec) -> SourceCount | None:
        """HubSpot's own ``total`` from the search endpoint (live records only)."""
        if is_settings(obj):
            return None   # HubSpot reports no count of owners or pipelines
        try:
            body = self.http.post_json(f"/crm/v3/objects/{obj.vendor_name}/search",
                                       {"limit": 1, "properties": ["hs_object_id"]})
        except ConnectorError:
            return None
        total = body.get("total")
        return SourceCount(live=int(total) if total is not None else None, method="search total")

    # -- reading -----------------------------------------------------------------------------
    def read(self, obj: ObjectSpec) -> Iterator[Item]:
        """Live records, then archived ones, each with its associations."""
        if is_settings(obj):
            yield from read_settings(self.http, obj, self._settings_pages)
            return
        targets = self._association_targets(obj)
        for archived in (False, True):
            yield from self._read_pass(obj, archived, targets)

    def _association_targets(self, obj: ObjectSpec) -> list[str]:
        def rank(name: str) -> int:
            return ASSOCIATION_RANK.index(name) if name in ASSOCIATION_RANK else 6

        return [o.vendor_name for o in self._specs.values()
                if o.name != obj.name and (rank(obj.name), obj.name) < (rank(o.name), o.name)]

    def _chunks(self, obj: ObjectSpec, targets: list[str]) -> list[list[str]]:
        """Split the property list so each page URL stays under ``max_url_length``."""
        fixed = len(self._page_url(obj, [], "9" * 12, True, targets))
        budget = max(200, self.max_url_length - fixed)
        chunks: list[list[str]] = [[]]
        used = 0
        for prop in obj.properties:
            cost = len(urlencode({"p": prop})) + 1  # name plus an encoded comma
            if chunks[-1] and used + cost > budget:
                chunks.append([])
                used = 0
            chunks[-1].append(prop)
            used += cost
        return chunks

    def _page_url(self, obj: ObjectSpec, props: list[str], after: str | None, archived: bool,
                  targets: list[str]) -> str:
        params: dict[str, str] = {"limit": str(self.page_size),
                                  "archived": "true" if archived else "false"}
        if after:
            params["after"] = after
        if props:
            params["properties"] = ",".join(props)
        if targets:
            params["associations"] = ",".join(targets)
        return f"{self.http.base_url}/crm/v3/objects/{obj.vendor_name}?{urlencode(params)}"

    def _read_pass(self, obj: ObjectSpec, archived: bool, targets: list[str]) -> Iterator[Item]:
        chunks = self._chunks(obj, targets)
        paginator = CursorPaginator()
        while not paginator.finished:
            try:
                bodies = [
                    self.http.get_json(self._page_url(obj, chunk, paginator.current, archived,
                                                      targets if i == 0 else []))
                    for i, chunk in enumerate(chunks)
                ]
            except UrlTooLong:
                if paginator.pages or self.max_url_length < 256:
                    raise
                # Nothing yielded yet for this pass: retry with shorter URLs.
                self.max_url_length //= 2
                chunks = self._chunks(obj, targets)
                continue
            location = f"{obj.name} archived={archived} after={paginator.current or ''}"
            records, bad = self._merge(obj, bodies, location)
            yield from bad
            for item in records:
                yield from self._relations(obj, item)
                item.pop("associations", None)
                yield Record(item, archived=bool(item.get("archived", archived)))
            paginator.advance(bodies[0], len(records))

    def _merge(self, obj: ObjectSpec, bodies: list[Any], location: str,
               ) -> tuple[list[dict[str, Any]], list[Malformed]]:
        """Combine the pages of each property chunk (same cursor, so the same records) by id."""
        merged: list[dict[str, Any]] = []
        bad: list[Malformed] = []
        by_id: dict[str, dict[str, Any]] = {}
        for index, body in enumerate(bodies):
            results = body.get("results")
            if not isinstance(results, list):
                raise ConnectorError(f"HubSpot page without a results list for {obj.name}")
            seen = 0
            for item in results:
                reason = _invalid_reason(item)
                if reason:
                    chunk = f" (property chunk {index + 1})" if index else ""
                    bad.append(Malformed(raw=orjson.dumps(item).decode(), reason=reason + chunk,
                                         location=location))
                    continue
                key = str(item["id"])
                if index == 0:
                    merged.append(item)
                    by_id[key] = item
                elif key in by_id:
                    by_id[key]["properties"].update(item["properties"])
                    seen += 1
                else:
                    raise PaginationError(
                        f"{obj.name}: property chunk {index + 1} returned record {key} that the "
                        "first chunk did not (the data changed while paging)",
                        "run the export again")
            if index and seen != len(by_id):
                raise PaginationError(
                    f"{obj.name}: property chunk {index + 1} returned {seen} of {len(by_id)} "
                    "records of the page (the data changed while paging)", "run the export again")
        return merged, bad

    def _relations(self, obj: ObjectSpec, item: dict[str, Any]) -> Iterator[Relation]:
        associations = item.get("associations") or {}
        for key, block in associations.items():
            target = self._object_name(key)
            pairs: dict[str, set[str]] = {}
            for assoc in block.get("results", []):
                pairs.setdefault(str(assoc["id"]), set()).add(str(assoc.get("type", "")))
            after = ((block.get("paging") or {}).get("next") or {}).get("after")
            if after:
                self._more_associations(obj, str(item["id"]), key, str(after), pairs)
            for to_id, types in pairs.items():
                yield Relation(obj.name, str(item["id"]), target, to_id, ";".join(sorted(types)))

    def _more_associations(self, obj: ObjectSpec, record_id: str, to_type: str, after: str,
                           pairs: dict[str, set[str]]) -> None:
        """Follow an inline association list that HubSpot cut short, via the v4 endpoint."""
        paginator = CursorPaginator(after)
        while not paginator.finished:
            body = self.http.get_json(
                f"/crm/v4/objects/{obj.vendor_name}/{record_id}/associations/{to_type}",
                params={"limit": 500, "after": paginator.current})
            for assoc in body.get("results", []):
                types = pairs.setdefault(str(assoc["toObjectId"]), set())
                for spec in assoc.get("associationTypes", []):
                    types.add(spec.get("label") or f"{spec.get('category')}:{spec.get('typeId')}")
            paginator.advance(body, len(body.get("results", [])))

    def _object_name(self, key: str) -> str:
        for spec in self._specs.values():
            if key in (spec.name, spec.vendor_name):
                return spec.name
        return key

    def _throttle(self, response: httpx.Response) -> None:
        """Slow down before HubSpot's rolling window runs out instead of waiting for 429s."""
        headers = response.headers
        try:
            remaining = int(headers["X-HubSpot-RateLimit-Remaining"])
            limit = int(headers["X-HubSpot-RateLimit-Max"])
            interval = int(headers["X-HubSpot-RateLimit-Interval-Milliseconds"]) / 1000
        except (KeyError, ValueError):
            return
        if response.status_code < 400 and limit > 0 and remaining < limit * 0.1:
            self.http.sleep(interval / limit)

    def file_source(self) -> FileSource:
        """The portal's files (Files API v3) linked through ``hs_attachment_ids`` and the file
        properties of the objects discovered."""
        props = {spec.name: file_properties(spec.schema) for spec in self._specs.values()}
        return HubSpotFiles(self.http, {name: p for name, p in props.items() if p})

    def change_feed(self) -> HubSpotChanges:
        """Records changed since a high-water mark (search API) and the archived ones."""
        return HubSpotChanges(self)

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()


def _invalid_reason(item: Any) -> str:
    """Why a result entry is not a usable HubSpot record ('' when it is)."""
    if not isinstance(item, dict):
        return "result entry is not a JSON object"
    if item.get("id") in (None, ""):
        return "record has no id"
    if not isinstance(item.get("properties"), dict):
        return "record properties are not an object"
    return ""


# ---------------------------------------------------------------------- the registry's record
def connect(source: SourceSettings, url: str, token: str,
            ca_file: Path | None) -> HubSpotConnector:
    """The connector to a HubSpot API at ``url`` (a portal, or the sandbox's flavour)."""
    return HubSpotConnector(
        url, token, ca_file=ca_file, page_size=source.page_size,
        max_retries=source.max_retries, timeout=source.timeout,
        max_url_length=source.max_url_length, objects=source.objects)


def check_settings(source: SourceSettings, fail: Fail) -> SourceSettings:
    """A token is required; the base URL defaults to HubSpot's public API."""
    if source.base_url is None:
        source = replace(source, base_url=API_URL)
    return require_token(source, fail)


def known_objects(source: SourceSettings) -> tuple[set[str], str]:
    """The standard objects plus whatever ``[source] objects`` lists (custom objects)."""
    return (set(STANDARD_OBJECTS) | {"owners", "pipelines"} | set(source.objects),
            "HubSpot objects are contacts, companies, deals, notes … (list custom objects "
            "in [source] objects)")


def mirror_shape(name: str, schema: Any) -> ObjectShape | None:
    """Top-level fields, then ``properties.X`` as ``X`` in schema order (None: no schema)."""
    if not (isinstance(schema, dict) and "results" in schema):
        return None
    props = [Column(str(p["name"]), _MIRROR_TYPES.get(str(p.get("type")), "TEXT"))
             for p in (schema or {}).get("results", []) if isinstance(p, dict) and p.get("name")]
    columns = unique_columns([Column(n) for n in TOP_LEVEL] + props)
    top_names = [c.name for c in columns if c.name in TOP_LEVEL]
    prop_names = [c.name for c in columns if c.name not in top_names]
    top_get = getter(top_names)
    prop_get = getter(prop_names)

    def extract(record: dict[str, Any]) -> tuple[Any, ...]:
        props = record.get("properties")
        return (*top_get(record), *prop_get(props if props is not None else {}))

    def flatten(record: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in record.items() if k != "properties"}
        props = record.get("properties")
        if isinstance(props, dict):
            out.update({f"properties.{k}": v for k, v in props.items()})
        return out

    return ObjectShape(name, "id", columns, extract,
                       lambda r: bool(r.get("archived")), flatten)


def _package_describe(name: str, schema: Any) -> shapes.Described:
    cols = [shapes.PackageColumn("id", "Record ID", "string", "HubSpot record id (legacy id)")]
    for prop in (schema or {}).get("results", []):
        label = str(prop.get("label") or "")
        text = str(prop.get("description") or "")
        options = [str(o.get("value")) for o in prop.get("options") or []][:20]
        if options:
            text = (text + " " if text else "") + "Options: " + ", ".join(options)
        cols.append(shapes.PackageColumn(str(prop["name"]), label,
                                         str(prop.get("type") or "string"), text))
    for key in _PACKAGE_TOP:
        kind = "bool" if key == "archived" else "datetime"
        cols.append(shapes.PackageColumn(key, key, kind,
                                         "Record metadata from the HubSpot API"))
    return shapes.Described("id", cols)


def _package_row(record: dict[str, Any]) -> dict[str, str]:
    props = record.get("properties") or {}
    top = {k: v for k, v in record.items() if k != "id" and k != "properties"}
    if "id" in props or not props.keys().isdisjoint(top):
        return _package_row_colliding(record)
    # The common case (no name collides): id, the properties, the other top-level keys.
    return shapes.cells_of(chain((("id", record.get("id")),), props.items(), top.items()))


def _package_row_colliding(record: dict[str, Any]) -> dict[str, str]:
    """Key by key: property ``id`` → ``properties.id``, a top-level key also a property → ``_``."""
    row = {"id": shapes.cell(record.get("id"))}
    for key, value in (record.get("properties") or {}).items():
        row[key if key != "id" else "properties.id"] = shapes.cell(value)
    for key, value in record.items():
        if key not in ("id", "properties"):
            row[key if key not in row else f"_{key}"] = shapes.cell(value)
    return row


_HS = LEGACY_HEADER

IMPORT_FILES: tuple[ImportFile, ...] = (
    ImportFile("organisation", "companies.csv", (
        ("Company name", "name"), ("Company Domain Name", "domain"), ("Website URL", "website"),
        ("Phone Number", "phone"), ("Street Address", "street"), ("City", "city"),
        ("State/Region", "region"), ("Postal Code", "postcode"), ("Country/Region", "country"),
        ("Industry", "industry"), ("Type", "type"), (_HS, "legacy_id")),
        "Import as Companies; HubSpot de-duplicates companies on Company Domain Name. Create a "
        f"single-line text property '{_HS}' first."),
    ImportFile("person", "contacts.csv", (
        ("First Name", "first_name"), ("Last Name", "last_name"), ("Salutation", "salutation"),
        ("Email", "@valid_email"), ("Phone Number", "phone"), ("Mobile Phone Number", "mobile"),
        ("Street Address", "street"), ("City", "city"), ("State/Region", "region"),
        ("Postal Code", "postcode"), ("Country/Region", "country"),
        ("Date of birth", "birth_date"), ("Job Title", "job_title"),
        ("Unsubscribed from all email", "email_opt_out|bool"), (_HS, "legacy_id"),
        ("Company Domain Name", "@org_domain"), ("Associated Company Legacy ID",
                                                 "organisation_id")),
        "Import as Contacts; HubSpot matches contacts on Email, and associates each with the "
        "company whose Company Domain Name is in the same row."),
    ImportFile("membership", "memberships.csv", (
        ("Email", "@person_email"), (_HS, "person_id"), ("Membership number", "number"),
        ("Membership level", "level"), ("Membership status", "status"),
        ("Membership start date", "start_date"), ("Membership renewal date", "end_date"),
        ("Branch", "branch"), ("Membership Legacy ID", "legacy_id"),
        ("Associated Company Legacy ID", "organisation_id")),
        "Import as an update of Contacts (custom membership properties), matched on Email or on "
        f"'{_HS}'."),
    ImportFile("donation", "donations.csv", (
        ("Deal Name", "name"), ("Amount", "amount"), ("Currency", "currency"),
        ("Close Date", "date"),
        ("Pipeline", "=Donations"), ("Deal Stage", "status"), ("Donation type", "type"),
        ("Campaign", "campaign"), ("Payment method", "payment_method"),
        ("Payment reference", "reference"), ("Fund", "fund"), ("Gift Aid", "gift_aid"),
        (_HS, "legacy_id"), ("Email", "@person_email"),
        ("Associated Contact Legacy ID", "person_id"), ("Company Domain Name", "@org_domain"),
        ("Associated Company Legacy ID", "organisation_id")),
        "Import as Deals together with Contacts (two objects, one file): the Email column "
        "associates each deal with its contact. Create the Donations pipeline and stages first."),
    ImportFile("activity", "notes.csv", (
        ("Note body", "body"), ("Activity date", "date"), ("Activity type", "type"),
        (_HS, "legacy_id"), ("Email", "@person_email"),
        ("Associated Contact Legacy ID", "person_id"),
        ("Associated Company Legacy ID", "organisation_id"),
        ("Associated Deal Legacy ID", "donation_id")),
        "Import as Notes associated with Contacts by Email; the Associated … Legacy ID columns "
        "name the contact, company and deal each note belongs to."),
)


SOURCE = registry.register(SourceKind(
    associations_how=("Import as associations between existing records (Import → 'Associations'), "
                     "matching both sides on 'Legacy Record ID'."),
    name=HubSpotConnector.name, open=http_opener(connect), connect=connect,
    check_settings=check_settings, known_objects=known_objects,
    standard_objects=STANDARD_OBJECTS, mirror_shape=mirror_shape,
    package=shapes.PackageReader(_package_describe, _package_row,
                                 lambda record, row, columns: bool(record.get("archived"))),
    import_files=IMPORT_FILES))
