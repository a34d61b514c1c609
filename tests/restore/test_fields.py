"""(b) An import overwrote 500 phone numbers → `restore --fields phone` puts back exactly those
values; the sandbox's request log shows nothing else was written. (c) `--dry-run` writes
nothing."""

from __future__ import annotations

from pathlib import Path

from vk_restore import OBJECTS, PHONE, World, run_json
from vk_restore_check import export_live, props, records, related_contacts, snapshot_records

from vaultkeeper.connectors.writer import RecordUpdate


def test_phone_rollback_writes_only_phones(world: World, tmp_path: Path) -> None:
    mirror = world.root / ".vaultkeeper" / "mirror" / "mirror.db"
    c, phone = world.contacts, PHONE[world.vendor]
    snap = snapshot_records(mirror, c)
    victims = sorted(snap)[:500]
    bad = world.writer.update(c, [RecordUpdate(i, {phone: "+44 20 7946 0000"}) for i in victims])
    assert bad.ok
    # a legitimate change made since the snapshot, which the rollback must leave alone
    last = "lastname" if world.vendor == "hubspot" else "LastName"
    kept = victims[:5]
    assert world.writer.update(c, [RecordUpdate(i, {last: "Changed-Since"}) for i in kept]).ok
    before = records(export_live(world.vendor, world.sandbox, tmp_path / "before",
                                 OBJECTS[world.vendor]), c)
    world.sandbox.clear_log()

    report = run_json(world.config, "restore", "--object", c, "--fields", phone)

    changed = [i for i in victims if (props(world.vendor, snap[i]).get(phone) or None)
               != "+44 20 7946 0000"]
    assert report["exit_code"] == 0, report
    assert report["plan"][c]["update"] == len(changed) >= 490
    assert report["plan"][c]["create"] == report["plan"][c]["undelete"] == 0
    writes = world.sandbox.write_requests()
    assert writes, "the rollback sent no write"
    touched = [i for w in writes for i in w.ids]
    assert sorted(touched) == sorted(changed)            # each overwritten record once, no other
    assert sum(w.records for w in writes) == len(changed)
    assert {f for w in writes for f in w.fields} == {phone}  # no other property was sent
    assert all(("batch/update" in w.path) if world.vendor == "hubspot"
               else (w.method == "PATCH" and "composite/sobjects" in w.path) for w in writes)

    after = records(export_live(world.vendor, world.sandbox, tmp_path / "after",
                                OBJECTS[world.vendor]), c)
    volatile = {"lastmodifieddate", "hs_lastmodifieddate", "LastModifiedDate", "SystemModstamp",
                "updatedAt", phone}
    for rid, rec in after.items():
        now, then = props(world.vendor, rec), props(world.vendor, before[rid])
        if rid in changed:
            assert (now.get(phone) or None) == (props(world.vendor, snap[rid]).get(phone)
                                                or None)
        else:
            assert now.get(phone) == then.get(phone)
        assert {k: v for k, v in now.items() if k not in volatile} == \
            {k: v for k, v in then.items() if k not in volatile}, rid
    assert all(props(world.vendor, after[i])[last] == "Changed-Since" for i in kept)


def test_dry_run_sends_no_write(world: World) -> None:
    mirror = world.root / ".vaultkeeper" / "mirror" / "mirror.db"
    victims = related_contacts(mirror, world.contacts, 50)
    assert world.writer.archive(world.contacts, victims).ok
    world.sandbox.clear_log()

    report = run_json(world.config, "restore", "--deleted-since", world.snapshot_id,
                      "--dry-run")

    assert report["status"] == "planned" and report["dry_run"] is True
    action = "undelete" if world.vendor == "salesforce" else "create"
    assert report["plan"][world.contacts][action] == 50
    assert report["records"] == []
    assert world.sandbox.request_log, "the plan did read the CRM"
    assert world.sandbox.write_requests() == []
    assert all(r.archived for r in world.writer.fetch(world.contacts, victims).values())
