"""Incremental backups over HTTP with the real CLI and restic: every synthetic snapshot equals a
full export taken at the same moment; a scheduled full catches what the chain missed."""

from __future__ import annotations

import json

import pytest
from receivers import alerts_section, webhook
from vk_incremental import (
    NAME_FIELD,
    OBJ,
    backup,
    digests,
    full_export,
    mutate,
    snapshot_manifest,
    vk,
    write_config,
)

from vaultkeeper.sandbox import FaultConfig, Sandbox
from vaultkeeper.sandbox.changes import silent_edit


@pytest.fixture
def sandbox():
    with Sandbox(records=600, seed=7, faults=FaultConfig.parse("none")) as sb:
        yield sb


@pytest.mark.parametrize("vendor", ["hubspot", "salesforce"])
def test_incremental_snapshots_equal_a_full_export(tmp_path, sandbox, vendor):
    config = write_config(tmp_path, sandbox, vendor)
    assert vk(config, sandbox, "locations", "init").returncode == 0
    first = backup(config, sandbox)
    assert first["status"] == "ok" and first["export_mode"] == "full"
    full_requests = snapshot_manifest(tmp_path, first["snapshot_id"])["requests"]["requests"]
    for round_no in (1, 2):
        changed = mutate(sandbox, vendor, round_no)
        report = backup(config, sandbox)
        assert report["status"] == "ok", report["problems"]
        assert report["export_mode"] == "incremental"
        synthetic = snapshot_manifest(tmp_path, report["snapshot_id"])
        full = full_export(config, sandbox, tmp_path / f"full{round_no}")
        assert digests(synthetic) == digests(full)
        assert synthetic["status"] == "complete"
        block = synthetic["incremental"]
        assert block["mode"] == "incremental" and block["runs_since_full"] == round_no
        entry = block["objects"][OBJ[vendor]]
        assert entry["mode"] == "incremental" and entry["since"] < entry["high_water"]
        # updated + archived/deleted + created records came through the change feed
        assert entry["changed"] >= len(changed["updated"]) + len(changed["archived"]) + 2
        assert synthetic["requests"]["requests"] < full_requests
        # the created records are in the snapshot, the archived ones marked so
        assert synthetic["objects"][OBJ[vendor]]["count"] == full["objects"][OBJ[vendor]]["count"]


def test_a_record_changed_during_the_window_is_not_lost(tmp_path, sandbox):
    """The high-water mark is taken before the feed is read: a write that lands after the
    feed was read (here: while the export writes its files) is read again by the next run."""
    from datetime import UTC, datetime

    from vk_testing import hubspot

    from vaultkeeper.exportfmt import ExportFolder
    from vaultkeeper.services.export import ExportObserver, run_export
    from vaultkeeper.services.incremental import SyntheticConnector, feed_for

    target = sandbox.live_ids("contacts", 1, start=77)[0]

    class WriteMidRun(ExportObserver):
        def object_started(self, name, expected):
            if name == "contacts":
                sandbox.overwrite("contacts", {target: {"firstname": "DuringTheWindow"}})

    def export(out, base, observer=None):
        connector = hubspot(sandbox)
        try:
            blocks = {}
            syn = SyntheticConnector(connector, feed_for(connector), base,
                                     datetime.now(UTC), summary_into=blocks)
            return run_export(syn, out, observer=observer, extra={"incremental": {
                "objects": blocks, "high_water": None}})
        finally:
            connector.close()

    export(tmp_path / "a", None)
    during = export(tmp_path / "b", ExportFolder(tmp_path / "a"), WriteMidRun())
    assert during["incremental"]["objects"]["contacts"]["mode"] == "incremental"
    assert b"DuringTheWindow" not in (tmp_path / "b/objects/contacts.ndjson").read_bytes()
    after = export(tmp_path / "c", ExportFolder(tmp_path / "b"))
    assert after["incremental"]["objects"]["contacts"]["changed"] >= 1
    assert b"DuringTheWindow" in (tmp_path / "c/objects/contacts.ndjson").read_bytes()
    connector = hubspot(sandbox)
    try:
        full = run_export(connector, tmp_path / "full")
    finally:
        connector.close()
    assert digests(after) == digests(full)


