"""HubSpot's older endpoints that current releases of third-party clients still call
(singer-io tap-hubspot, Airbyte's source): v1/v2 property lists, v1 pipelines, paged
engagements, list search and users. Same data as the v3 endpoints, in the old shapes."""

from __future__ import annotations

import calendar
import time
from typing import TYPE_CHECKING, Any

from vaultkeeper.sandbox import hs_schema as hs
from vaultkeeper.sandbox.gen_hubspot import properties_of
from vaultkeeper.sandbox.hs_meta import error, owners_payload, pipelines_payload
from vaultkeeper.sandbox.wire import Request, Response, json_response

if TYPE_CHECKING:
    from vaultkeeper.sandbox.hubspot import HubSpotApi

PORTAL_ID = 20_614_000
_SCHEMA_MS = 1451606400000
_ENGAGEMENT_MAX = 250


def _ms(iso: str | None) -> int | None:
    """``2024-01-02T03:04:05.678Z`` → epoch milliseconds (v1 endpoints speak integers)."""
    if not iso:
        return None
    base = calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S"))
    return base * 1000 + int(iso[20:23] or 0)


def v1_property(prop: dict[str, Any]) -> dict[str, Any]:
    """A v3 ``Property`` in the v1/v2 shape (integer timestamps, ``deleted``, flat flags)."""
    meta = prop.get("modificationMetadata", {})
    return {"name": prop["name"], "label": prop["label"], "description": prop["description"],
            "groupName": prop["groupName"], "type": prop["type"], "fieldType": prop["fieldType"],
            "options": [{k: o[k] for k in ("label", "value", "description", "displayOrder",
                                           "hidden")} | {"readOnly": False}
                        for o in prop["options"]],
            "displayOrder": prop["displayOrder"], "calculated": prop["calculated"],
            "externalOptions": prop["externalOptions"], "hasUniqueValue": prop["hasUniqueValue"],
            "hidden": prop["hidden"], "hubspotDefined": prop["hubspotDefined"],
            "formField": prop["formField"], "readOnlyValue": meta.get("readOnlyValue", False),
            "readOnlyDefinition": meta.get("readOnlyDefinition", False),
            "mutableDefinitionNotDeletable": prop["hubspotDefined"],
            "deleted": False, "createdAt": _SCHEMA_MS, "updatedAt": _SCHEMA_MS,
            "createdUserId": None, "updatedUserId": None, "showCurrencySymbol": False,
            "favorited": False, "favoritedOrder": -1, "displayMode": "current_value",
            "searchableInGlobalSearch": False, "textDisplayHint": None, "numberDisplayHint": None,
            "optionsAreMutable": not prop["hubspotDefined"], "isCustomizedDefault": False,
            "currencyPropertyName": None, "referencedObjectType": None}


def v1_pipelines(obj: str) -> list[dict[str, Any]]:
    """``/crm-pipelines/v1/pipelines/{deals,tickets}`` entries."""
    out = []
    for k, p in enumerate(pipelines_payload(obj) or []):
        out.append({"pipelineId": p["id"], "objectType": "DEAL" if obj == "deals" else "TICKET",
                    "label": p["label"], "displayOrder": p["displayOrder"], "active": True,
                    "default": k == 0, "createdAt": _SCHEMA_MS, "updatedAt": _SCHEMA_MS,
                    "objectTypeId": "0-3" if obj == "deals" else "0-5",
                    "stages": [{"stageId": s["id"], "label": s["label"],
                                "displayOrder": s["displayOrder"], "active": True,
                                "metadata": s["metadata"], "createdAt": _SCHEMA_MS,
                                "updatedAt": _SCHEMA_MS} for s in p["stages"]]})
    return out


def deal_pipelines_v1() -> list[dict[str, Any]]:
    """``/deals/v1/pipelines``: deal pipelines with per-stage probability and closedWon."""
    out = []
    for p in pipelines_payload("deals") or []:
        out.append({"pipelineId": p["id"], "label": p["label"],
                    "displayOrder": p["displayOrder"], "active": True, "default":
                    p["displayOrder"] == 0, "objectType": "DEAL", "createdAt": _SCHEMA_MS,
                    "updatedAt": _SCHEMA_MS, "portalId": PORTAL_ID,
                    "stages": [{"stageId": s["id"], "label": s["label"],
                                "displayOrder": s["displayOrder"], "active": True,
                                "probability": float(s["metadata"]["probability"]),
                                "closedWon": s["metadata"]["isClosed"] == "true"
                                and float(s["metadata"]["probability"]) >= 1.0}
                               for s in p["stages"]]})
    return out


