"""HubSpot settings that records point at: owners (``hubspot_owner_id``) and the pipelines and
stages of deals and tickets (``pipeline``/``dealstage``). Without them a restored deal says
``dealstage = 1273920`` and nobody can tell what that meant.

HubSpot reports no count for either, so their source count is unknown (never invented).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from vaultkeeper.connectors.http import HttpClient, NotFound
from vaultkeeper.connectors.paginate import CursorPaginator
from vaultkeeper.errors import ConnectorError, ScopeError
from vaultkeeper.models import Item, Malformed, ObjectSpec, Record

OWNERS_FIELDS = ("id", "email", "type", "firstName", "lastName", "userId",
                 "userIdIncludingInactive", "createdAt", "updatedAt", "archived", "teams")
PIPELINE_FIELDS = ("id", "objectType", "label", "displayOrder", "archived", "createdAt",
                   "updatedAt", "stages")
PIPELINE_OBJECTS = ("deals", "tickets")
SETTINGS_KIND = "hubspot settings"


def discover_settings(http: HttpClient, wanted: tuple[str, ...], problems: list[str],
                      pages: dict[str, Any] | None = None) -> list[ObjectSpec]:
    """``owners`` and ``pipelines`` when the token may read them (a 403 is a problem). The
    probe asks for the first page a read starts with and keeps it in ``pages`` for
    ``read_settings`` (one request fewer each)."""
    found = []
    for name, path, fields in (("owners", "/crm/v3/owners", OWNERS_FIELDS),
                               ("pipelines", "/crm/v3/pipelines/deals", PIPELINE_FIELDS)):
        if wanted and name not in wanted:
            continue
        try:
            body = http.get_json(path, params=_owners_page(False, None)
                                 if name == "owners" else None)
            if pages is not None:
                pages[path] = body
        except NotFound:
            continue
        except ScopeError as exc:
            problems.append(f"{name}: not readable ({exc.message})")
            continue
        found.append(ObjectSpec(name=name, primary_key="id", properties=fields,
                                schema={"kind": SETTINGS_KIND, "endpoint": path},
                                vendor_name=name))
    return found


def is_settings(obj: ObjectSpec) -> bool:
    """True for the owners/pipelines objects of this module."""
    return isinstance(obj.schema, dict) and obj.schema.get("kind") == SETTINGS_KIND


def _owners_page(archived: bool, after: Any) -> dict[str, str]:
    params = {"limit": "100", "archived": "true" if archived else "false"}
    if after:
        params["after"] = str(after)
    return params


def read_settings(http: HttpClient, obj: ObjectSpec,
                  pages: dict[str, Any] | None = None) -> Iterator[Item]:
    """Every owner (active, then archived) or every deal and ticket pipeline; a first page
    the discovery probe kept in ``pages`` is used (once) instead of asking again."""
    kept = pages if pages is not None else {}
    if obj.name == "owners":
        for archived in (False, True):
            paginator = CursorPaginator()
            while not paginator.finished:
                first = not archived and not paginator.current and "/crm/v3/owners" in kept
                body = kept.pop("/crm/v3/owners") if first else \
                    http.get_json("/crm/v3/owners",
                                  params=_owners_page(archived, paginator.current))
                rows = _results(body, "owners")
                for row in rows:
                    yield _item(row, "owners", bool(row.get("archived", archived))
                                if isinstance(row, dict) else archived)
                paginator.advance(body, len(rows))
        return
    for kind in PIPELINE_OBJECTS:
        path = f"/crm/v3/pipelines/{kind}"
        body = kept.pop(path) if path in kept else http.get_json(path)
        for row in _results(body, "pipelines"):
            if isinstance(row, dict):
                row = {**row, "objectType": kind}   # pipeline ids are per object type
            yield _item(row, f"pipelines/{kind}", False)


def _results(body: Any, name: str) -> list[Any]:
    rows = body.get("results") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise ConnectorError(f"HubSpot answered {name} without a results list")
    return rows


def _item(row: Any, where: str, archived: bool) -> Item:
    if not isinstance(row, dict) or not row.get("id"):
        return Malformed(raw=orjson.dumps(row).decode(), reason="entry has no id",
                         location=where)
    return Record(row, archived=archived)
