"""Small vendor APIs on 127.0.0.1 for the long-tail connectors under test.

- ``PipedriveAPI``: enough of Pipedrive for singer-io tap-pipedrive (v2 ``/api/v2/{deals,
  persons,organizations}`` with cursor pages, the v1 ``*Fields`` lists) and the v1 endpoints
  airbyte-source-pipedrive calls (``/recents``, ``/organizations``). The ``api_token`` query
  parameter must be right (else 401, as Pipedrive answers).
- ``CloseAPI``: enough of Close for airbyte-source-close-com (``/api/v1/{lead,contact,
  opportunity}/`` with ``_skip``/``_limit`` pages, ``custom_field/*``, ``me``); HTTP Basic with
  the API key as user name.

The records are generated once and held here, so a test compares what a connector exported
with the truth."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "pd-FAKE-TOKEN-3f9a1c77e2"   # recognisable: must never be in argv or a leftover file


def _v1_time(day: int, hour: int) -> str:
    return f"2024-03-{day:02d} {hour:02d}:15:00"


def _v2_time(day: int, hour: int) -> str:
    # singer-python writes date-times as %Y-%m-%dT%H:%M:%S.%fZ: serve them in that form.
    return f"2024-03-{day:02d}T{hour:02d}:15:00.000000Z"


class PipedriveWorld:
    """The records the fake Pipedrive holds, in v1 and v2 shapes."""

    def __init__(self, orgs: int = 3, persons: int = 5, deals: int = 7) -> None:
        self.orgs = [{"id": i, "name": f"Org {i} Stichting", "owner_id": 9, "people_count": 0,
                      "is_deleted": False, "visible_to": "3"} for i in range(1, orgs + 1)]
        self.persons = [{"id": i, "name": f"Person {i}", "first_name": "Person",
                         "last_name": str(i), "owner_id": 9, "org_id": 1 + i % orgs,
                         "is_deleted": False,
                         "emails": [{"value": f"p{i}@example.org", "primary": True}]}
                        for i in range(1, persons + 1)]
        self.deals = [{"id": i, "title": f"Grant {i}", "value": 100.5 * i, "currency": "EUR",
                       "person_id": 1 + i % persons, "org_id": 1 + i % orgs,
                       "status": "deleted" if i == deals else ("won" if i % 3 == 0 else "open"),
                       "is_deleted": i == deals}
                      for i in range(1, deals + 1)]
        for n, row in enumerate(self.orgs + self.persons + self.deals):
            row["day"], row["hour"] = 1 + n % 27, n % 24

    def v1(self, kind: str) -> list[dict[str, Any]]:
        """Records as v1 answers them (``person_id`` / ``org_id`` as objects, v1 times)."""
        out = []
        for row in getattr(self, kind):
            rec = {k: v for k, v in row.items() if k not in ("day", "hour")}
            rec["add_time"] = rec["update_time"] = _v1_time(row["day"], row["hour"])
            if kind == "deals":
                rec["person_id"] = {"name": f"Person {row['person_id']}",
                                    "value": row["person_id"]}
            if kind in ("deals", "persons"):
                rec["org_id"] = {"name": f"Org {row['org_id']} Stichting",
                                 "value": row["org_id"]}
            out.append(rec)
        return out

    def v2(self, kind: str) -> list[dict[str, Any]]:
        """Records as v2 answers them (plain ids, ISO times)."""
        out = []
        for row in getattr(self, kind):
            rec = {k: v for k, v in row.items() if k not in ("day", "hour")}
            rec["add_time"] = rec["update_time"] = _v2_time(row["day"], row["hour"])
            out.append(rec)
        return out


class FakeAPI:
    """An HTTP server answering ``answer(path, headers)`` (``with API() as api: api.url``)."""

    def __init__(self, *, fail_with: int | None = None, token: str = TOKEN,
                 delay: float = 0.0) -> None:
        self.delay = delay
        self.fail_with = fail_with
        self.token = token
        self.requests: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if api.delay:
                    time.sleep(api.delay)
                status, body = api.answer(self.path, dict(self.headers))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, raw: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) for one GET."""
        raise NotImplementedError


