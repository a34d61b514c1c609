"""A person on the erasure register never comes back into the CRM: `restore` leaves them (and
what is theirs alone) out of the snapshot before it plans, and says so."""

from __future__ import annotations

from vk_restore import World, run, run_json
from vk_restore_check import related_contacts


def test_erased_person_is_not_restored(world: World) -> None:
    mirror = world.root / ".vaultkeeper" / "mirror" / "mirror.db"
    c = world.contacts
    victims = related_contacts(mirror, c, 20)
    assert world.writer.archive(c, victims).ok
    erased = victims[0]
    forget = run(world.config, "privacy", "forget", "--id", f"{c}:{erased}",
                 "--ref", "AVG-2026-17")
    assert forget.returncode == 0, forget.stderr
    report = run_json(world.config, "restore", "--deleted-since", world.snapshot_id,
                      ok=(0, 3))
    action = "undelete" if world.vendor == "salesforce" else "create"
    assert report["plan"][c][action] == 19
    assert "1 erased person suppressed" in report["source"]
    touched = {r["id"] for r in report["records"]}
    assert erased not in touched and erased not in report["id_map"].get(c, {})
