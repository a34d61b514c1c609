"""The Salesforce emulation over real HTTPS: simple-salesforce and raw requests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from vaultkeeper.sandbox import Sandbox
from vaultkeeper.sandbox import hs_schema as hs
from vaultkeeper.sandbox import sf_schema as sf


def _session(sb: Sandbox) -> requests.Session:
    s = requests.Session()
    s.verify = str(sb.ca_file)
    s.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify=
    return s


@pytest.fixture(scope="module")
def sfc(sb: Sandbox) -> Salesforce:
    return Salesforce(instance_url=sb.url, session_id=sb.token, version="59.0",
                      session=_session(sb))


def test_query_all_counts_equal_expected(sb: Sandbox, sfc: Salesforce) -> None:
    for name, counts in sb.expected()["salesforce"].items():
        live = sfc.query_all(f"SELECT Id, IsDeleted FROM {name}")
        assert live["totalSize"] == len(live["records"]) == counts["live"], name
        assert not any(r["IsDeleted"] for r in live["records"])
        every = sfc.query_all(f"SELECT Id, IsDeleted FROM {name}", include_deleted=True)
        assert every["totalSize"] == len(every["records"]) == counts["total"], name
        assert sum(r["IsDeleted"] for r in every["records"]) == counts["deleted"]
        assert len({r["Id"] for r in every["records"]}) == counts["total"]


def test_describe(sfc: Salesforce) -> None:
    names = {o["name"]: o for o in sfc.describe()["sobjects"]}
    assert {"Account", "Contact", "Opportunity", "Task"} <= set(names)
    assert sum(not o["queryable"] for o in names.values()) >= 2
    contact = sfc.Contact.describe()
    fields = {f["name"]: f for f in contact["fields"]}
    assert fields["AccountId"]["type"] == "reference"
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    assert fields["AccountId"]["relationshipName"] == "Account"
    assert fields["MailingAddress"]["type"] == "address"
    assert fields["MailingCity"]["compoundFieldName"] == "MailingAddress"
    assert fields["Membership_Level__c"]["custom"]
    assert fields["Membership_Level__c"]["picklistValues"]
    for f in contact["fields"]:
        assert {"name", "label", "type", "length", "nillable", "referenceTo", "soapType",
                "calculated", "picklistValues"} <= set(f)
    assert contact["keyPrefix"] == "003"
    assert sfc.Task.describe()["fields"][1]["referenceTo"] == ["Contact", "Lead"]


def test_errors_map_to_simple_salesforce_exceptions(sb: Sandbox, sfc: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as err:
        sfc.query("SELECT Id FORM Contact")
    assert err.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sfc.query("SELECT Foo FROM Account")
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Foo' on entity 'Account'" in err.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sfc.query("SELECT Id FROM Widget")
    assert err.value.content[0]["errorCode"] == "INVALID_TYPE"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sfc.query("SELECT Id FROM Contact WHERE CreatedDate > '2024-01-01'")
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceResourceNotFound):
        sfc.Contact.get("003000000000000AAA")
    bad = Salesforce(instance_url=sb.url, session_id="expired", version="59.0",
                     session=_session(sb))
    with pytest.raises(SalesforceExpiredSession):
        bad.query("SELECT Id FROM Account")


def test_api_usage_and_limits(sfc: Salesforce) -> None:
    sfc.query("SELECT COUNT() FROM Account")
    usage = sfc.api_usage["api-usage"]
    assert usage.total == 15000 and 0 < usage.used < usage.total
    limits = sfc.limits()
    assert limits["DailyApiRequests"]["Max"] == 15000


def test_count_and_filters(sb: Sandbox, sfc: Salesforce) -> None:
    expected = sb.expected()["salesforce"]
    assert sfc.query("SELECT COUNT() FROM Contact")["totalSize"] == expected["Contact"]["live"]
    assert sfc.query("SELECT COUNT() FROM Contact", include_deleted=True)["totalSize"] == \
        expected["Contact"]["total"]
    deleted = sfc.query_all("SELECT Id FROM Contact WHERE IsDeleted = true",
                            include_deleted=True)
    assert deleted["totalSize"] == expected["Contact"]["deleted"]
    assert sfc.query("SELECT Id FROM Contact WHERE IsDeleted = true")["totalSize"] == 0
    recent = sfc.query_all("SELECT Id, SystemModstamp FROM Contact WHERE SystemModstamp >= "
                           "2024-01-01T00:00:00Z ORDER BY SystemModstamp ASC")
    stamps = [r["SystemModstamp"] for r in recent["records"]]
    assert stamps == sorted(stamps) and all(s >= "2024-01-01" for s in stamps)
    first = sfc.query("SELECT Id FROM Opportunity ORDER BY Id LIMIT 5")["records"]
    after = sfc.query(f"SELECT Id FROM Opportunity WHERE Id > '{first[2]['Id']}' "
                      "ORDER BY Id LIMIT 2")["records"]
    assert [r["Id"] for r in after] == [r["Id"] for r in first[3:5]]
    desc = sfc.query("SELECT Id FROM Opportunity ORDER BY Id DESC LIMIT 3")["records"]
    assert [r["Id"] for r in desc] == sorted((r["Id"] for r in desc), reverse=True)
    like = sfc.query_all("SELECT Name, Type FROM Account WHERE Name LIKE '%school%' AND "
                         "(Type = 'School' OR Type = 'Other')")["records"]
    assert like and all("school" in r["Name"].lower() for r in like)


def test_same_people_in_both_views(sb: Sandbox, sfc: Salesforce, api: Any) -> None:
    hub = api.get("/crm/v3/objects/contacts", limit=50,
                  properties="firstname,lastname").json()["results"]
    rows = sfc.query("SELECT Id, FirstName, LastName, HubSpot_Id__c, MailingAddress, Email "
                     "FROM Contact ORDER BY Id LIMIT 50")["records"]
    assert [r["HubSpot_Id__c"] for r in rows] == [h["id"] for h in hub]
    for h, r in zip(hub, rows, strict=True):
        assert r["FirstName"] == h["properties"]["firstname"]
        assert r["Id"].startswith("003") and len(r["Id"]) == 18
        assert r["attributes"] == {"type": "Contact",
                                   "url": f"/services/data/v59.0/sobjects/Contact/{r['Id']}"}
    assert any(isinstance(r["MailingAddress"], dict) for r in rows)


def test_relations_match_expected(sb: Sandbox, sfc: Salesforce) -> None:
    expected = sb.expected()["relations"]["salesforce"]
    fields = {"Contact__Account": ("Contact", "AccountId"),
              "Opportunity__Account": ("Opportunity", "AccountId"),
              "Opportunity__Contact": ("Opportunity", "ContactId"),
              "Task__Contact": ("Task", "WhoId"), "Task__Opportunity": ("Task", "WhatId")}
    for name, (obj, field) in fields.items():
        rows = sfc.query_all(f"SELECT Id, {field} FROM {obj}", include_deleted=True)["records"]
        assert sum(r[field] is not None for r in rows) == expected[name], name
    nested = sfc.query("SELECT Id, Account.Name, Account.Id FROM Contact WHERE AccountId != null"
                       " LIMIT 3")["records"]
    assert all(r["Account"]["attributes"]["type"] == "Account" and r["Account"]["Name"]
               for r in nested)


def test_query_more_paging_and_locators(sb: Sandbox, api: Any, query_salesforce: Any) -> None:
    rows, bad, total = query_salesforce(api, "SELECT Id FROM Contact", batch=200)
    assert total == len(rows) == sb.expected()["salesforce"]["Contact"]["live"] and not bad
    first = api.get("/services/data/v59.0/query", q="SELECT Id FROM Contact").json()
    # The default batch is 2000, so all live contacts of this sandbox fit in one page.
    assert first["done"] and "nextRecordsUrl" not in first and len(first["records"]) == total
    r = api.get("/services/data/v59.0/query/01g5g0000000zzzAAA-2000")
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    versions = api.get("/services/data/").json()
    assert {"label", "url", "version"} <= set(versions[0])
    assert "Sforce-Limit-Info" in r.headers


def test_record_and_replication_endpoints(sb: Sandbox, sfc: Salesforce) -> None:
    first = sfc.query("SELECT Id, Name FROM Account ORDER BY Id LIMIT 1")["records"][0]
    rec = sfc.Account.get(first["Id"])
    assert rec["Name"] == first["Name"] and rec["HubSpot_Id__c"] == str(hs.ID_BASES["companies"])
    deleted = sfc.Contact.deleted(dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
                                  dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
    assert len(deleted["deletedRecords"]) == sb.expected()["salesforce"]["Contact"]["deleted"]
    one = deleted["deletedRecords"][0]["id"]
    with pytest.raises(SalesforceResourceNotFound):
        sfc.Contact.get(one)
    assert sf.id_index("003", one) is not None
