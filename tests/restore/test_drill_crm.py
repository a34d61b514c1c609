"""`vaultkeeper drill --into-crm TARGET`: restore into a second CRM, export it back, reconcile;
fails (exit 4, naming the object and the field) when the target silently drops a property."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from vk_restore import PHONE, World, empty_target, make_world, run, run_json

from vaultkeeper.sandbox import Sandbox


@pytest.fixture
def lossy(vendor: str) -> Iterator[Sandbox]:
    sb = empty_target(vendor, faults=f"drop_property={PHONE[vendor]}")
    yield sb
    sb.stop()


@pytest.fixture
def clean2(vendor: str, second: Sandbox, tmp_path_factory: pytest.TempPathFactory,
           tmp_path: Path) -> Iterator[World]:
    """A CRM whose data re-imports as it is, backed up; [targets.second] is empty."""
    w = make_world(vendor, tmp_path_factory, tmp_path, second=second, clean=True)
    yield w
    w.writer.close()
    w.sandbox.stop()


def test_drill_into_crm_passes_and_is_recorded(clean2: World, second: Sandbox) -> None:
    world2 = clean2
    report = run_json(world2.config, "drill", "--into-crm", "second", "--sample", "25")

    assert report["result"] == "verified", report["failures"]
    assert report["snapshot_id"] == world2.snapshot_id
    assert report["records"] >= 25 * 4 and report["relations"]["expected"] > 25
    assert report["relations"]["missing"] == 0
    assert all(o["missing"] == 0 and not o["fields_differing"] for o in report["objects"])
    history = run_json(world2.config, "drill", "history")
    assert history[0]["location"] == "crm:second" and history[0]["result"] == "verified"
    # a second drill into the same target re-uses what the first one created
    again = run_json(world2.config, "drill", "--into-crm", "second", "--sample", "25")
    assert again["result"] == "verified" and again["records"] == report["records"]
    status = run_json(world2.config, "status")
    assert status["crm_drills"]["second"]["result"] == "verified"
    ready = run(world2.config, "processes", "check", "--json")
    assert "restore into CRM second rehearsed" in ready.stdout, ready.stdout[-2000:]


def test_drill_into_crm_fails_when_target_drops_a_property(
        vendor: str, lossy: Sandbox, tmp_path_factory: pytest.TempPathFactory,
        tmp_path: Path) -> None:
    world = make_world(vendor, tmp_path_factory, tmp_path, second=lossy, clean=True)
    try:
        result = run(world.config, "drill", "--into-crm", "second", "--sample", "25", "--json")
        assert result.returncode == 4, result.stderr
        import json

        report = json.loads(result.stdout)
        assert report["result"] == "failed"
        phone = PHONE[vendor]
        named = [f for f in report["failures"] if f["field"] == phone]
        assert world.contacts in {f["object"] for f in named}, report["failures"]
        assert {f["field"] for f in report["failures"]} == {phone}
        plain = run(world.config, "drill", "--into-crm", "second", "--sample", "25")
        assert plain.returncode == 4
        assert world.contacts in plain.stderr and phone in plain.stderr
        status = run_json(world.config, "status")
        assert status["crm_drills"]["second"]["result"] == "failed"
    finally:
        world.writer.close()
        world.sandbox.stop()