@pytest.mark.parametrize("vendor", ["hubspot", "salesforce"])
def test_the_scheduled_full_catches_a_planted_miss_and_forces_fulls(tmp_path, sandbox, vendor):
    config = write_config(tmp_path, sandbox, vendor, full_every="2")
    assert vk(config, sandbox, "locations", "init").returncode == 0
    assert backup(config, sandbox)["export_mode"] == "full"
    victim = sandbox.live_ids(OBJ[vendor], 1, start=123)[0]
    silent_edit(sandbox.dataset, OBJ[vendor], {victim: {NAME_FIELD[vendor]: "SilentlyEdited"}})
    missed = backup(config, sandbox)
    assert missed["export_mode"] == "incremental" and missed["status"] == "ok"
    # Every 2 runs a real full, compared; as the scheduler runs it, with alerts on.
    with webhook() as hook:
        config.write_text(config.read_text() + alerts_section(hook, None))
        caught = vk(config, sandbox, "run", "--job", "backup")
        assert caught.returncode == 3, caught.stderr[-1500:]   # partial
    alert = next(p for p in hook.posts if p["event"] == "partial")
    assert "synthetic chain disagrees" in alert["detail"]
    assert f"{OBJ[vendor]}: same count" in alert["detail"]
    listing = json.loads(vk(config, sandbox, "snapshots", "--json").stdout)["snapshots"]
    manifest = snapshot_manifest(tmp_path, max(listing, key=lambda s: s["time"])["id"])
    assert manifest["incremental"]["mode"] == "full"
    assert manifest["incremental"]["compare"]["differences"]
    status = json.loads(vk(config, sandbox, "status", "--json").stdout)
    assert status["incremental"]["distrusted"] is not None
    # Distrusted: the next run is a full one whatever the count, and compares clean.
    forced = backup(config, sandbox)
    assert forced["export_mode"] == "full" and forced["status"] == "ok"
    block = snapshot_manifest(tmp_path, forced["snapshot_id"])["incremental"]
    assert "distrusted" in block["reason"] and block["compare"]["differences"] == []
    assert backup(config, sandbox)["export_mode"] == "incremental"


def test_config_errors_name_the_key_and_the_fix(tmp_path, sandbox):
    config = write_config(tmp_path, sandbox, "hubspot", full_every='"soon"')
    result = vk(config, sandbox, "backup")
    assert result.returncode == 5
    assert "[schedule] full_every" in result.stderr and "7d" in result.stderr
    config = write_config(tmp_path, sandbox, "hubspot", extra_source='api_reserve = "130%"')
    result = vk(config, sandbox, "backup")
    assert result.returncode == 5 and "api_reserve" in result.stderr and "30%" in result.stderr


def test_incremental_runs_keep_every_file_without_downloading_it_again(tmp_path, sandbox):
    """Files (issue 16, part 1) go through incremental runs: the synthetic full lists every file
    of the source, takes unchanged ones from the last snapshot, and equals a full export's."""
    config = write_config(tmp_path, sandbox, "hubspot", extra_source="files = {}")
    assert vk(config, sandbox, "locations", "init").returncode == 0
    first = backup(config, sandbox)
    every = len(sandbox.files.hubspot_all())   # attachments and file properties' files
    assert first["export_mode"] == "full" and first["files"]["count"] == every
    assert first["files"]["downloaded"] == len(sandbox.files.hubspot_all()) > 0
    mutate(sandbox, "hubspot", 1)
    sandbox.clear_log()
    report = backup(config, sandbox)
    assert report["status"] == "ok" and report["export_mode"] == "incremental"
    assert report["files"]["count"] == len(sandbox.files.hubspot_all())
    assert report["files"]["downloaded"] == 0
    assert report["files"]["reused"] == len(sandbox.files.hubspot_all())
    assert not [r.path for r in sandbox.request_log if r.path.startswith("/hubfs-signed/")]
    synthetic = snapshot_manifest(tmp_path, report["snapshot_id"])
    full = full_export(config, sandbox, tmp_path / "full")
    assert digests(synthetic) == digests(full)
    assert synthetic["files"]["count"] == full["files"]["count"]
    assert synthetic["files"]["sha256"] == full["files"]["sha256"]
