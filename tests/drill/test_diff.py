"""`vaultkeeper diff` counts exactly on snapshots with known added, removed and changed records;
the shared count comparison behind it and the backup's mass-deletion guard."""

from __future__ import annotations

from vk_backup import make_config, vk, vk_json
from vk_drill import make_export, snapshot

from vaultkeeper.services.backup import mass_deletion
from vaultkeeper.services.diff import compare_counts


def contact(i: int, **props: object) -> dict:
    base = {"firstname": f"Person {i}", "email": f"p{i}@example.org", "city": "Leeds",
            "n_visits": str(i)}
    return {"id": str(1000 + i), "archived": False, "createdAt": "2020-01-01T00:00:00Z",
            "properties": base | props}


def test_diff_counts_added_removed_changed_exactly(tmp_path):
    config = make_config(tmp_path, locations=[("nas", str(tmp_path / "loc" / "nas"))])
    assert vk(config, "locations", "init").returncode == 0
    before = [contact(i) for i in range(40)]
    companies = [{"id": "5001", "archived": False, "properties": {"name": "Acme"}}]
    make_export(tmp_path / "a", {"contacts": before, "companies": companies},
                {"contacts__companies": [{"from_id": "1000", "to_id": "5001", "type": "x"}]})
    removed = {"1003", "1010"}
    changed = {"1001": {"city": "York"}, "1020": {"email": ""}, "1021": {"email": None},
               "1039": {"firstname": "Zoë ✓"}}
    after = [contact(i, **changed.get(str(1000 + i), {})) for i in range(40)
             if str(1000 + i) not in removed]
    after += [contact(i) for i in (50, 51, 52)]
    after.reverse()  # order must not matter
    make_export(tmp_path / "b", {"contacts": after, "companies": companies})
    id_a = snapshot(tmp_path, tmp_path / "loc" / "nas", tmp_path / "a")
    id_b = snapshot(tmp_path, tmp_path / "loc" / "nas", tmp_path / "b")
    report = vk_json(config, "diff", id_a[:10], id_b[:10], "--location", "nas", "--sample",
                     "10")
    objects = {o["object"]: o for o in report["objects"]}
    c = objects["contacts"]
    assert (c["before"], c["after"]) == (40, 41)
    assert (c["added"], c["removed"], c["changed"], c["unchanged"]) == (3, 2, 4, 34)
    assert c["added_ids"] == ["1050", "1051", "1052"]
    assert c["removed_ids"] == ["1003", "1010"]
    fields = {ch["id"]: ch["fields"] for ch in c["changes"]}
    assert fields["1001"] == [{"field": "properties.city", "before": "Leeds", "after": "York"}]
    assert fields["1020"] == [{"field": "properties.email", "before": "p20@example.org",
                               "after": ""}]
    assert fields["1021"] == [{"field": "properties.email", "before": "p21@example.org",
                               "after": None}]
    assert fields["1039"][0]["after"] == "Zoë ✓"
    assert (objects["companies"]["added"], objects["companies"]["changed"]) == (0, 0)
    assert report["relations"] == [{"relation": "contacts__companies", "before": 1,
                                    "after": 0, "delta": -1}]
    human = vk(config, "diff", id_a[:10], id_b[:10])
    assert human.returncode == 0 and "York" in human.stdout
    assert not list((tmp_path / ".vaultkeeper" / "diff-staging").glob("*"))


def test_compare_counts_and_mass_deletion_share_one_rule():
    changes = compare_counts({"contacts": 100, "deals": 10, "gone": 5}, {"contacts": 70,
                                                                        "deals": 12, "new": 3})
    assert [(c.name, c.before, c.after, c.delta) for c in changes] == [
        ("contacts", 100, 70, -30), ("deals", 10, 12, 2), ("gone", 5, 0, -5), ("new", 0, 3, 3)]
    assert [c.drop for c in changes] == [0.3, 0.0, 1.0, 0.0]
    reason = mass_deletion({"contacts": 100, "deals": 10, "gone": 5},
                           {"contacts": 70, "deals": 12}, 0.2)
    assert reason == ("record counts fell by more than 20% since the last backup: "
                      "contacts 100 → 70 (-30%), gone 5 → 0 (-100%)")
    assert mass_deletion({"contacts": 100}, {"contacts": 81}, 0.2) == ""
    assert mass_deletion(None, {"contacts": 1}, 0.2) == ""
