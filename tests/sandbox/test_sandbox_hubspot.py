"""The HubSpot emulation over real HTTPS: the official SDK and raw requests."""

from __future__ import annotations

from typing import Any

import hubspot
import pytest
from hubspot.crm.contacts import Filter, FilterGroup, PublicObjectSearchRequest

from vaultkeeper.sandbox import Sandbox
from vaultkeeper.sandbox import hs_schema as hs

PAIRS = {"contacts__companies": ("contacts", "companies"),
         "deals__contacts": ("deals", "contacts"),
         "deals__companies": ("deals", "companies"),
         "notes__contacts": ("notes", "contacts")}


@pytest.fixture(scope="module")
def client(sb: Sandbox) -> Any:
    # host= reaches the generated APIs, base_url= the raw api_request(); the CA goes to urllib3.
    return hubspot.Client.create(access_token=sb.token, host=sb.url, base_url=sb.url,
                                 ssl_ca_cert=str(sb.ca_file))


def test_sdk_get_all_pages_every_live_record(sb: Sandbox, client: Any) -> None:
    expected = sb.expected()["hubspot"]
    contacts = client.crm.contacts.get_all(properties=["email", "firstname", "membership_level",
                                                       "gift_aid_declared"])
    assert len(contacts) == expected["contacts"]["live"]
    assert len({c.id for c in contacts}) == len(contacts)
    assert all(set(c.properties) == {"email", "firstname", "membership_level",
                                     "gift_aid_declared", "createdate", "lastmodifieddate",
                                     "hs_object_id"} for c in contacts)
    assert all(not c.archived for c in contacts)
    ids = [int(c.id) for c in contacts]
    assert ids == sorted(ids)
    assert len(client.crm.companies.get_all()) == expected["companies"]["live"]
    assert len(client.crm.deals.get_all(properties=["amount"])) == expected["deals"]["live"]
    assert client.crm.tickets.get_all() == []


def test_sdk_archived_page(sb: Sandbox, client: Any) -> None:
    page = client.crm.contacts.basic_api.get_page(limit=100, archived=True)
    assert len(page.results) == min(100, sb.expected()["hubspot"]["contacts"]["archived"])
    assert all(r.archived and r.archived_at is not None for r in page.results)


def test_sdk_search_with_filters_and_total(sb: Sandbox, client: Any) -> None:
    request = PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[
            Filter(property_name="membership_level", operator="EQ", value="life"),
            Filter(property_name="lastmodifieddate", operator="GTE", value="1577836800000")])],
        sorts=["hs_object_id"], properties=["email", "membership_level", "lastmodifieddate"],
        limit=200)
    found: list[Any] = []
    total = None
    while True:
        res = client.crm.contacts.search_api.do_search(public_object_search_request=request)
        total = res.total
        found.extend(res.results)
        if res.paging is None:
            break
        request.after = res.paging.next.after
    assert 0 < total == len(found)
    assert all(r.properties["membership_level"] == "life" for r in found)
    assert all(r.properties["lastmodifieddate"] >= "2020-01-01" for r in found)
    everything = client.crm.contacts.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(limit=1))
    assert everything.total == sb.expected()["hubspot"]["contacts"]["live"]  # never archived


def test_sdk_properties(client: Any) -> None:
    props = client.crm.properties.core_api.get_all(object_type="contacts").results
    assert [p.name for p in props] == list(hs.property_names("contacts"))
    assert {p.type for p in props} >= {"string", "number", "datetime", "date", "enumeration",
                                       "bool"}
    custom = {p.name for p in props if not p.hubspot_defined}
    assert {"membership_level", "gift_aid_declared", "first_donation_date"} <= custom


def test_sdk_raw_api_request(sb: Sandbox, client: Any, ca_env: None) -> None:
    # api_request() goes through requests, which trusts REQUESTS_CA_BUNDLE (see ca_env).
    r = client.api_request({"method": "GET", "path": "/crm/v3/owners"})
    assert r.status_code == 200 and len(r.json()["results"]) == len(hs.OWNERS) - 1


