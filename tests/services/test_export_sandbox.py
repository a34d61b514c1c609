"""Exports over HTTPS against the sandbox: complete counts, stable digests under faults."""

from __future__ import annotations

import json

import orjson
import pytest
from vk_testing import RECORDS, SEED, hubspot, pair_counts, salesforce

from vaultkeeper.sandbox import Sandbox
from vaultkeeper.services.export import run_export


@pytest.fixture(scope="module")
def hubspot_clean(clean_sandbox, tmp_path_factory):
    out = tmp_path_factory.mktemp("hs-clean") / "export"
    with hubspot(clean_sandbox) as connector:
        return run_export(connector, out), out


@pytest.fixture(scope="module")
def salesforce_clean(clean_sandbox, tmp_path_factory):
    out = tmp_path_factory.mktemp("sf-clean") / "export"
    with salesforce(clean_sandbox) as connector:
        return run_export(connector, out), out


def test_hubspot_export_has_every_record_including_archived(hubspot_clean, clean_sandbox):
    manifest, out = hubspot_clean
    expected = clean_sandbox.expected()["hubspot"]
    assert manifest["status"] == "complete", manifest["problems"]
    settings = clean_sandbox.expected_settings()
    assert set(manifest["objects"]) == set(expected) | set(settings)
    for name, want in settings.items():   # owners and pipelines: HubSpot gives no count
        got = manifest["objects"][name]
        assert (got["count"], got["archived"]) == (want["total"], want["archived"]), name
        assert got["source_count"] is None
    owners = [orjson.loads(line) for line in
              (out / manifest["objects"]["owners"]["file"]).read_bytes().splitlines()]
    assert {o["id"] for o in owners} >= {"61000001"} and all(o["email"] for o in owners)
    for name, want in expected.items():
        got = manifest["objects"][name]
        assert (got["count"], got["archived"]) == (want["total"], want["archived"]), name
        assert got["source_count"]["live"] == want["live"] and got["difference"] == 0
        lines = (out / got["file"]).read_bytes().splitlines()
        assert len(lines) == want["total"]
    assert expected["contacts"]["archived"] > 0
    # Relations: each association pair exported once, whichever side it was read from.
    want_pairs = {frozenset(k.split("__")): v
                  for k, v in clean_sandbox.expected()["relations"]["hubspot"].items()}
    assert pair_counts(manifest) == want_pairs


def test_salesforce_export_has_every_record_including_deleted(salesforce_clean, clean_sandbox):
    manifest, _out = salesforce_clean
    expected = clean_sandbox.expected()["salesforce"]
    assert manifest["status"] == "complete", manifest["problems"]
    for name, want in expected.items():
        got = manifest["objects"][name]
        assert got["count"] == want["total"], name
        assert got["archived"] == want["deleted"], name
        assert got["source_count"] == {"live": want["live"], "total": want["total"],
                                       "method": "COUNT() totalSize"}
    want_rel = clean_sandbox.expected()["relations"]["salesforce"]
    assert {k: v["count"] for k, v in manifest["relations"].items()} == want_rel


def test_export_files_match_manifest_hashes(hubspot_clean):
    import hashlib

    from vaultkeeper.digest import ContentDigest

    manifest, out = hubspot_clean
    for entry in [*manifest["objects"].values(), *manifest["relations"].values()]:
        path = out / (entry.get("file") or entry.get("path"))
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        digest = ContentDigest()
        for line in data.splitlines():
            digest.add_canonical(line)
        assert digest.hexdigest() == entry["content_digest"]
    assert (out.stat().st_mode & 0o777) == 0o700
    assert (out / "objects" / "contacts.ndjson").stat().st_mode & 0o077 == 0
    assert not list(out.rglob("*.part"))


@pytest.mark.parametrize("flavour", ["hubspot", "salesforce"])
def test_digests_identical_between_clean_run_and_run_with_every_fault(
        flavour, faulty_sandbox, hubspot_clean, salesforce_clean, tmp_path):
    clean, _ = hubspot_clean if flavour == "hubspot" else salesforce_clean
    make = hubspot if flavour == "hubspot" else salesforce
    before = faulty_sandbox.stats()
    with make(faulty_sandbox) as connector:
        faulty = run_export(connector, tmp_path / "export")
    after = faulty_sandbox.stats()
    for name, entry in clean["objects"].items():
        assert faulty["objects"][name]["content_digest"] == entry["content_digest"], name
        assert faulty["objects"][name]["count"] == entry["count"], name
    for stem, entry in clean["relations"].items():
        assert faulty["relations"][stem]["content_digest"] == entry["content_digest"], stem
    # The faults really happened and were absorbed.
    assert faulty["requests"]["retries"] > 0
    assert json.dumps(after) != json.dumps(before)
    # The malformed extras went to quarantine, were counted, and made the run incomplete.
    quarantined = sum(o["quarantined"] for o in faulty["objects"].values())
    assert quarantined > 0 and faulty["status"] == "incomplete"
    lines = sum(len((tmp_path / "export" / o["quarantine_file"]).read_bytes().splitlines())
                for o in faulty["objects"].values() if o["quarantine_file"])
    assert lines == quarantined
    assert any("could not be parsed" in p for p in faulty["problems"])


@pytest.mark.parametrize(("flavour", "limit"), [("hubspot", 1500), ("salesforce", 600)])
def test_long_property_lists_are_split_and_merged(flavour, limit, hubspot_clean,
                                                  salesforce_clean, tmp_path):
    """A server that answers 414 beyond ``limit`` URL characters still yields the same export."""
    clean, _ = hubspot_clean if flavour == "hubspot" else salesforce_clean
    make = hubspot if flavour == "hubspot" else salesforce
    with Sandbox(records=RECORDS, seed=SEED, max_url_length=limit) as strict:
        # Connector left at its default (12,000): it must learn from the 414s and split.
        with make(strict) as connector:
            split = run_export(connector, tmp_path / "export")
        assert strict.stats()["refused"].get("url_too_long", 0) > 0
    assert split["status"] == "complete", split["problems"]
    for name, entry in clean["objects"].items():
        assert split["objects"][name]["content_digest"] == entry["content_digest"], name
    for stem, entry in clean["relations"].items():
        assert split["relations"][stem]["content_digest"] == entry["content_digest"], stem
