"""Fixtures for the sandbox tests: real HTTPS servers on 127.0.0.1 and a small retrying client."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from vaultkeeper.sandbox import FaultConfig, Sandbox

RECORDS = 2000
SEED = 3


@pytest.fixture(scope="session")
def sb() -> Iterator[Sandbox]:
    """A clean sandbox shared by the read-only tests."""
    with Sandbox(records=RECORDS, seed=SEED, faults=FaultConfig.parse("none")) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def api(sb: Sandbox) -> Iterator[Api]:
    with Api(sb) as client:
        yield client


@pytest.fixture
def ca_env(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment points REQUESTS_CA_BUNDLE/SSL_CERT_FILE at the system bundle, which
    overrides a requests session's ``verify``; point them at the sandbox CA instead."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sb.ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(sb.ca_file))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


# Helpers are handed to tests through fixtures: test modules here are imported as
# ``tests.sandbox.…`` and cannot import a sibling helper module by a bare name.
@pytest.fixture(scope="session")
def make_api() -> Callable[..., Api]:
    """``make_api(sb, retry=False, token=None)`` → an ``Api`` client."""
    return Api


@pytest.fixture(scope="session")
def list_hubspot() -> Callable[..., tuple[list[dict[str, Any]], list[Any]]]:
    """``list_hubspot(api, obj, archived=False, properties=None, limit=100, **params)``."""
    return hs_list


@pytest.fixture(scope="session")
def query_salesforce() -> Callable[..., tuple[list[dict[str, Any]], list[Any], int]]:
    """``query_salesforce(api, soql, all_rows=False, batch=None)``."""
    return sf_query


class Api:
    """httpx client for a sandbox; with ``retry`` it rides out 429/403-limit/5xx/dropped
    connections the way a real exporter must, counting what it met."""

    def __init__(self, sb: Sandbox, retry: bool = False, token: str | None = None) -> None:
        self.sb = sb
        self.retry = retry
        self.met: dict[str, int] = {}
        self.client = httpx.Client(
            base_url=sb.url, trust_env=False,
            verify=ssl.create_default_context(cafile=str(sb.ca_file)) if sb.ca_file else False,
            timeout=30, headers={"Authorization": f"Bearer {token or sb.token}"})

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def _note(self, what: str) -> None:
        self.met[what] = self.met.get(what, 0) + 1

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        for _ in range(40):
            try:
                r = self.client.request(method, path, **kw)
            except httpx.TransportError:
                if not self.retry:
                    raise
                self._note("dropped")
                continue
            if not self.retry:
                return r
            if r.status_code == 429:
                self._note("429")
                time.sleep(min(float(r.headers.get("Retry-After", "0.02")), 1.0))
                continue
            if r.status_code == 403 and b"ConcurrentPerOrgLongTxn" in r.content:
                self._note("403-concurrency")
                time.sleep(0.02)
                continue
            if r.status_code >= 500:
                self._note(str(r.status_code))
                continue
            return r
        raise AssertionError(f"{method} {path} kept failing")

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any, **params: Any) -> httpx.Response:
        return self.request("POST", path, json=body, params=params)


def hs_list(api: Api, obj: str, archived: bool = False, properties: str | None = None,
            limit: int = 100, **extra: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    """Page a HubSpot list endpoint to the end: (valid records, malformed extras)."""
    records: list[dict[str, Any]] = []
    bad: list[Any] = []
    after = None
    seen: set[str] = set()
    while True:
        params: dict[str, Any] = {"limit": limit, "archived": str(archived).lower(), **extra}
        if properties is not None:
            params["properties"] = properties
        if after:
            params["after"] = after
        r = api.get(f"/crm/v3/objects/{obj}", **params)
        assert r.status_code == 200, r.text
        body = r.json()
        for item in body["results"]:
            ok = isinstance(item, dict) and isinstance(item.get("id"), str) and \
                isinstance(item.get("properties"), dict)
            (records if ok else bad).append(item)
        paging = body.get("paging")
        if not paging:
            return records, bad
        after = paging["next"]["after"]
        assert after not in seen, "cursor repeated"
        seen.add(after)


def sf_query(api: Api, soql: str, all_rows: bool = False, batch: int | None = None,
             version: str = "59.0") -> tuple[list[dict[str, Any]], list[Any], int]:
    """Run a SOQL query through every nextRecordsUrl: (rows, malformed extras, totalSize)."""
    headers = {"Sforce-Query-Options": f"batchSize={batch}"} if batch else {}
    r = api.request("GET", f"/services/data/v{version}/{'queryAll' if all_rows else 'query'}/",
                    params={"q": soql}, headers=headers)
    rows: list[dict[str, Any]] = []
    bad: list[Any] = []
    while True:
        assert r.status_code == 200, r.text
        body = r.json()
        for row in body["records"]:
            ok = isinstance(row, dict) and isinstance(row.get("Id"), str)
            (rows if ok else bad).append(row)
        if body["done"]:
            assert "nextRecordsUrl" not in body
            return rows, bad, body["totalSize"]
        r = api.request("GET", body["nextRecordsUrl"], headers=headers)