def test_properties_param_forms_and_defaults(api: Any) -> None:
    csv = api.get("/crm/v3/objects/contacts", limit=5, properties="email,nonexistent,city")
    repeated = api.client.get("/crm/v3/objects/contacts",
                              params=[("limit", 5), ("properties", "email"),
                                      ("properties", "city")])
    assert csv.json()["results"] == repeated.json()["results"]
    assert set(csv.json()["results"][0]["properties"]) == {
        "email", "city", "createdate", "lastmodifieddate", "hs_object_id"}
    defaults = api.get("/crm/v3/objects/companies").json()
    assert len(defaults["results"]) == 10  # default limit
    assert set(defaults["results"][0]["properties"]) == {
        "name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"}
    assert api.get("/crm/v3/objects/contacts", limit=500).json()["paging"]["next"]["after"]
    assert len(api.get("/crm/v3/objects/contacts", limit=500).json()["results"]) == 100


def test_every_property_and_null_for_unset(api: Any) -> None:
    names = ",".join(hs.property_names("contacts"))
    body = api.get("/crm/v3/objects/contacts", limit=20, properties=names).json()
    for rec in body["results"]:
        assert set(rec["properties"]) == set(hs.property_names("contacts"))
        assert {"id", "properties", "createdAt", "updatedAt", "archived"} <= set(rec)
    assert any(v is None for rec in body["results"] for v in rec["properties"].values())


@pytest.mark.parametrize("value", ["true", "True", "TRUE"])
def test_archived_parameter_spellings(sb: Sandbox, api: Any, list_hubspot: Any,
                                      value: str) -> None:
    body = api.get("/crm/v3/objects/deals", limit=100, archived=value).json()
    assert body["results"] and all(r["archived"] and r["archivedAt"] for r in body["results"])
    records, bad = list_hubspot(api, "deals", archived=True)
    assert len(records) == sb.expected()["hubspot"]["deals"]["archived"] and not bad
    live = api.get("/crm/v3/objects/deals", limit=100, archived="False").json()
    assert not any(r["archived"] for r in live["results"])


def test_counts_equal_expected(sb: Sandbox, api: Any, list_hubspot: Any) -> None:
    for obj, counts in sb.expected()["hubspot"].items():
        live, bad = list_hubspot(api, obj)
        archived, bad2 = list_hubspot(api, obj, archived=True)
        assert (len(live), len(archived)) == (counts["live"], counts["archived"]), obj
        assert not bad and not bad2
        assert {r["id"] for r in live}.isdisjoint({r["id"] for r in archived})


def test_associations_are_symmetric_and_match_expected(sb: Sandbox, api: Any,
                                                       list_hubspot: Any) -> None:
    expected = sb.expected()["relations"]["hubspot"]
    for name, (a, b) in PAIRS.items():
        sides = []
        for src, dst in ((a, b), (b, a)):
            records, _ = list_hubspot(api, src, associations=dst)
            pairs = set()
            for rec in records:
                entry = rec.get("associations", {}).get(dst)
                if not entry:
                    continue
                ids = [x["id"] for x in entry["results"]]
                after = entry.get("paging", {}).get("next", {}).get("after")
                while after:  # more than 100 associated records: page them via v4
                    page = api.get(f"/crm/v4/objects/{src}/{rec['id']}/associations/{dst}",
                                   after=after).json()
                    ids += [str(x["toObjectId"]) for x in page["results"]]
                    after = page.get("paging", {}).get("next", {}).get("after")
                pairs |= {(rec["id"], j) if src == a else (j, rec["id"]) for j in ids}
            sides.append(pairs)
        assert sides[0] == sides[1], name
        assert len(sides[0]) == expected[name], name


def test_inline_association_paging_over_100(api: Any) -> None:
    hub = api.get(f"/crm/v3/objects/companies/{hs.ID_BASES['companies']}",
                  associations="contacts").json()
    entry = hub["associations"]["contacts"]
    assert len(entry["results"]) == 100 and entry["paging"]["next"]["after"] == "100"
    assert entry["results"][0]["type"] == "company_to_contact"
    v4 = api.get(f"/crm/v4/objects/companies/{hub['id']}/associations/contacts",
                 limit=100).json()
    assert isinstance(v4["results"][0]["toObjectId"], int)
    assert v4["results"][0]["associationTypes"][0]["category"] == "HUBSPOT_DEFINED"


def test_v4_batch_associations(api: Any) -> None:
    base = hs.ID_BASES["deals"]
    r = api.post("/crm/v4/associations/deals/contacts/batch/read",
                 {"inputs": [{"id": str(base + i)} for i in range(30)]})
    assert r.status_code in (200, 207)
    body = r.json()
    assert body["status"] == "COMPLETE"
    assert len(body["results"]) + body.get("numErrors", 0) == 30
    assert all(len(x["to"]) == 1 for x in body["results"])  # a deal has one contact


