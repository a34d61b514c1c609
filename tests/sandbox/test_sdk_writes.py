"""The official SDKs write to the sandbox: hubspot-api-client batch create/update and
simple-salesforce sObject Collections and single rows, checked through the sandbox's state and
by reading back with the same SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hubspot
import pytest
import requests
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectId,
)
from hubspot.crm.contacts.exceptions import ApiException
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from vaultkeeper.sandbox import Sandbox


@pytest.fixture(scope="module")
def wsb() -> Iterator[Sandbox]:
    """A sandbox of this module's own: the tests here change its data."""
    with Sandbox(records=100, seed=9) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def client(wsb: Sandbox) -> Any:
    return hubspot.Client.create(access_token=wsb.token, host=wsb.url, base_url=wsb.url,
                                 ssl_ca_cert=str(wsb.ca_file))


@pytest.fixture(scope="module")
def sfc(wsb: Sandbox) -> Salesforce:
    session = requests.Session()
    session.verify = str(wsb.ca_file)
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify=
    return Salesforce(instance_url=wsb.url, session_id=wsb.token, version="59.0",
                      session=session)


def test_hubspot_sdk_batch_create_and_update(wsb: Sandbox, client: Any) -> None:
    before = wsb.dataset.stores["contacts"].count
    created = client.crm.contacts.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
            SimplePublicObjectBatchInputForCreate(
                properties={"email": f"sdk{i}@example.org", "firstname": f"Sdk{i}"},
                object_write_trace_id=f"t{i}")
            for i in range(3)]))
    assert created.status == "COMPLETE"
    by_trace = {r.object_write_trace_id: r for r in created.results}
    assert set(by_trace) == {"t0", "t1", "t2"}
    assert by_trace["t1"].properties["email"] == "sdk1@example.org"
    assert wsb.dataset.stores["contacts"].count == before + 3
    ids = [by_trace[f"t{i}"].id for i in range(3)]
    updated = client.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(
        inputs=[SimplePublicObjectBatchInput(id=ids[0],
                                            properties={"phone": "+44 20 7946 0000"})]))
    assert [r.id for r in updated.results] == [ids[0]]
    read = client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=i) for i in ids], properties=["email", "phone"],
        properties_with_history=[]))
    got = {r.id: r.properties for r in read.results}
    assert got[ids[0]]["phone"] == "+44 20 7946 0000"
    assert got[ids[2]]["email"] == "sdk2@example.org" and got[ids[2]]["phone"] is None
    one = client.crm.contacts.basic_api.get_by_id(ids[1], properties=["firstname"])
    assert one.properties["firstname"] == "Sdk1"
    writes = [r for r in wsb.write_requests() if r.path.endswith(("/batch/create",
                                                                  "/batch/update"))]
    assert [w.ids for w in writes[-2:]] == [tuple(ids), (ids[0],)]  # input order


def test_hubspot_sdk_sees_vendor_errors(client: Any) -> None:
    with pytest.raises(ApiException) as bad:
        client.crm.contacts.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[SimplePublicObjectBatchInputForCreate(properties={"email": "nope"})]))
    assert bad.value.status == 400 and "INVALID_EMAIL" in bad.value.body
    client.crm.contacts.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[SimplePublicObjectBatchInputForCreate(properties={"email": "twice@example.org"})]))
    with pytest.raises(ApiException) as dup:
        client.crm.contacts.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[SimplePublicObjectBatchInputForCreate(
                properties={"email": "TWICE@example.org"})]))
    assert dup.value.status == 409 and "Contact already exists. Existing ID:" in dup.value.body


def test_simple_salesforce_collections_and_single_rows(wsb: Sandbox, sfc: Salesforce) -> None:
    account = wsb.live_ids("Account", 1)[0]
    created = sfc.restful("composite/sobjects", method="POST", json={
        "allOrNone": False, "records": [
            {"attributes": {"type": "Contact"}, "LastName": "Okafor", "AccountId": account,
             "Email": "okafor@example.org"},
            {"attributes": {"type": "Contact"}, "FirstName": "NoLastName"}]})
    assert created[0]["success"] and not created[1]["success"]
    assert created[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    new_id = created[0]["id"]
    sfc.restful("composite/sobjects", method="PATCH", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Contact"}, "Id": new_id, "Phone": "+49 30 1234"}]})
    row = sfc.query(f"SELECT Id, Name, Phone, AccountId FROM Contact WHERE Id = '{new_id}'")
    assert row["records"][0]["Phone"] == "+49 30 1234"
    assert row["records"][0]["AccountId"] == account and row["records"][0]["Name"] == "Okafor"
    single = sfc.Contact.create({"LastName": "Single", "FirstName": "Row"})
    assert single["success"]
    assert sfc.Contact.update(single["id"], {"Title": "Treasurer"}) == 204
    assert sfc.Contact.get(single["id"])["Title"] == "Treasurer"
    with pytest.raises(SalesforceMalformedRequest) as bad:
        sfc.Contact.create({"FirstName": "Missing"})
    assert bad.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    sfc.Contact.delete(single["id"])
    deleted = sfc.query_all(f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{single['id']}'",
                            include_deleted=True)
    assert deleted["records"][0]["IsDeleted"] is True
    assert wsb.write_requests()[-1].ids == (single["id"],)