class PipedriveAPI(FakeAPI):
    """Pipedrive (``api.pipedrive.com``)."""

    def __init__(self, world: PipedriveWorld | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.world = world or PipedriveWorld()

    def answer(self, raw: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) for one GET."""
        url = urlsplit(raw)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.requests.append(url.path)
        if query.get("api_token") != self.token:
            return 401, {"success": False, "error": "unauthorized access", "errorCode": 401}
        if self.fail_with is not None:
            return self.fail_with, {"success": False, "error": "simulated failure"}
        path = url.path.rstrip("/")
        if path.startswith("/api/v2/"):
            kind = path.rsplit("/", 1)[1]
            if kind not in ("deals", "persons", "organizations"):
                return 404, {"success": False, "error": "not found"}
            rows = self.world.v2("orgs" if kind == "organizations" else kind)
            return 200, self._cursor_page(rows, query)
        if path.endswith("Fields"):
            return 200, {"success": True, "data": [],
                         "additional_data": {"pagination": {"more_items_in_collection": False}}}
        if path == "/v1/recents":
            item = query.get("items", "")
            kinds = {"deal": "deals", "person": "persons"}
            rows = self.world.v1(kinds[item]) if item in kinds else []
            wrapped = [{"item": item, "id": r["id"], "data": r} for r in rows]
            return 200, self._start_page(wrapped, query)
        if path == "/v1/organizations":
            return 200, self._start_page(self.world.v1("orgs"), query)
        if path.startswith("/v1/"):
            return 200, {"success": True, "data": [],
                         "additional_data": {"pagination": {"more_items_in_collection": False}}}
        return 404, {"success": False, "error": "not found"}

    @staticmethod
    def _start_page(rows: list[Any], query: dict[str, str]) -> dict[str, Any]:
        start, limit = int(query.get("start") or 0), int(query.get("limit") or 100)
        page = rows[start:start + limit]
        more = start + limit < len(rows)
        pagination: dict[str, Any] = {"start": start, "limit": limit,
                                      "more_items_in_collection": more}
        if more:
            pagination["next_start"] = start + limit
        return {"success": True, "data": page, "additional_data": {"pagination": pagination}}

    @staticmethod
    def _cursor_page(rows: list[Any], query: dict[str, str]) -> dict[str, Any]:
        start, limit = int(query.get("cursor") or 0), int(query.get("limit") or 100)
        page = rows[start:start + limit]
        nxt = str(start + limit) if start + limit < len(rows) else None
        return {"success": True, "data": page, "additional_data": {"next_cursor": nxt}}


class CloseWorld:
    """Leads, their contacts and opportunities, as Close's API answers them."""

    def __init__(self, leads: int = 4, contacts: int = 6, opportunities: int = 5) -> None:
        def stamp(n: int) -> str:
            return f"2024-02-{1 + n % 27:02d}T{n % 24:02d}:30:00.000000+00:00"
        self.leads = [{"id": f"lead_{i:04d}", "name": f"Vereniging {i}",
                       "display_name": f"Vereniging {i}", "status_label": "Potential",
                       "description": None, "organization_id": "orga_1",
                       "date_created": stamp(i), "date_updated": stamp(i)}
                      for i in range(1, leads + 1)]
        self.contacts = [{"id": f"cont_{i:04d}", "lead_id": f"lead_{1 + i % leads:04d}",
                          "name": f"Member {i}", "display_name": f"Member {i}",
                          "title": "Treasurer", "organization_id": "orga_1",
                          "emails": [{"email": f"m{i}@example.org", "type": "office"}],
                          "phones": [], "date_created": stamp(10 + i),
                          "date_updated": stamp(10 + i)}
                         for i in range(1, contacts + 1)]
        self.opportunities = [{"id": f"oppo_{i:04d}", "lead_id": f"lead_{1 + i % leads:04d}",
                               "contact_id": f"cont_{1 + i % contacts:04d}", "value": 2500.0 * i,
                               "value_currency": "EUR", "status_type": "active",
                               "confidence": 50.0, "note": f"Donation {i}",
                               "date_created": stamp(20 + i), "date_updated": stamp(20 + i)}
                              for i in range(1, opportunities + 1)]


class CloseAPI(FakeAPI):
    """Close (``api.close.com``): HTTP Basic with the API key as the user name."""

    def __init__(self, world: CloseWorld | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.world = world or CloseWorld()

    def answer(self, raw: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) for one GET."""
        url = urlsplit(raw)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.requests.append(url.path)
        expected = "Basic " + base64.b64encode(f"{self.token}:".encode()).decode()
        if headers.get("Authorization") != expected:
            return 401, {"error": "The API key is invalid or the account is inactive."}
        if self.fail_with is not None:
            return self.fail_with, {"error": "simulated failure"}
        path = "/" + "/".join(p for p in url.path.split("/") if p)   # Close tolerates //
        if path == "/api/v1/me":
            return 200, {"id": "user_1", "organizations": [{"id": "orga_1"}]}
        kinds = {"/api/v1/lead": "leads", "/api/v1/contact": "contacts",
                 "/api/v1/opportunity": "opportunities"}
        if path in kinds:
            rows = getattr(self.world, kinds[path])
            skip, limit = int(query.get("_skip") or 0), int(query.get("_limit") or 100)
            return 200, {"data": rows[skip:skip + limit], "has_more": skip + limit < len(rows)}
        if path.startswith("/api/v1/"):
            return 200, {"data": [], "has_more": False}
        return 404, {"error": "not found"}
