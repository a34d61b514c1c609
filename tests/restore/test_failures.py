"""(e) Records the CRM refuses end Failed with the vendor's reason (exit 3); the others are
restored. (f) 429 storms on writes change nothing in the end state."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from vk_drill import rewrite_object, snapshot
from vk_restore import OBJECTS, PHONE, World, make_world, run_json
from vk_restore_check import export_live, related_contacts

from vaultkeeper.connectors import make_writer
from vaultkeeper.connectors.writer import RecordUpdate
from vaultkeeper.digest import canonical_json
from vaultkeeper.sandbox import FaultConfig, Sandbox


def _salesforce_snapshot_with_bad_emails(world: World, tmp_path: Path,
                                         ) -> tuple[list[str], list[str], str]:
    """A real restic snapshot of the org's export in which 8 contacts' e-mails are invalid."""
    export = export_live(world.vendor, world.sandbox, tmp_path / "export",
                         OBJECTS[world.vendor])
    lines = (export / "objects" / "Contact.ndjson").read_bytes().splitlines()
    rows = [orjson.loads(line) for line in lines if line.strip()]
    usable = [r for r in rows if r.get("Email") and not r.get("IsDeleted")]
    bad = [r["Id"] for r in usable[:8]]
    for r in usable[:8]:
        r["Email"] = r["Email"].replace("@", " at ")
    rewrite_object(export, "Contact", [canonical_json(r) for r in rows])
    snap = snapshot(world.root, world.root / "loc" / "nas", export)
    return bad, [r["Id"] for r in usable[8:38]], snap


def test_refused_records_fail_with_reason_others_restored(world2: World, second: Sandbox,
                                                           tmp_path: Path) -> None:
    mirror = world2.root / ".vaultkeeper" / "mirror" / "mirror.db"
    c = world2.contacts
    extra: list[str] = []
    if world2.vendor == "hubspot":   # the portal holds e-mails HubSpot refuses on insert
        bad = related_contacts(mirror, c, 8, valid=False)
        good = related_contacts(mirror, c, 30)
    else:   # an org whose export holds e-mails the target org refuses (tightened validation)
        bad, good, snap = _salesforce_snapshot_with_bad_emails(world2, tmp_path)
        extra = ["--snapshot", snap]
    assert len(bad) == 8

    report = run_json(world2.config, "restore", "--into", "second", "--object", c, "--ids",
                      ",".join(bad + good), *extra, ok=(3,))

    assert report["exit_code"] == 3 and report["status"] == "partial"
    failed = {r["id"]: r for r in report["records"] if r["outcome"] == "Failed"}
    assert sorted(failed) == sorted(bad)
    code = "INVALID_EMAIL" if world2.vendor == "hubspot" else "INVALID_EMAIL_ADDRESS"
    for record in failed.values():
        assert record["code"] == code and "mail" in record["reason"].lower(), record
    created = report["id_map"][c]
    assert sorted(created) == sorted(good)
    target = make_writer(world2.vendor, second.url, second.token, ca_file=second.ca_file)
    try:
        live = target.fetch(c, list(created.values()))
    finally:
        target.close()
    assert len(live) == 30 and not any(r.archived for r in live.values())
    assert report["mismatches"] == []


@pytest.mark.parametrize("vendor", ["hubspot", "salesforce"])
def test_429_storm_on_writes_same_end_state(vendor: str, tmp_path_factory: pytest.TempPathFactory,
                                            tmp_path: Path) -> None:
    world = make_world(vendor, tmp_path_factory, tmp_path,
                       faults="write_429:every=3:burst=2:retry_after=0.2")
    try:
        mirror = world.root / ".vaultkeeper" / "mirror" / "mirror.db"
        victims = related_contacts(mirror, world.contacts, 150)
        assert world.writer.archive(world.contacts, victims).ok

        report = run_json(world.config, "restore", "--deleted-since", world.snapshot_id)

        assert report["exit_code"] == 0, report["error"]
        done = "Undeleted" if vendor == "salesforce" else "Created"
        assert report["outcomes"][world.contacts][done] == 150
        assert report["links"]["failed"] == 0 and report["links"]["planned"] > 150
        assert report["mismatches"] == []
        assert report["requests"]["retries"] > 0
        assert world.sandbox.stats()["faults"]["write_rate_limit"] > 0
        ids = [report["id_map"].get(world.contacts, {}).get(v, v) for v in victims]
        live = world.writer.fetch(world.contacts, ids)
        assert len(live) == 150 and not any(r.archived for r in live.values())
    finally:
        world.writer.close()
        world.sandbox.stop()


@pytest.mark.parametrize("vendor", ["hubspot", "salesforce"])
def test_target_that_drops_a_value_fails_verification(
        vendor: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    phone = PHONE[vendor]
    world = make_world(vendor, tmp_path_factory, tmp_path)
    try:
        mirror = world.root / ".vaultkeeper" / "mirror" / "mirror.db"
        victims = related_contacts(mirror, world.contacts, 60)
        assert world.writer.update(world.contacts, [
            RecordUpdate(i, {phone: "+44 1632 960000"}) for i in victims]).ok
        # from now on the CRM answers success to writes but never stores the phone
        lossy = FaultConfig.parse(f"drop_property={phone}")
        world.sandbox.hubspot.faults = world.sandbox.salesforce.faults = lossy
        report = run_json(world.config, "restore", "--object", world.contacts, "--ids",
                          ",".join(victims), ok=(4,))
        assert report["exit_code"] == 4 and report["status"] == "mismatch"
        assert {m["field"] for m in report["mismatches"]} == {phone}
        assert {m["object"] for m in report["mismatches"]} == {world.contacts}
    finally:
        world.writer.close()
        world.sandbox.stop()
