"""The contract every connector must honour, run against each one with a real source."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from vk_testing import hubspot, salesforce

from vaultkeeper.connectors.base import Connector
from vaultkeeper.connectors.csv_source import CsvConnector
from vaultkeeper.digest import ContentDigest
from vaultkeeper.models import Malformed, Record, Relation


def csv_delivery(tmp_path):
    path = tmp_path / "delivery.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, rows in {
            "export/Accounts.csv": [["Id", "Name", "IsDeleted"], ["A1", "Zoë GmbH", "false"],
                                    ["A2", "van der Berg BV", "true"]],
            "export/Contacts.csv": [["Id", "Name", "AccountId"], ["C1", "Ångström", "A1"],
                                    ["C2", "Müller", "A2"], ["C3", "Nobody", ""]],
        }.items():
            buffer = io.StringIO()
            csv.writer(buffer, delimiter=";").writerows(rows)
            zf.writestr(name, buffer.getvalue().encode("utf-8-sig"))
    return CsvConnector(path)


@pytest.fixture(params=["hubspot", "salesforce", "csv"])
def make(request, clean_sandbox, tmp_path):
    if request.param == "hubspot":
        return lambda: hubspot(clean_sandbox, objects=("contacts", "companies", "deals"))
    if request.param == "salesforce":
        return lambda: salesforce(clean_sandbox, objects=("Account", "Contact"))
    return lambda: csv_delivery(tmp_path)


def read_all(connector: Connector):
    specs = connector.discover()
    out = {}
    for spec in specs:
        digest, records, archived, relations = ContentDigest(), 0, 0, []
        for item in connector.read(spec):
            assert isinstance(item, Record | Relation | Malformed)
            if isinstance(item, Record):
                if spec.primary_key:
                    assert item.data.get(spec.primary_key) not in (None, "")
                digest.add(item.data)
                records += 1
                archived += item.archived
            elif isinstance(item, Relation):
                assert item.from_object == spec.name
                relations.append(item)
        out[spec.name] = (records, archived, digest.hexdigest(), relations,
                          connector.source_count(spec))
    return specs, out


def test_connector_contract(make):
    with make() as connector:
        specs, first = read_all(connector)
        names = [s.name for s in specs]
        assert names and len(names) == len(set(names))
        for spec in specs:
            assert spec.properties  # the key itself may be top-level (HubSpot `id`)
            records, archived, _, relations, count = first[spec.name]
            # Every record the source says it holds came out (live, and in total if known).
            assert count is not None
            if count.total is not None:
                assert records == count.total
            if count.live is not None:
                assert records - archived == count.live
            for rel in relations:
                assert rel.to_object in names and rel.to_id
        assert sum(r[1] for r in first.values()) > 0, "archived/deleted records are exported"
        assert any(r[3] for r in first.values()), "relations are exported"
        assert connector.describe_source()
    # Reading again gives the same content (deterministic, no hidden state), after close().
    with make() as again:
        _, second = read_all(again)
    assert {k: v[2] for k, v in first.items()} == {k: v[2] for k, v in second.items()}
