"""(a) A mass deletion of 300 contacts with their relations → `restore --deleted-since` → a
fresh export of the CRM reconciles with the snapshot."""

from __future__ import annotations

from pathlib import Path

from vk_restore import OBJECTS, World, run_json
from vk_restore_check import (
    export_live,
    is_live,
    props,
    records,
    related_contacts,
    relations,
    snapshot_records,
    snapshot_relations,
)


def test_mass_deletion_comes_back(world: World, tmp_path: Path) -> None:
    mirror = world.root / ".vaultkeeper" / "mirror" / "mirror.db"
    c = world.contacts
    victims = related_contacts(mirror, c, 300)
    gone = world.writer.archive(c, victims)
    assert gone.ok and len(gone.outcomes) == 300
    world.sandbox.clear_log()

    report = run_json(world.config, "restore", "--deleted-since", world.snapshot_id,
                      ok=(0, 3, 4))

    assert report["exit_code"] == 0 and report["status"] == "done", (
        report["error"], report["links"], report["link_failures"][:3],
        [r for r in report["records"] if r["outcome"] == "Failed"][:3],
        report["mismatches"][:3])
    action = "undelete" if world.vendor == "salesforce" else "create"
    assert report["plan"][c][action] == 300
    assert sum(n for a, n in report["plan"][c].items() if a != action) == 0
    outcome = "Undeleted" if world.vendor == "salesforce" else "Created"
    assert report["outcomes"][c][outcome] == 300
    assert report["mismatches"] == []
    id_map = report["id_map"].get(c, {})
    new_id = {old: id_map.get(old, old) for old in victims}
    if world.vendor == "hubspot":
        assert len(set(new_id.values()) - set(victims)) == 300   # new ids

    fresh = export_live(world.vendor, world.sandbox, tmp_path / "fresh", OBJECTS[world.vendor])
    now = records(fresh, c)
    snap = snapshot_records(mirror, c)
    writable = world.writer.writable_fields(c).updateable
    for old in victims:
        rec = now[new_id[old]]
        assert is_live(world.vendor, rec)
        got, want = props(world.vendor, rec), props(world.vendor, snap[old])
        for name in writable & set(want):
            if world.vendor == "salesforce" and name.endswith("Id"):
                continue   # lookups are compared as relations below
            assert (got.get(name) or None) == (want.get(name) or None), (old, name)
        if world.vendor == "hubspot":
            assert got.get("vaultkeeper_legacy_id") == old
    # every relation of the snapshot is back, with the re-created records' new ids
    live_rel = relations(fresh)
    maps = {o: (report["id_map"].get(o, {})) for o in OBJECTS[world.vendor]}
    missing = [(stem, f, t) for stem, a, f, b, t in snapshot_relations(mirror)
               if (stem, maps[a].get(f, f), maps[b].get(t, t)) not in live_rel
               and f in snapshot_records_cache(mirror, a) and t in snapshot_records_cache(
                   mirror, b)]
    assert missing == []
    touched = [r for r in snapshot_relations(mirror) if r[2] in victims or r[4] in victims]
    assert len(touched) > 300


_CACHE: dict[tuple[Path, str], set[str]] = {}


def snapshot_records_cache(mirror: Path, obj: str) -> set[str]:
    key = (mirror, obj)
    if key not in _CACHE:
        _CACHE[key] = set(snapshot_records(mirror, obj))
    return _CACHE[key]
