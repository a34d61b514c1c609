"""HubSpot associations for the sandbox: v3 association pages, v4 pages and batch reads,
association labels and types (read side; writes are in ``hs_write``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from vaultkeeper.sandbox import hs_schema as hs
from vaultkeeper.sandbox.data import iso_ms
from vaultkeeper.sandbox.hs_meta import batch_inputs, error
from vaultkeeper.sandbox.wire import Request, Response, json_response

if TYPE_CHECKING:
    from vaultkeeper.sandbox.hubspot import HubSpotApi

# v4 association type ids (HUBSPOT_DEFINED, unlabeled) by (from, to)
TYPE_IDS = {("contacts", "companies"): 279, ("companies", "contacts"): 280,
            ("deals", "contacts"): 3, ("contacts", "deals"): 4,
            ("deals", "companies"): 341, ("companies", "deals"): 342,
            ("notes", "contacts"): 202, ("contacts", "notes"): 201}
ASSOC_PAGE = 500


def assoc_name(a: str, b: str) -> str:
    """HubSpot's v3 association type name, e.g. ``contact_to_company``."""
    return f"{hs.OBJECT_TYPES[a][1]}_to_{hs.OBJECT_TYPES[b][1]}"


def route(api: HubSpotApi, req: Request, p: list[str]) -> Response | None:
    """The association endpoints; None when ``p`` is not one of them."""
    m, n = req.method, len(p)
    if p[:3] == ["crm", "v3", "objects"] and n == 7 and p[5] == "associations" and m == "GET":
        return page(api, req, api._type(req, p[3]), p[4], api._type(req, p[6]), v4=False)
    if p[:3] == ["crm", "v4", "objects"] and n == 7 and p[5] == "associations":
        return page(api, req, api._type(req, p[3]), p[4], api._type(req, p[6]), v4=True)
    if p[:3] == ["crm", "v4", "associations"] and n == 7 and p[5:] == ["batch", "read"]:
        return batch(api, req, api._type(req, p[3]), api._type(req, p[4]))
    if p[:3] == ["crm", "v4", "associations"] and n == 6 and p[5] == "labels":
        a, b = api._type(req, p[3]), api._type(req, p[4])
        tid = TYPE_IDS.get((a, b))
        return json_response(200, {"results": [] if tid is None else [
            {"category": "HUBSPOT_DEFINED", "typeId": tid, "label": None}]})
    if p[:3] == ["crm", "v3", "associations"] and n == 6 and p[5] == "types":
        a, b = api._type(req, p[3]), api._type(req, p[4])
        tid = TYPE_IDS.get((a, b))
        return json_response(200, {"results": [] if tid is None else [
            {"id": str(tid), "name": assoc_name(a, b)}]})
    return None


def page(api: HubSpotApi, req: Request, obj: str, raw_id: str, to: str, v4: bool) -> Response:
    """One object's associations to ``to``, v3 (id + type name) or v4 (type ids), paged."""
    i = api._index(req, obj, raw_id)
    limit = api._int(req, "limit", ASSOC_PAGE, ASSOC_PAGE)
    after = req.q1("after") or "0"
    offset = int(after) if after.isdigit() else 0
    ids = api.related(obj, i, to)
    page = ids[offset:offset + limit]
    base = hs.ID_BASES[to]
    if v4:
        spec = [{"category": "HUBSPOT_DEFINED", "typeId": TYPE_IDS.get((obj, to), 0),
                 "label": None}]
        results: list[Any] = [{"toObjectId": base + j, "associationTypes": spec}
                              for j in page]
    else:
        name = assoc_name(obj, to)
        results = [{"id": str(base + j), "type": name} for j in page]
    body: dict[str, Any] = {"results": results}
    if offset + limit < len(ids):
        nxt = str(offset + limit)
        body["paging"] = {"next": {"after": nxt,
                                   "link": f"{req.base_url}{req.path}?after={nxt}"}}
    return json_response(200, body)

def batch(api: HubSpotApi, req: Request, obj: str, to: str) -> Response:
    """``POST /crm/v4/associations/{from}/{to}/batch/read``: up to 1000 ids, 207 with errors."""
    body = api._json_body(req)
    inputs = batch_inputs(req, body, '{"id"}')
    if len(inputs) > 1000:
        raise error(req, 400, "Batch input limit is 1000", "VALIDATION_ERROR")
    store, base = api.ds.stores[obj], hs.ID_BASES[to]
    spec = [{"category": "HUBSPOT_DEFINED", "typeId": TYPE_IDS.get((obj, to), 0),
             "label": None}]
    results, errors = [], []
    started = iso_ms(int(time.time() * 1000))
    for item in inputs:
        raw = str(item.get("id", ""))
        after = str(item.get("after") or "0")
        offset = int(after) if after.isdigit() else 0
        try:
            i = int(raw) - hs.ID_BASES[obj]
        except ValueError:
            i = -1
        ids = api.related(obj, i, to) if 0 <= i < store.count else []
        if not ids:
            errors.append({
                "status": "error", "category": "VALIDATION_ERROR",
                "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                "message": f"No {hs.OBJECT_TYPES[to][1]} is associated with "
                           f"{hs.OBJECT_TYPES[obj][1]} {raw}.",
                "context": {"fromObjectId": [raw], "toObjectType": [to]}})
            continue
        entry: dict[str, Any] = {"from": {"id": raw}, "to": [
            {"toObjectId": base + j, "associationTypes": spec}
            for j in ids[offset:offset + ASSOC_PAGE]]}
        if offset + ASSOC_PAGE < len(ids):
            entry["paging"] = {"next": {"after": str(offset + ASSOC_PAGE)}}
        results.append(entry)
    out: dict[str, Any] = {"status": "COMPLETE", "results": results}
    if errors:
        out["numErrors"] = len(errors)
        out["errors"] = errors
    out["startedAt"] = started
    out["completedAt"] = iso_ms(int(time.time() * 1000))
    return json_response(207 if errors else 200, out)
