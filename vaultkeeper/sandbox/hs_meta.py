"""HubSpot error helpers and metadata endpoints: properties, owners, pipelines and property
history."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from vaultkeeper.sandbox import hs_schema as hs
from vaultkeeper.sandbox.data import Dataset, iso_ms, mix64
from vaultkeeper.sandbox.hs_schema import (
    DEAL_PIPELINES,
    OWNERS,
    SCHEMA_TIME,
    TICKET_PIPELINES,
)
from vaultkeeper.sandbox.wire import ApiError, Request, Response, json_response

if TYPE_CHECKING:
    from vaultkeeper.sandbox.hubspot import HubSpotApi


def parse_bool(value: str | None, default: bool = False) -> bool:
    """``true``/``True``/``false``/``False`` (the Python SDK capitalises booleans)."""
    if value is None or value == "":
        return default
    return value.strip().lower() in ("true", "1", "yes")


def error(req: Request, status: int, message: str, category: str,
          **extra: Any) -> ApiError:
    """A HubSpot ``Error`` body wrapped for raising."""
    body = {"status": "error", "message": message, "correlationId": req.correlation_id(),
            "category": category, **extra}
    return ApiError(json_response(status, body))


def batch_inputs(req: Request, body: Any, shape: str) -> list[dict[str, Any]]:
    """The ``inputs`` list of a batch request body, or HubSpot's 400 naming what each input is
    (``shape``)."""
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not all(isinstance(x, dict) for x in inputs):
        raise error(req, 400, f"Invalid input JSON: 'inputs' must be a list of {shape}",
                    "VALIDATION_ERROR")
    return inputs


def pipelines_payload(obj: str) -> list[dict[str, Any]] | None:
    """Pipelines of deals/tickets (None for objects without pipelines)."""
    table = {"deals": DEAL_PIPELINES, "tickets": TICKET_PIPELINES}.get(obj)
    if table is None:
        return None
    out = []
    for k, (pid, label, stages) in enumerate(table):
        out.append({
            "id": pid, "label": label, "displayOrder": k, "archived": False,
            "createdAt": SCHEMA_TIME, "updatedAt": SCHEMA_TIME,
            "stages": [{"id": sid, "label": slabel, "displayOrder": n, "archived": False,
                        "createdAt": SCHEMA_TIME, "updatedAt": SCHEMA_TIME,
                        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                        "metadata": {"probability": prob, "isClosed": str(closed).lower()}
                        if obj == "deals" else {"ticketState": "CLOSED" if closed else "OPEN"}}
                       for n, (sid, slabel, prob, closed) in enumerate(stages)],
        })
    return out


def owners_payload() -> list[dict[str, Any]]:
    """Every owner (``GET /crm/v3/owners/``); the last one is archived (a former employee)."""
    out = []
    for k, (oid, email, first, last) in enumerate(OWNERS):
        archived = k == len(OWNERS) - 1
        out.append({"id": oid, "email": email, "type": "PERSON", "firstName": first,
                    "lastName": last, "userId": 9100000 + k,
                    "userIdIncludingInactive": 9100000 + k, "createdAt": SCHEMA_TIME,
                    "updatedAt": SCHEMA_TIME, "archived": archived,
                    "teams": [{"id": "7001", "name": "Staff", "primary": True}]})
    return out


def properties(api: HubSpotApi, req: Request, obj: str, rest: list[str]) -> Response:
    """``GET /crm/v3/properties/{obj}[/groups|/{name}]``."""
    custom = list(api.ds.custom_properties.get(obj, {}).values())
    if not rest:
        if parse_bool(req.q1("archived")):
            return json_response(200, {"results": []})
        return json_response(200, {"results": [*hs.properties_payload(obj), *custom]})
    if rest == ["groups"]:
        return json_response(200, {"results": hs.groups_payload(obj)})
    if len(rest) == 1:
        for prop in (*hs.properties_payload(obj), *custom):
            if prop["name"] == rest[0]:
                return json_response(200, prop)
        raise error(req, 404, f"Unable to find property {rest[0]} for object {obj}",
                    "OBJECT_NOT_FOUND")
    raise error(req, 404, "resource not found", "OBJECT_NOT_FOUND")

def owners(api: HubSpotApi, req: Request, owner_id: str | None) -> Response:
    """``GET /crm/v3/owners[/{id}]`` with limit/after/email/archived."""
    owners = owners_payload()
    if owner_id:
        for o in owners:
            if o["id"] == owner_id:
                return json_response(200, o)
        raise error(req, 404, f"Owner {owner_id} not found", "OBJECT_NOT_FOUND")
    archived = parse_bool(req.q1("archived"))
    email = req.q1("email")
    rows = [o for o in owners if o["archived"] == archived and
            (not email or o["email"] == email)]
    limit = api._int(req, "limit", 100, 500)
    after = req.q1("after") or "0"
    offset = int(after) if after.isdigit() else 0
    body: dict[str, Any] = {"results": rows[offset:offset + limit]}
    if offset + limit < len(rows):
        body["paging"] = {"next": {"after": str(offset + limit)}}
    return json_response(200, body)

def pipelines(api: HubSpotApi, req: Request, obj: str, rest: list[str]) -> Response:
    """``GET /crm/v3/pipelines/{obj}[/{id}[/stages]]``."""
    pipelines = pipelines_payload(obj) or []
    if not rest:
        return json_response(200, {"results": pipelines})
    for p in pipelines:
        if p["id"] == rest[0]:
            if rest[1:] == ["stages"]:
                return json_response(200, {"results": p["stages"]})
            if len(rest) == 1:
                return json_response(200, p)
    raise error(req, 404, f"Pipeline {rest[0]} not found", "OBJECT_NOT_FOUND")


def history_of(ds: Dataset, obj: str, i: int, name: str, value: str | None,
               ) -> list[dict[str, str]]:
    """``propertiesWithHistory`` entries for one property: newest first, 0–3 versions."""
    if value is None:
        return []
    st = ds.stores[obj]
    created, modified = st.created_ms(i), st.generated_modified_ms(i)
    # crc32, not hash(): str hashes change per process and the data must not.
    h = mix64(st.hash(i) ^ zlib.crc32(name.encode()))
    versions = 1 + h % 3 if modified > created else 1
    out = [{"value": value, "timestamp": iso_ms(modified if versions > 1 else created),
            "sourceType": "CRM_UI", "sourceId": "userId:9100001", "updatedByUserId": "9100001"}]
    if versions > 1:
        older = value.lower() if value != value.lower() else value.upper()
        out.append({"value": older, "timestamp": iso_ms(created + (modified - created) // 2),
                    "sourceType": "API", "sourceId": "integration", "updatedByUserId": ""})
    if versions > 2:
        out.append({"value": "", "timestamp": iso_ms(created), "sourceType": "IMPORT",
                    "sourceId": "import-1", "updatedByUserId": ""})
    return out
