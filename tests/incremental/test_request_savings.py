"""Where an incremental export saves requests, and that it still equals a full export (issue
16's ≤ 3 % target). HubSpot: one newest-first search gives an object's changes and its live
count; an object empty in the base and still empty keeps the base's schema; the owners and
pipelines probes are the reads' first pages. Salesforce: the deleted-record log is read only
when the count says a row vanished."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vk_incremental import client, digests
from vk_testing import salesforce

from vaultkeeper.connectors.changes import Previous
from vaultkeeper.connectors.hubspot import HubSpotConnector
from vaultkeeper.connectors.sf_changes import SalesforceChanges
from vaultkeeper.exportfmt import ExportFolder
from vaultkeeper.models import Record
from vaultkeeper.sandbox import FaultConfig, Sandbox
from vaultkeeper.services.export import run_export
from vaultkeeper.services.incremental import SyntheticConnector, feed_for


def export(sb: Sandbox, out: Path, base: Path | None) -> tuple[dict[str, Any], int]:
    """An export as a backup with ``full_every`` makes it: (manifest, requests sent)."""
    connector = HubSpotConnector(sb.url, sb.token, ca_file=sb.ca_file, max_retries=12)
    try:
        feed = feed_for(connector)
        assert feed is not None
        plans: dict[str, Any] = {}
        wrapped = SyntheticConnector(connector, feed, ExportFolder(base) if base else None,
                                     datetime.now(UTC), summary_into=plans)
        manifest = run_export(wrapped, out, extra={"incremental": {"objects": plans}})
        return manifest, int(connector.request_stats()["requests"])
    finally:
        connector.close()


def full(sb: Sandbox, out: Path) -> tuple[dict[str, Any], int]:
    """A plain full export (the reference)."""
    connector = HubSpotConnector(sb.url, sb.token, ca_file=sb.ca_file, max_retries=12)
    try:
        return run_export(connector, out), int(connector.request_stats()["requests"])
    finally:
        connector.close()


def test_incremental_hubspot_requests_and_an_empty_object_that_fills(tmp_path: Path) -> None:
    with Sandbox(records=500, seed=31, faults=FaultConfig.parse("none")) as sb:
        base, _ = export(sb, tmp_path / "base", None)
        empty = sorted(n for n, e in base["objects"].items() if e["count"] == 0)
        assert "tickets" in empty and len(empty) >= 3   # the sandbox leaves several empty
        time.sleep(1.1)
        ids = sb.live_ids("contacts", 12, start=60)
        sb.overwrite("contacts", {i: {"firstname": "Saved"} for i in ids[:10]})
        sb.archive("contacts", ids[10:])
        with client(sb) as http:   # an empty object gains a record
            made = http.post("/crm/v3/objects/tickets", json={"properties": {
                "subject": "First ticket", "hs_pipeline": "0", "hs_pipeline_stage": "1"}})
            assert made.status_code in (200, 201), made.text
        sb.clear_log()
        incr, sent = export(sb, tmp_path / "incr", tmp_path / "base")
        log = [(r.method, r.path) for r in sb.request_log]
        reference, full_sent = full(sb, tmp_path / "full")
    assert digests(incr) == digests(reference)   # counts and content digests, relations too
    assert incr["objects"]["tickets"]["count"] == 1
    assert sent == len(log) < full_sent
    still_empty = [n for n in empty if n != "tickets"]
    # Still-empty objects: one search each, their schema carried (no properties request) and
    # written exactly as a fresh read writes it.
    for name in still_empty:
        assert ("GET", f"/crm/v3/properties/{name}") not in log
        assert log.count(("POST", f"/crm/v3/objects/{name}/search")) == 1
        assert incr["objects"][name]["schema"]["sha256"] == \
            reference["objects"][name]["schema"]["sha256"]
    # The filled one: probed, then its properties and its changes read.
    assert ("GET", "/crm/v3/properties/tickets") in log
    # An object with data and no change: one search (changes and live count together).
    for name in ("companies", "deals"):
        assert log.count(("POST", f"/crm/v3/objects/{name}/search")) == 1
    # Owners and pipelines: the probes are the first pages (live owners, deal pipelines once).
    assert log.count(("GET", "/crm/v3/owners")) == 2   # live (the probe), then archived
    assert log.count(("GET", "/crm/v3/pipelines/deals")) == 1
    plans = incr["incremental"]["objects"]
    assert plans["contacts"]["mode"] == plans["tickets"]["mode"] == "incremental"
    assert plans["contacts"]["changed"] == 12


def test_salesforce_reads_the_deleted_log_only_when_a_row_vanished() -> None:
    with Sandbox(records=300, seed=32, faults=FaultConfig.parse("none")) as sb:
        connector = salesforce(sb)
        try:
            spec = next(s for s in connector.discover() if s.name == "Contact")
            previous = Previous()
            for item in connector.read(spec):
                if isinstance(item, Record):
                    (previous.archived if item.archived else previous.live).add(
                        str(item.data["Id"]))
            assert previous.archived   # the sandbox has deleted rows in its recycle bin
            time.sleep(1.1)   # SOQL datetimes have whole seconds
            since = datetime.now(UTC)
            time.sleep(1.1)
            feed = SalesforceChanges(connector)
            sb.clear_log()
            same = feed.changes(spec, since, previous)
            quiet = [r.path for r in sb.request_log]
            # A row the base holds that the source no longer has (purged from the recycle
            # bin): the count with deleted rows is short, so the log is read.
            vanished = Previous(live=previous.live | {"003000000000VANISH"},
                                archived=previous.archived)
            sb.clear_log()
            short = feed.changes(spec, since, vanished)
            asked = [r.path for r in sb.request_log]
        finally:
            connector.close()
    assert not same.records and same.count is not None
    assert same.count.total == len(previous.live | previous.archived)
    assert not [p for p in quiet if p.endswith("/deleted/")]
    assert [p for p in asked if p.endswith("/sobjects/Contact/deleted/")]
    assert short.count is not None and short.count.total == same.count.total