def engagement(api: HubSpotApi, i: int) -> dict[str, Any]:
    """Live note ``i`` as a v1 engagement."""
    p = properties_of(api.ds, "notes", i)
    created = _ms(p.get("createdate"))
    owner = p.get("hubspot_owner_id")
    assoc = {to: [hs.ID_BASES[to] + j for j in api.related("notes", i, to)]
             for to in ("contacts", "companies", "deals", "tickets")}
    return {
        "engagement": {"id": hs.ID_BASES["notes"] + i, "portalId": PORTAL_ID, "active": True,
                       "createdAt": created,
                       "lastUpdated": _ms(p.get("hs_lastmodifieddate")) or created,
                       "type": "NOTE", "timestamp": _ms(p.get("hs_timestamp")) or created,
                       "ownerId": int(owner) if owner and owner.isdigit() else None,
                       "bodyPreview": (p.get("hs_note_body") or "")[:200],
                       "queueMembershipIds": [], "bodyPreviewIsTruncated": False},
        "associations": {"contactIds": assoc["contacts"], "companyIds": assoc["companies"],
                         "dealIds": assoc["deals"], "ownerIds": [], "workflowIds": [],
                         "ticketIds": assoc["tickets"], "contentIds": [], "quoteIds": []},
        "attachments": [],
        "metadata": {"body": p.get("hs_note_body") or ""},
    }


def engagements_paged(api: HubSpotApi, req: Request) -> Response:
    """``GET /engagements/v1/engagements/paged?limit=&offset=`` (live engagements only)."""
    store = api.ds.stores["notes"]
    limit = api._int(req, "limit", 100, _ENGAGEMENT_MAX)
    raw = req.q1("offset") or "0"
    offset = int(raw) if raw.isdigit() else 0   # the offset is the last id handed out
    start = max(0, offset - hs.ID_BASES["notes"] + 1) if offset else 0
    results: list[dict[str, Any]] = []
    i = store.next_index(start, False)
    while i >= 0 and len(results) < limit:
        results.append(engagement(api, i))
        i = store.next_index(i + 1, False)
    last = results[-1]["engagement"]["id"] if results else offset
    return json_response(200, {"results": results, "hasMore": i >= 0, "offset": last,
                               "total": store.live_count})


def _v1_value(kind: str, value: str) -> str:
    """v1/v2 write dates and datetimes as epoch-millisecond strings."""
    if kind == "datetime" and "T" in value:
        return str(_ms(value))
    if kind == "date" and len(value) == 10:
        return str(calendar.timegm(time.strptime(value, "%Y-%m-%d")) * 1000)
    return value


def v1_object(api: HubSpotApi, obj: str, i: int, wanted: list[str] | None) -> dict[str, Any]:
    """A company (v2) or deal (v1) with ``{name: {value, timestamp, source, versions}}``."""
    props = properties_of(api.ds, obj, i)
    kinds = hs.property_types(obj)
    stamp = _ms(props.get(hs.modified_property(obj))) or _SCHEMA_MS
    out: dict[str, Any] = {}
    for name, value in props.items():
        if value is None or name not in kinds or (wanted is not None and name not in wanted):
            continue
        text = _v1_value(kinds[name], str(value))
        out[name] = {"value": text, "timestamp": stamp, "source": "CRM_UI", "sourceId": None,
                     "versions": [{"name": name, "value": text, "timestamp": stamp,
                                   "source": "CRM_UI", "sourceVid": [], "sourceId": None}]}
    key = "companyId" if obj == "companies" else "dealId"
    body: dict[str, Any] = {"portalId": PORTAL_ID, key: hs.ID_BASES[obj] + i,
                            "isDeleted": False, "properties": out}
    if obj == "companies":
        body.update({"additionalDomains": [], "stateChanges": [], "mergeAudits": []})
    else:
        body.update({"associations": {
            "associatedVids": [hs.ID_BASES["contacts"] + j
                               for j in api.related(obj, i, "contacts")],
            "associatedCompanyIds": [hs.ID_BASES["companies"] + j
                                     for j in api.related(obj, i, "companies")],
            "associatedDealIds": [], "associatedTicketIds": []},
            "imports": [], "stateChanges": []})
    return body


def v1_paged(api: HubSpotApi, req: Request, obj: str) -> Response:
    """``/companies/v2/companies/paged`` and ``/deals/v1/deal/paged`` (live records)."""
    store = api.ds.stores[obj]
    limit = api._int(req, "limit", 100, 250)
    raw = req.q1("offset") or "0"
    offset = int(raw) if raw.isdigit() else 0
    start = offset - hs.ID_BASES[obj] + 1 if offset else 0
    everything = hs_bool(req.q1("includeAllProperties"))
    wanted = None if everything else req.qlist("properties") + req.qlist("property")
    rows: list[dict[str, Any]] = []
    i = store.next_index(max(0, start), False)
    while i >= 0 and len(rows) < limit:
        rows.append(v1_object(api, obj, i, wanted))
        i = store.next_index(i + 1, False)
    key = "companyId" if obj == "companies" else "dealId"
    last = rows[-1][key] if rows else offset
    more = "has-more" if obj == "companies" else "hasMore"
    return json_response(200, {"companies" if obj == "companies" else "deals": rows,
                               more: i >= 0, "offset": last})


