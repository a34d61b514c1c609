"""What third-party clients need from the sandbox: every object describeGlobal lists can be
described, HubSpot's standard types answer 200 (empty) or 403 for the tier, the legacy endpoints
current taps call, and archival dates spread over the recycle bins as documented."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

import httpx
import hubspot
import pytest

from vaultkeeper.sandbox import Sandbox
from vaultkeeper.sandbox.data import AS_OF_MS


@pytest.fixture(scope="module")
def sb():
    with Sandbox(records=1200, seed=13) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def http(sb):
    with httpx.Client(base_url=sb.url, trust_env=False,
                      verify=ssl.create_default_context(cafile=str(sb.ca_file)),
                      headers={"Authorization": f"Bearer {sb.token}"}) as client:
        yield client


def test_every_listed_sobject_can_be_described(http):
    listed = http.get("/services/data/v61.0/sobjects/").json()["sobjects"]
    assert any(not s["queryable"] for s in listed)
    for entry in listed:
        describe = http.get(entry["urls"]["describe"])
        assert describe.status_code == 200, entry["name"]
        assert describe.json()["name"] == entry["name"]
        assert describe.json()["fields"], entry["name"]


@pytest.mark.parametrize("name", ["products", "line_items", "quotes", "communications",
                                  "postal_mail", "leads", "0-7", "line_item"])
def test_standard_hubspot_types_answer_empty(http, name):
    objects = http.get(f"/crm/v3/objects/{name}")
    assert objects.status_code == 200 and objects.json() == {"results": []}
    props = http.get(f"/crm/v3/properties/{name}")
    assert props.status_code == 200 and props.json()["results"]
    assert {"createdate", "hs_object_id"} <= {p["name"] for p in props.json()["results"]}


@pytest.mark.parametrize("name", ["goal_targets", "deal_split", "feedback_submissions"])
def test_types_the_tier_lacks_answer_403(http, name):
    denied = http.get(f"/crm/v3/objects/{name}")
    assert denied.status_code == 403
    assert denied.json()["category"] == "MISSING_SCOPES"
    # Their property definitions stay readable (airbyte-source-hubspot's discover reads them).
    for path in (f"/crm/v3/properties/{name}", f"/properties/v2/{name}/properties"):
        props = http.get(path)
        assert props.status_code == 200, path
        body = props.json()
        names = {p["name"] for p in (body if isinstance(body, list) else body["results"])}
        assert "hs_object_id" in names
    assert http.get("/crm/v3/objects/no_such_type").status_code == 404


def test_official_sdk_reads_products_and_line_items(sb):
    client = hubspot.Client.create(access_token=sb.token, host=sb.url, base_url=sb.url,
                                   ssl_ca_cert=str(sb.ca_file))
    assert client.crm.products.get_all() == []
    assert client.crm.line_items.get_all() == []
    assert client.crm.quotes.basic_api.get_page(limit=10).results == []


def test_legacy_endpoints_carry_the_same_data(http, sb):
    v3_deal_props = {p["name"] for p in http.get("/crm/v3/properties/deals").json()["results"]}
    v1 = http.get("/properties/v1/deals/properties").json()
    assert {p["name"] for p in v1} == v3_deal_props
    assert all(isinstance(p["createdAt"], int) and p["deleted"] is False for p in v1)
    v2 = http.get("/companies/v2/properties").json()
    assert {p["name"] for p in v2} == {
        p["name"] for p in http.get("/crm/v3/properties/companies").json()["results"]}
    for obj in ("deals", "tickets"):
        v3 = http.get(f"/crm/v3/pipelines/{obj}").json()["results"]
        old = http.get(f"/crm-pipelines/v1/pipelines/{obj}").json()["results"]
        assert [p["pipelineId"] for p in old] == [p["id"] for p in v3]
        assert [[s["stageId"] for s in p["stages"]] for p in old] == \
            [[s["id"] for s in p["stages"]] for p in v3]
    assert [p["pipelineId"] for p in http.get("/deals/v1/pipelines").json()] == \
        [p["id"] for p in http.get("/crm/v3/pipelines/deals").json()["results"]]
    # Engagements: every live note once, paged by offset; associations as in v3.
    seen, offset = [], None
    while True:
        page = http.get("/engagements/v1/engagements/paged",
                        params={"limit": 250, **({"offset": offset} if offset else {})}).json()
        seen += [r["engagement"]["id"] for r in page["results"]]
        if not page["hasMore"]:
            break
        assert page["offset"] != offset
        offset = page["offset"]
    assert len(seen) == len(set(seen)) == sb.expected()["hubspot"]["notes"]["live"]
    first = http.get(f"/crm/v3/objects/notes/{seen[0]}",
                     params={"associations": "contacts"}).json()
    v3_contacts = [int(a["id"]) for a in first.get("associations", {})
                   .get("contacts", {}).get("results", [])]
    page = http.get("/engagements/v1/engagements/paged", params={"limit": 1}).json()
    assert page["results"][0]["associations"]["contactIds"] == v3_contacts
    users = http.get("/settings/v3/users").json()["results"]
    owners = http.get("/crm/v3/owners").json()["results"]
    assert {u["email"] for u in users} == {o["email"] for o in owners}
    assert http.post("/crm/v3/lists/search", json={}).json()["lists"] == []


def _ms(text):
    text = text.replace("+0000", "+00:00").replace("Z", "+00:00")
    return datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1000


def test_archival_dates_spread_over_the_recycle_bins(http):
    day = 86_400_000
    hs = http.get("/crm/v3/objects/contacts", params={"archived": "true", "limit": 100}).json()
    stamps = [_ms(r["archivedAt"]) for r in hs["results"]]
    assert len(stamps) >= 20
    assert all(AS_OF_MS - 90 * day <= s <= AS_OF_MS for s in stamps)
    assert max(stamps) - min(stamps) > 30 * day        # not bunched into three days
    rows = http.get("/services/data/v61.0/queryAll/", params={
        "q": "SELECT Id, SystemModstamp FROM Contact WHERE IsDeleted = true"}).json()["records"]
    deleted = [_ms(r["SystemModstamp"]) for r in rows]
    assert len(deleted) >= 20
    assert all(AS_OF_MS - 15 * day <= s <= AS_OF_MS for s in deleted)
    assert max(deleted) - min(deleted) > 5 * day
