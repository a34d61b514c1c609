"""Fault injection: each fault fires with the vendor's shape, and data survives all of them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import hubspot
import pytest
from urllib3.util.retry import Retry

from vaultkeeper.sandbox import Sandbox
from vaultkeeper.sandbox import hs_schema as hs

HS_OBJECTS = ("contacts", "companies", "deals", "notes")
SF_OBJECTS = ("Account", "Contact", "Opportunity", "Task")


@pytest.fixture
def faulty(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A sandbox with the faults given by ``@pytest.mark.parametrize('faulty', [...])``."""
    records, faults = request.param
    with Sandbox(records=records, seed=5, faults=faults) as sandbox:
        yield sandbox


@pytest.mark.parametrize("faulty", [(300, "429:every=4:burst=2:retry_after=0")], indirect=True)
def test_rate_limit_bursts_have_hubspot_and_salesforce_shapes(faulty: Sandbox,
                                                              make_api: Any) -> None:
    with make_api(faulty) as api:
        responses = [api.get("/crm/v3/objects/contacts", limit=1) for _ in range(16)]
        searches = [api.post("/crm/v3/objects/contacts/search", {"limit": 1})
                    for _ in range(8)]
        sf = [api.get("/services/data/v59.0/query", q="SELECT Id FROM Account LIMIT 1")
              for _ in range(8)]
    limited = [r for r in responses if r.status_code == 429]
    assert len(limited) == 8  # requests 3,4 of every 4: bursts of two
    for r in limited:
        body = r.json()
        assert body["errorType"] == "RATE_LIMIT" and body["status"] == "error"
        assert body["policyName"] == "TEN_SECONDLY_ROLLING"
        assert body["correlationId"] and body["requestId"] and body["message"]
        assert r.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    with_retry_after = [r for r in limited if "Retry-After" in r.headers]
    assert 0 < len(with_retry_after) < len(limited)  # sometimes with, sometimes without
    assert all("Retry-After" not in r.headers for r in searches if r.status_code == 429)
    refused = [r for r in sf if r.status_code == 403]
    assert refused and all(r.json() == [{"message": "ConcurrentPerOrgLongTxn Limit exceeded",
                                         "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
                           for r in refused)
    assert faulty.stats()["faults"]["rate_limit"] == 16


@pytest.mark.parametrize("faulty", [(300, "daily_limit:after=2")], indirect=True)
def test_daily_limit_is_not_the_retryable_one(faulty: Sandbox, make_api: Any) -> None:
    with make_api(faulty) as api:
        assert api.get("/crm/v3/objects/contacts").status_code == 200
        assert api.get("/services/data/v59.0/limits").status_code == 200
        hs_r = api.get("/crm/v3/objects/contacts")
        sf_r = api.get("/services/data/v59.0/query", q="SELECT Id FROM Account")
    assert hs_r.status_code == 429 and hs_r.json()["policyName"] == "DAILY"
    assert hs_r.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    assert sf_r.status_code == 403
    assert sf_r.json()[0]["message"] == "TotalRequests Limit exceeded."
    assert sf_r.headers["Sforce-Limit-Info"] == "api-usage=15000/15000"


@pytest.mark.parametrize("faulty", [(3000, "5xx:every=2")], indirect=True)
def test_server_errors_hit_only_cursor_requests(faulty: Sandbox, make_api: Any) -> None:
    seen: dict[int, Any] = {}
    with make_api(faulty) as api:
        for _ in range(5):  # first pages never fail
            assert api.get("/crm/v3/objects/contacts", limit=10).status_code == 200
        for _ in range(12):
            r = api.get("/crm/v3/objects/contacts", limit=10, after="1500")
            seen.setdefault(r.status_code, r)
        first = api.get("/services/data/v59.0/query", q="SELECT Id FROM Contact",
                        headers=None).json()
        locator_url = first["nextRecordsUrl"]
        sf_seen: dict[int, Any] = {}
        for _ in range(12):
            r = api.get(locator_url)
            sf_seen.setdefault(r.status_code, r)
    assert {200, 500, 502, 503} <= set(seen)
    assert seen[500].json()["category"] == "INTERNAL_ERROR"
    assert seen[503].json()["status"] == "error"
    assert b"502 Bad Gateway" in seen[502].content
    assert {200, 500, 502, 503} <= set(sf_seen)
    assert sf_seen[500].json()[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert sf_seen[503].json()[0]["errorCode"] == "SERVER_UNAVAILABLE"


@pytest.mark.parametrize("faulty", [(300, "slow:every=2:ms=120")], indirect=True)
def test_slow_pages(faulty: Sandbox, make_api: Any) -> None:
    with make_api(faulty) as api:
        durations = []
        for _ in range(4):
            start = time.monotonic()
            assert api.get("/crm/v3/objects/contacts", limit=1).status_code == 200
            durations.append(time.monotonic() - start)
    assert sum(d >= 0.12 for d in durations) == 2
    assert faulty.stats()["faults"]["slow"] == 2


@pytest.mark.parametrize("faulty", [(300, "drop:every=2")], indirect=True)
def test_dropped_connections(faulty: Sandbox, make_api: Any) -> None:
    errors = []
    with make_api(faulty) as api:
        for _ in range(8):
            try:
                r = api.get("/crm/v3/objects/contacts", limit=50)
                assert r.status_code == 200
            except httpx.TransportError as exc:
                errors.append(type(exc).__name__)
    assert len(errors) == 4
    # Both kinds: closed before any byte, and closed in the middle of the body.
    assert "RemoteProtocolError" in errors
    assert faulty.stats()["faults"]["drop"] == 4


@pytest.mark.parametrize("faulty", [(1500, "short:every=2")], indirect=True)
def test_short_pages_keep_the_cursor(faulty: Sandbox, make_api: Any,
                                     list_hubspot: Any) -> None:
    with make_api(faulty) as api:
        records, _ = list_hubspot(api, "contacts")
    assert len(records) == faulty.expected()["hubspot"]["contacts"]["live"]
    assert faulty.stats()["faults"]["short"] > 3


def _export(api: Any, list_hubspot: Any, query_salesforce: Any,
            ) -> tuple[dict[str, Any], dict[str, int]]:
    """Everything a backup would read; returns (data keyed by object, malformed counts)."""
    data: dict[str, Any] = {}
    bad: dict[str, int] = {}
    for obj in HS_OBJECTS:
        for archived in (False, True):
            props = ",".join(hs.property_names(obj)) if obj != "contacts" else None
            records, extras = list_hubspot(api, obj, archived=archived, properties=props)
            data[f"{obj}:{archived}"] = sorted(records, key=lambda r: r["id"])
            bad[f"{obj}:{archived}"] = len(extras)
    for name in SF_OBJECTS:
        for everything in (False, True):
            rows, extras, total = query_salesforce(
                api, f"SELECT Id, Name, IsDeleted, SystemModstamp FROM {name}" if name != "Task"
                else "SELECT Id, Subject, WhoId, WhatId FROM Task", all_rows=everything)
            assert total == len(rows)
            data[f"{name}:{everything}"] = rows
            bad[f"{name}:{everything}"] = len(extras)
    return data, bad


def test_all_faults_change_nothing_but_the_malformed_extras(
        make_api: Any, list_hubspot: Any, query_salesforce: Any) -> None:
    with Sandbox(records=5000, seed=13, faults="none") as clean, make_api(clean) as api:
        reference, clean_bad = _export(api, list_hubspot, query_salesforce)
    assert not any(clean_bad.values())
    # The documented promise: a 5,000-record export meets every fault several times.
    with Sandbox(records=5000, seed=13, faults="all") as faulty, \
            make_api(faulty, retry=True) as api:
        data, bad = _export(api, list_hubspot, query_salesforce)
        stats = faulty.stats()
    assert data == reference
    # One extra malformed item per non-empty listing, no more.
    assert all(n == 1 for n in bad.values()), bad
    for kind in ("rate_limit", "server_error", "slow", "drop", "malformed"):
        assert stats["faults"][kind] >= 3, (kind, stats)
    assert api.met.get("429", 0) and api.met.get("dropped", 0)


@pytest.mark.parametrize("faulty", [(1200, "429:every=7:retry_after=0,5xx:every=3,drop:every=9")],
                         indirect=True)
def test_hubspot_sdk_with_retries_rides_out_faults(faulty: Sandbox) -> None:
    retry = Retry(total=30, status_forcelist=(429, 500, 502, 503), backoff_factor=0,
                  allowed_methods=None, respect_retry_after_header=True)
    client = hubspot.Client.create(access_token=faulty.token, host=faulty.url,
                                   ssl_ca_cert=str(faulty.ca_file), retry=retry)
    contacts = client.crm.contacts.get_all(properties=["email"], limit=None)
    assert len(contacts) == faulty.expected()["hubspot"]["contacts"]["live"]
    faults = faulty.stats()["faults"]
    assert faults["rate_limit"] and faults["server_error"] and faults["drop"]