def v1_detail(api: HubSpotApi, req: Request, obj: str, raw: str) -> Response:
    """``/companies/v2/companies/{id}`` and ``/deals/v1/deal/{id}`` with every property."""
    i = int(raw) - hs.ID_BASES[obj] if raw.isdigit() else -1
    store = api.ds.stores[obj]
    if not 0 <= i < store.count or store.is_archived(i):
        raise error(req, 404, f"resource not found: {raw}", "OBJECT_NOT_FOUND")
    return json_response(200, v1_object(api, obj, i, None))


def engagements_modified_after(api: HubSpotApi, req: Request) -> Response:
    """``/engagements/v1/engagements/modified/after?after=`` (an epoch-ms start, then the
    opaque cursor each page returns)."""
    store = api.ds.stores["notes"]
    limit = api._int(req, "limit", 100, _ENGAGEMENT_MAX)
    raw = req.q1("after") or "0"
    since, start = 0, 0
    if raw.startswith("c") and raw[1:].isdigit():
        start = int(raw[1:])
    elif raw.isdigit():
        since = int(raw)
    results: list[dict[str, Any]] = []
    i = store.next_index(start, False)
    while i >= 0 and len(results) < limit:
        item = engagement(api, i)
        if (item["engagement"]["lastUpdated"] or 0) >= since:
            results.append(item)
        i = store.next_index(i + 1, False)
    return json_response(200, {"results": results, "hasMore": i >= 0,
                               "after": f"c{i if i >= 0 else store.count}"})


def hs_bool(value: str | None) -> bool:
    """``true``/``True`` (clients send either)."""
    return (value or "").strip().lower() == "true"


def _tier_denied(p: list[str]) -> str | None:
    """The denied type named by a properties path (v3 or v2), else None."""
    if len(p) == 4 and p[:3] == ["crm", "v3", "properties"]:
        name = p[3]
    elif len(p) == 4 and p[:2] == ["properties", "v2"] and p[3] == "properties":
        name = p[2]
    else:
        return None
    for kind, (type_id, _) in hs.TIER_DENIED.items():
        if name.lower() in (kind, type_id):
            return kind
    # Marketing forms have property definitions too (no records in this portal).
    return "forms" if name.lower() in ("form", "forms") else None


def route(api: HubSpotApi, req: Request, p: list[str]) -> Response | None:
    """Answer a legacy path, or None when ``p`` is not one."""
    n, m = len(p), req.method
    denied = _tier_denied(p)
    if denied is not None and m == "GET":
        # The tier lacks the object, yet its property definitions are readable (clients
        # discover them); the records themselves answer 403 (hubspot.py).
        props = [hs.property_json(denied, prop, k) for k, prop in enumerate((
            ("hs_createdate", "Create date", "datetime", "date", "info", (), True),
            ("hs_lastmodifieddate", "Last modified date", "datetime", "date", "info", (), True),
            ("hs_object_id", "Record ID", "number", "number", "info", (), True)))]
        return json_response(200, props if p[0] == "properties" else {"results": props})
    if m == "GET" and n == 4 and p[:2] == ["properties", "v1"] and p[3] == "properties":
        return json_response(200, [v1_property(x) for x in
                                   hs.properties_payload(api._type(req, p[2]))])
    if m == "GET" and p == ["companies", "v2", "properties"]:
        return json_response(200, [v1_property(x) for x in hs.properties_payload("companies")])
    if m == "GET" and p[:3] == ["crm-pipelines", "v1", "pipelines"] and n == 4:
        obj = api._type(req, p[3])
        if obj not in ("deals", "tickets"):
            raise error(req, 400, f"Object type {p[3]} has no pipelines", "VALIDATION_ERROR")
        return json_response(200, {"results": v1_pipelines(obj)})
    if m == "GET" and p == ["deals", "v1", "pipelines"]:
        return json_response(200, deal_pipelines_v1())
    if m == "GET" and p == ["engagements", "v1", "engagements", "paged"]:
        return engagements_paged(api, req)
    if m == "GET" and p in (["companies", "v2", "companies", "paged"],
                            ["deals", "v1", "deal", "paged"]):
        return v1_paged(api, req, "companies" if p[0] == "companies" else "deals")
    if m == "GET" and n == 4 and p[:3] in (["companies", "v2", "companies"],
                                           ["deals", "v1", "deal"]):
        return v1_detail(api, req, "companies" if p[0] == "companies" else "deals", p[3])
    if m == "GET" and p == ["engagements", "v1", "engagements", "modified", "after"]:
        return engagements_modified_after(api, req)
    if m == "POST" and p == ["crm", "v3", "lists", "search"]:
        return json_response(200, {"lists": [], "hasMore": False, "offset": 0, "total": 0})
    if m == "GET" and p == ["settings", "v3", "users"]:
        users = [{"id": str(o["userId"]), "email": o["email"], "firstName": o["firstName"],
                  "lastName": o["lastName"], "primaryTeamId": "7001",
                  "superAdmin": k == 0, "roleIds": []}
                 for k, o in enumerate(owners_payload()) if not o["archived"]]
        return json_response(200, {"results": users})
    return None
