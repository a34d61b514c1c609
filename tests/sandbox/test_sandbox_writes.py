"""Sandbox writes over HTTPS with a plain client: vendor bodies, visibility to the readers,
the request log and the bad-day helpers."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from vaultkeeper.sandbox import FaultConfig, Sandbox


@pytest.fixture
def wsb() -> Iterator[Sandbox]:
    with Sandbox(records=120, seed=4) as sandbox:
        yield sandbox


def _http(sb: Sandbox) -> httpx.Client:
    return httpx.Client(base_url=sb.url, verify=ssl.create_default_context(cafile=str(sb.ca_file)),
                        headers={"Authorization": f"Bearer {sb.token}"})


def _ids(http: httpx.Client, path: str, **params: Any) -> list[str]:
    out, after = [], None
    while True:
        body = http.get(path, params={"limit": 100, **params,
                                      **({"after": after} if after else {})}).json()
        out += [r["id"] for r in body["results"]]
        after = ((body.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return out


def test_hubspot_writes_are_visible_to_list_search_and_associations(wsb: Sandbox) -> None:
    with _http(wsb) as http:
        company = wsb.live_ids("companies", 1)[0]
        r = http.post("/crm/v3/objects/contacts/batch/create", json={"inputs": [
            {"properties": {"email": "vis@example.org", "membership_level": "life"},
             "associations": [{"to": {"id": company}, "types": [
                 {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]}]}]})
        assert r.status_code == 201
        new = r.json()["results"][0]["id"]
        assert new in _ids(http, "/crm/v3/objects/contacts")
        found = http.post("/crm/v3/objects/contacts/search", json={"filterGroups": [{"filters": [
            {"propertyName": "membership_level", "operator": "EQ", "value": "life"},
            {"propertyName": "email", "operator": "EQ", "value": "vis@example.org"}]}]}).json()
        assert [x["id"] for x in found["results"]] == [new]
        back = http.get(f"/crm/v4/objects/companies/{company}/associations/contacts").json()
        assert int(new) in [x["toObjectId"] for x in back["results"]]
        http.post("/crm/v3/objects/contacts/batch/archive", json={"inputs": [{"id": new}]})
        assert new not in _ids(http, "/crm/v3/objects/contacts")
        assert new in _ids(http, "/crm/v3/objects/contacts", archived="true")
        back = http.get(f"/crm/v4/objects/companies/{company}/associations/contacts").json()
        assert int(new) not in [x["toObjectId"] for x in back["results"]]


def test_hubspot_association_and_property_errors(wsb: Sandbox) -> None:
    with _http(wsb) as http:
        contact, company = wsb.live_ids("contacts", 1)[0], wsb.live_ids("companies", 1)[0]
        r = http.post("/crm/v4/associations/contacts/companies/batch/create", json={"inputs": [
            {"from": {"id": contact}, "to": {"id": company},
             "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]},
            {"from": {"id": "1"}, "to": {"id": company}, "types": []}]})
        assert r.status_code == 207
        body = r.json()
        assert body["numErrors"] == 1 and "does not exist" in body["errors"][0]["message"]
        assert [x["toObjectId"] for x in body["results"]] == [int(company)]
        prop = {"name": "vaultkeeper_legacy_id", "label": "L", "type": "string",
                "fieldType": "text", "groupName": "contactinformation"}
        assert http.post("/crm/v3/properties/contacts", json=prop).status_code == 201
        again = http.post("/crm/v3/properties/contacts", json=prop)
        assert again.status_code == 409 and again.json()["category"] == "CONFLICT"
        names = [p["name"] for p in http.get("/crm/v3/properties/contacts").json()["results"]]
        assert "vaultkeeper_legacy_id" in names
        r = http.post("/crm/v3/objects/contacts/batch/update", json={"inputs": [
            {"id": contact, "properties": {"vaultkeeper_legacy_id": "old-1"}},
            {"id": contact, "properties": {"phone": "1"}}]})
        assert r.status_code == 400 and "Duplicate IDs" in r.json()["message"]
        r = http.post("/crm/v3/objects/contacts/batch/update", json={"inputs": [
            {"id": contact, "properties": {"createdate": "1", "vaultkeeper_legacy_id": "x"}}]})
        detail = orjson.loads(r.json()["message"].split(": ", 1)[1])
        assert r.status_code == 400 and [d["error"] for d in detail] == ["READ_ONLY_VALUE"]


def test_salesforce_writes_are_visible_to_query(wsb: Sandbox) -> None:
    with _http(wsb) as http:
        root = "/services/data/v59.0"
        account = wsb.live_ids("Account", 1)[0]
        made = http.post(f"{root}/composite/sobjects", json={"records": [
            {"attributes": {"type": "Contact"}, "LastName": "Visible", "AccountId": account}]})
        new = made.json()[0]["id"]
        rows = http.get(f"{root}/query", params={
            "q": f"SELECT Id, Name FROM Contact WHERE AccountId = '{account}'"}).json()
        assert new in [x["Id"] for x in rows["records"]]
        count = http.get(f"{root}/query", params={"q": "SELECT COUNT() FROM Contact"}).json()
        assert count["totalSize"] == wsb.expected()["salesforce"]["Contact"]["live"]
        bad = http.post(f"{root}/composite/sobjects", json={"allOrNone": True, "records": [
            {"attributes": {"type": "Contact"}, "LastName": "Fine"},
            {"attributes": {"type": "Contact"}, "LastName": "Bad", "AccountId": new}]}).json()
        assert [b["errors"][0]["statusCode"] for b in bad] == [
            "ALL_OR_NONE_OPERATION_ROLLED_BACK", "FIELD_INTEGRITY_EXCEPTION"]
        assert wsb.write_requests()[-1].ids == ()  # nothing written


def test_mass_archive_and_overwrite_helpers(wsb: Sandbox) -> None:
    before = wsb.expected()["relations"]["hubspot"]["contacts__companies"]
    ids = wsb.mass_archive("contacts", 10)
    assert len(ids) == 10
    after = wsb.expected()
    assert after["relations"]["hubspot"]["contacts__companies"] < before
    with _http(wsb) as http:
        archived = _ids(http, "/crm/v3/objects/contacts", archived="true")
        assert set(ids) <= set(archived)
        live = wsb.live_ids("contacts", 3)
        wsb.overwrite("contacts", {i: {"phone": "000"} for i in live})
        got = http.post("/crm/v3/objects/contacts/batch/read", json={
            "inputs": [{"id": i} for i in live], "properties": ["phone"],
            "propertiesWithHistory": []}).json()
        assert {r["properties"]["phone"] for r in got["results"]} == {"000"}
    assert wsb.write_requests() == []  # the helpers act behind the API's back


def test_enforced_limit_refuses_a_careless_loop() -> None:
    with Sandbox(records=5, seed=1, rate_limit=5, enforce_rate_limit=True,
                 faults=FaultConfig.none()) as sb, _http(sb) as http:
        codes = [http.get("/crm/v3/objects/contacts").status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3
        assert sb.stats()["refused"]["rate_limit"] == 3


def test_an_empty_portal_takes_records_and_exports_them() -> None:
    from vk_testing import hubspot

    from vaultkeeper.connectors import make_writer
    from vaultkeeper.connectors.writer import LinkSpec, NewRecord
    from vaultkeeper.models import Record, Relation

    with Sandbox(records=0, seed=1) as sb:
        assert all(v["total"] == 0 for v in sb.expected()["hubspot"].values())
        with make_writer("hubspot", sb.url, sb.token, ca_file=sb.ca_file) as writer:
            companies = [str(o.id) for o in writer.create("companies", [
                NewRecord(str(j), {"name": f"Org {j}"}) for j in range(3)]).outcomes]
            made = writer.create("contacts", [
                NewRecord(str(i), {"email": f"e{i}@example.org"},
                          [LinkSpec("contacts", "", "companies", companies[i % 3])])
                for i in range(5)])
            assert made.ok
        with hubspot(sb, objects=("contacts", "companies")) as reader:
            spec = next(s for s in reader.discover() if s.name == "contacts")
            items = list(reader.read(spec))
        records = [i for i in items if isinstance(i, Record)]
        relations = [i for i in items if isinstance(i, Relation)]
        assert len(records) == 5
        assert sorted(r.to_id for r in relations) == sorted(companies[i % 3] for i in range(5))
