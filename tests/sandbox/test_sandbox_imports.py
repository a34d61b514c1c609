"""The sandbox's HubSpot CRM imports API (POST /crm/v3/imports): create, associate by an
alternate id, update on a match key, e-mail de-duplication, per-row errors, job status."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator

import httpx
import pytest

from vaultkeeper.connectors import make_writer
from vaultkeeper.sandbox import Sandbox


@pytest.fixture
def empty() -> Iterator[Sandbox]:
    with Sandbox(records=0, seed=1) as sb:
        writer = make_writer("hubspot", sb.url, sb.token, ca_file=sb.ca_file)
        for obj in ("companies", "contacts"):
            writer.ensure_legacy_id_property(obj, "legacy_id_text")
        writer.close()
        yield sb


def _import(sb: Sandbox, files: dict[str, str], request: dict) -> dict:
    with httpx.Client(verify=ssl.create_default_context(cafile=str(sb.ca_file))) as http:
        r = http.post(f"{sb.url}/crm/v3/imports",
                      headers={"Authorization": f"Bearer {sb.token}"},
                      files=[("importRequest", (None, json.dumps(request), "application/json"))]
                      + [("files", (name, text.encode(), "text/csv"))
                         for name, text in files.items()])
        assert r.status_code == 200, r.text
        job = r.json()
        status = http.get(f"{sb.url}/crm/v3/imports/{job['id']}",
                          headers={"Authorization": f"Bearer {sb.token}"}).json()
        errors = http.get(f"{sb.url}/crm/v3/imports/{job['id']}/errors",
                          headers={"Authorization": f"Bearer {sb.token}"}).json()
    assert status["state"] == "DONE"
    return {"counters": status["metadata"]["counters"], "errors": errors["results"]}


def _page(sb: Sandbox, obj: str, props: str) -> list[dict]:
    r = httpx.get(f"{sb.url}/crm/v3/objects/{obj}?limit=100&properties={props}"
                  f"&associations=companies", headers={"Authorization": f"Bearer {sb.token}"},
                  verify=ssl.create_default_context(cafile=str(sb.ca_file)))
    return r.json()["results"]


def _col(obj_type: str, column: str, prop: str, **extra: str) -> dict:
    return {"columnObjectTypeId": obj_type, "columnName": column, "propertyName": prop, **extra}


def test_csv_import_creates_associates_updates_and_reports_errors(empty):
    companies = "Name,Legacy\nAcme,C1\nBeta,C2\n"
    got = _import(empty, {"companies.csv": companies}, {
        "name": "companies", "importOperations": {"0-2": "CREATE"},
        "files": [{"fileName": "companies.csv", "fileFormat": "CSV", "fileImportPage": {
            "hasHeader": True, "columnMappings": [
                _col("0-2", "Name", "name"), _col("0-2", "Legacy", "legacy_id_text")]}}]})
    assert got["counters"]["CREATED_OBJECTS"] == 2 and got["errors"] == []

    contacts = ("First,Email,Legacy,Company\n"
                "Ann,ann@example.org,P1,C1\n"
                "Bob,not-an-email,P2,C2\n"
                "Ann again,ANN@example.org,P3,C9\n")
    got = _import(empty, {"contacts.csv": contacts}, {
        "name": "contacts", "importOperations": {"0-1": "CREATE"},
        "files": [{"fileName": "contacts.csv", "fileFormat": "CSV", "fileImportPage": {
            "hasHeader": True, "columnMappings": [
                _col("0-1", "First", "firstname"), _col("0-1", "Email", "email"),
                _col("0-1", "Legacy", "legacy_id_text"),
                _col("0-2", "Company", "legacy_id_text", idColumnType="HUBSPOT_ALTERNATE_ID"),
            ]}}]})
    # Ann again has Ann's e-mail: HubSpot updates the existing contact instead of creating.
    assert got["counters"] == {"TOTAL_ROWS": 3, "CREATED_OBJECTS": 2, "UPDATED_OBJECTS": 1,
                               "CREATED_ASSOCIATIONS": 2, "ERRORS": 2}
    kinds = sorted((e["errorType"], e["sourceData"]["lineNumber"]) for e in got["errors"])
    assert kinds == [("INVALID_EMAIL", 3), ("UNKNOWN_ASSOCIATION_RECORD", 4)]
    people = {c["properties"]["legacy_id_text"]: c for c in
              _page(empty, "contacts", "firstname,email,legacy_id_text")}
    assert set(people) == {"P3", "P2"}                     # P1 was overwritten by P3's row
    assert people["P2"]["properties"]["email"] is None     # refused value left out
    assert people["P3"]["properties"]["firstname"] == "Ann again"
    assert people["P2"]["associations"]["companies"]["results"]

    # UPDATE matched on the alternate id; an unknown key is an error, not a new record.
    got = _import(empty, {"m.csv": "Legacy,Number\nP2,M-7\nP404,M-8\n"}, {
        "name": "memberships", "importOperations": {"0-1": "UPDATE"},
        "files": [{"fileName": "m.csv", "fileFormat": "CSV", "fileImportPage": {
            "hasHeader": True, "columnMappings": [
                _col("0-1", "Legacy", "legacy_id_text", idColumnType="HUBSPOT_ALTERNATE_ID"),
                _col("0-1", "Number", "membership_number")]}}]})
    assert got["counters"]["UPDATED_OBJECTS"] == 1 and got["counters"]["CREATED_OBJECTS"] == 0
    assert [e["errorType"] for e in got["errors"]] == ["UNKNOWN_RECORD"]
    numbers = {c["properties"]["legacy_id_text"]: c["properties"]["membership_number"]
               for c in _page(empty, "contacts", "legacy_id_text,membership_number")}
    assert numbers == {"P2": "M-7", "P3": None}


def test_import_requests_are_validated(empty):
    with httpx.Client(verify=ssl.create_default_context(cafile=str(empty.ca_file))) as http:
        auth = {"Authorization": f"Bearer {empty.token}"}
        r = http.post(f"{empty.url}/crm/v3/imports", headers=auth, json={"files": []})
        assert r.status_code == 415
        r = http.post(f"{empty.url}/crm/v3/imports", headers=auth, files=[
            ("importRequest", (None, json.dumps({"files": [{"fileName": "x.csv"}]}))),
        ])
        assert r.status_code == 400 and "not uploaded" in r.json()["message"]
        assert http.get(f"{empty.url}/crm/v3/imports/99", headers=auth).status_code == 404