def test_batch_read(api: Any) -> None:
    base = hs.ID_BASES["contacts"]
    ids = [str(base + i) for i in range(100)]
    r = api.post("/crm/v3/objects/contacts/batch/read",
                 {"inputs": [{"id": i} for i in ids], "properties": ["email"],
                  "propertiesWithHistory": ["email"]})
    body = r.json()
    assert r.status_code == 207 and body["numErrors"] == 1  # the archived ones are missing
    missing = body["errors"][0]["context"]["ids"]
    assert len(body["results"]) + len(missing) == 100
    assert all("propertiesWithHistory" in x for x in body["results"])
    too_many = api.post("/crm/v3/objects/contacts/batch/read",
                        {"inputs": [{"id": i} for i in [*ids, "1"]], "properties": []})
    assert too_many.status_code == 400 and too_many.json()["category"] == "VALIDATION_ERROR"


def test_search_window_and_limits(api: Any) -> None:
    r = api.post("/crm/v3/objects/contacts/search", {"limit": 100, "after": "9950"})
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR"
    assert "10000" in body["message"] and body["correlationId"]
    assert api.post("/crm/v3/objects/contacts/search", {"limit": 201}).status_code == 400
    bad = api.post("/crm/v3/objects/contacts/search", {"filterGroups": [
        {"filters": [{"propertyName": "nope", "operator": "EQ", "value": "x"}]}]})
    assert bad.status_code == 400
    sorted_desc = api.post("/crm/v3/objects/deals/search", {
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}],
        "properties": ["hs_lastmodifieddate"], "limit": 50}).json()
    stamps = [r["properties"]["hs_lastmodifieddate"] for r in sorted_desc["results"]]
    assert stamps == sorted(stamps, reverse=True)
    inn = api.post("/crm/v3/objects/deals/search", {"filterGroups": [{"filters": [
        {"propertyName": "pipeline", "operator": "IN", "values": ["events", "memberships"]},
        {"propertyName": "amount", "operator": "HAS_PROPERTY"}]}],
        "properties": ["pipeline", "amount"], "limit": 200}).json()
    assert inn["total"] > 0
    assert all(r["properties"]["pipeline"] in ("events", "memberships") and
               r["properties"]["amount"] for r in inn["results"])


def test_metadata_endpoints(api: Any) -> None:
    pipelines = api.get("/crm/v3/pipelines/deals").json()["results"]
    assert {p["id"] for p in pipelines} == {"default", "memberships", "events"}
    assert api.get("/crm-object-schemas/v3/schemas").json() == {"results": []}
    owners = api.get("/crm/v3/owners/", archived="true").json()["results"]
    assert len(owners) == 1 and owners[0]["archived"]
    groups = api.get("/crm/v3/properties/contacts/groups").json()["results"]
    assert {"membership", "fundraising"} <= {g["name"] for g in groups}
    one = api.get("/crm/v3/properties/deals/amount").json()
    assert one["name"] == "amount" and one["type"] == "number"


def test_errors_and_headers(sb: Sandbox, api: Any, make_api: Any) -> None:
    r = api.get("/crm/v3/objects/widgets")
    assert r.status_code == 404 and r.json()["category"] == "OBJECT_NOT_FOUND"
    assert r.json()["message"] == "Unable to infer object type from: widgets"
    for name in ("Max", "Remaining", "Interval-Milliseconds", "Daily", "Daily-Remaining"):
        assert f"X-HubSpot-RateLimit-{name}" in r.headers
    with make_api(sb, token="pat-na1-wrong") as bad:
        r = bad.get("/crm/v3/objects/contacts")
    assert r.status_code == 401
    assert r.json()["category"] == "INVALID_AUTHENTICATION" and r.json()["correlationId"]
    assert "X-HubSpot-RateLimit-Max" in r.headers
    long = api.get("/crm/v3/objects/contacts", properties="x" * 17000)
    assert long.status_code == 414
    assert long.headers["Content-Type"].startswith("text/html")
    assert b"414 Request-URI Too Large" in long.content and b"nginx" in long.content
    missing = api.get(f"/crm/v3/objects/contacts/{hs.ID_BASES['contacts'] + 10**7}")
    assert missing.status_code == 404
    assert api.get("/crm/objects/2026-03/contacts", limit=1).status_code == 200
