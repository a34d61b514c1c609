"""Bulk API 2.0 query jobs: same records as REST (equal content digests), locator paging,
failed jobs retried or reported, the sandbox's job lifecycle checked by simple-salesforce."""

from __future__ import annotations

import pytest
import requests
from simple_salesforce import Salesforce
from vk_testing import salesforce

from vaultkeeper.errors import ConnectorError
from vaultkeeper.sandbox import Sandbox
from vaultkeeper.services.export import run_export

RECORDS = 700


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(records=RECORDS, seed=5) as sb:
        yield sb


@pytest.fixture(scope="module")
def rest_manifest(sandbox, tmp_path_factory):
    with salesforce(sandbox) as connector:
        manifest = run_export(connector, tmp_path_factory.mktemp("rest") / "export")
        assert set(connector.read_via.values()) == {"rest"}
    return manifest


def _digests(manifest):
    return {name: (o["count"], o["archived"], o["content_digest"])
            for name, o in manifest["objects"].items()}


def test_bulk_and_rest_exports_have_equal_content_digests(sandbox, rest_manifest, tmp_path):
    with salesforce(sandbox, bulk_threshold=0) as connector:
        # Small result pages: several Sforce-Locator hops per object.
        connector.bulk.max_records = 97
        manifest = run_export(connector, tmp_path / "export")
        assert set(connector.read_via.values()) == {"bulk"}
        assert connector.bulk.jobs == len(manifest["objects"])
    assert manifest["status"] == "complete", manifest["problems"]
    assert "Bulk API 2.0" in manifest["source"]["bulk_api"]
    assert _digests(manifest) == _digests(rest_manifest)
    # Relations come out of bulk rows the same way too.
    assert {k: (v["count"], v["content_digest"]) for k, v in manifest["relations"].items()} == \
        {k: (v["count"], v["content_digest"]) for k, v in rest_manifest["relations"].items()}
    expected = sandbox.expected()["salesforce"]
    assert {n: o["count"] for n, o in manifest["objects"].items()} == \
        {n: e["total"] for n, e in expected.items()}
    # Typed values, not CSV strings: booleans, numbers, nulls, compound addresses.
    import orjson

    out = tmp_path / "export"
    rows = [orjson.loads(line) for line in
            (out / manifest["objects"]["Account"]["file"]).read_bytes().splitlines()]
    assert all(isinstance(r["IsDeleted"], bool) for r in rows)
    assert any(isinstance(r["AnnualRevenue"], float) for r in rows)
    assert any(r["AnnualRevenue"] is None for r in rows)
    assert any(isinstance(r["NumberOfEmployees"], int) for r in rows)
    assert any(isinstance(r["BillingAddress"], dict) for r in rows)
    assert all(r["CreatedDate"].endswith("+0000") for r in rows)


def test_threshold_picks_bulk_for_large_objects_only(sandbox, rest_manifest, tmp_path):
    expected = sandbox.expected()["salesforce"]
    threshold = sorted(e["total"] for e in expected.values())[1] + 1
    with salesforce(sandbox, bulk_threshold=threshold) as connector:
        manifest = run_export(connector, tmp_path / "export")
        via = dict(connector.read_via)
    assert via == {n: "bulk" if e["total"] >= threshold else "rest"
                   for n, e in expected.items()}
    assert set(via.values()) == {"bulk", "rest"}
    assert _digests(manifest) == _digests(rest_manifest)


def test_failed_bulk_job_is_created_again(tmp_path):
    with Sandbox(records=200, seed=5, faults="bulk_fail:jobs=1") as sb, \
            salesforce(sb, bulk_threshold=0, objects=("Contact",)) as connector:
        connector.http.sleep = lambda s: None
        manifest = run_export(connector, tmp_path / "export")
        assert connector.bulk.jobs == 2
        assert sb.stats()["faults"]["bulk_fail"] == 1
    assert manifest["status"] == "complete"
    assert manifest["objects"]["Contact"]["count"] == sb.expected()["salesforce"]["Contact"][
        "total"]
    assert "failed" in manifest["source"]["notes"]


def test_bulk_job_that_keeps_failing_is_reported_not_short(tmp_path):
    with Sandbox(records=200, seed=5, faults="bulk_fail:jobs=50") as sb, \
            salesforce(sb, bulk_threshold=0, objects=("Contact",)) as connector:
        connector.http.sleep = lambda s: None
        spec = connector.discover()[0]
        with pytest.raises(ConnectorError) as caught:
            list(connector.read(spec))
    assert caught.value.exit_code == 6
    assert "failed 3 times" in caught.value.message and "QUERY_TIMEOUT" in caught.value.message
    assert "bulk_threshold" in caught.value.fix


def test_simple_salesforce_bulk2_reads_the_sandbox_jobs(sandbox, monkeypatch):
    """The vendor-independent witness: simple-salesforce's Bulk 2.0 client against the sandbox."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sandbox.ca_file))
    session = requests.Session()
    session.verify = str(sandbox.ca_file)
    sf = Salesforce(instance_url=sandbox.url, session_id=sandbox.token, version="59.0",
                    session=session)
    expected = sandbox.expected()["salesforce"]
    for name in ("Contact",):   # simple-salesforce waits 5 s before its first poll
        pages = sf.bulk2.__getattr__(name).query_all(f"SELECT Id, IsDeleted FROM {name}",
                                                     max_records=150)
        lines = [ln for page in pages for ln in page.splitlines()[1:] if ln.strip()]
        assert len(lines) == expected[name]["total"], name
        deleted = sum(ln.endswith('"true"') for ln in lines)
        assert deleted == expected[name]["deleted"], name
