"""Per-object cadence: a scheduled backup reads each object on its own cadence (the tightest
RPO of the processes that need it) and carries the others unchanged from the previous
snapshot; a manual backup reads everything."""

from __future__ import annotations

import json

from vk_incremental import backup, snapshot_manifest, vk, write_config

from vaultkeeper.sandbox import FaultConfig, Sandbox

PROCESSES = """
[[process]]
name = "membership"
title = "Membership administration"
priority = 1
rto = "1d"
rpo = "1h"
objects = ["contacts"]

[[process]]
name = "grants"
title = "Grant reporting"
priority = 3
rto = "1w"
rpo = "30d"
objects = ["deals"]
"""


def newest(config, sb) -> str:
    listing = json.loads(vk(config, sb, "snapshots", "--json").stdout)["snapshots"]
    return max(listing, key=lambda s: s["time"])["id"]


def test_objects_not_due_are_carried_by_scheduled_runs(tmp_path):
    with Sandbox(records=500, seed=13, faults=FaultConfig.parse("none")) as sb:
        config = write_config(tmp_path, sb, "hubspot", full_every="10")
        (tmp_path / "policies").mkdir()
        (tmp_path / "policies" / "processes.toml").write_text(PROCESSES, encoding="utf-8")
        assert vk(config, sb, "locations", "init").returncode == 0
        first = vk(config, sb, "run", "--job", "backup")
        assert first.returncode == 0, first.stderr[-1500:]
        contact, deal = sb.live_ids("contacts", 1, start=9)[0], sb.live_ids("deals", 1)[0]
        sb.overwrite("contacts", {contact: {"firstname": "DueHourly"}})
        sb.overwrite("deals", {deal: {"dealname": "DueMonthly"}})
        second = vk(config, sb, "run", "--job", "backup")
        assert second.returncode == 0, second.stderr[-1500:]
        manifest = snapshot_manifest(tmp_path, newest(config, sb))
        objects = manifest["incremental"]["objects"]
        assert objects["contacts"]["mode"] == "incremental"
        assert objects["deals"]["mode"] == "carried" and "cadence" in objects["deals"]["reason"]
        restored = next(tmp_path.glob(f"restored-{newest(config, sb)[:8]}"))
        deals = next(restored.rglob("objects/deals.ndjson")).read_bytes()
        contacts = next(restored.rglob("objects/contacts.ndjson")).read_bytes()
        assert b"DueHourly" in contacts and b"DueMonthly" not in deals
        # the carried object is whole: same records as before, nothing lost
        assert manifest["objects"]["deals"]["count"] == sb.expected()["hubspot"]["deals"]["total"]
        # A manual backup reads every object.
        manual = backup(config, sb)
        assert manual["export_mode"] == "incremental"
        again = snapshot_manifest(tmp_path, manual["snapshot_id"])
        assert again["incremental"]["objects"]["deals"]["mode"] == "incremental"
        # The synthetic snapshot drills like any other (restore, mirror, reconcile).
        drilled = vk(config, sb, "drill", "--json")
        assert drilled.returncode == 0, drilled.stdout[-1500:] + drilled.stderr[-1500:]
        assert json.loads(drilled.stdout)["result"] == "verified"
