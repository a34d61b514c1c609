"""Property test of the whole path: export folder → restic backup → drill (check, restore into
a private folder, mirror, reconcile) on generated records with awkward content."""

from __future__ import annotations

import sqlite3

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from vk_backup import make_config, vk
from vk_drill import make_export, records, snapshot

from vaultkeeper.config import find_config_file, load_settings
from vaultkeeper.services.drill import run_drill


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("roundtrip")
    config = make_config(root, locations=[("nas", str(root / "loc" / "nas"))])
    assert vk(config, "locations", "init").returncode == 0
    return root, load_settings(find_config_file(config))


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(contacts=records(), companies=records())
def test_export_backup_restore_mirror_round_trip(repo, contacts, companies):
    root, vk_settings = repo
    relations = [{"from_id": c["id"], "to_id": o["id"], "type": "t"}
                 for c, o in zip(contacts, companies, strict=False)]
    make_export(root / "export", {"contacts": contacts, "companies": companies},
                {"contacts__companies": relations})
    snap = snapshot(root, root / "loc" / "nas", root / "export")
    report = run_drill(vk_settings, location="nas", snapshot=snap[:12],
                       read_data_subset="100%")
    assert report.result == "verified", [f.line() for f in report.failures]
    assert report.snapshot_id == snap
    assert report.records == len(contacts) + len(companies)
    conn = sqlite3.connect(report.mirror_path)
    for name, recs in (("contacts", contacts), ("companies", companies)):
        stored = {rid: orjson.loads(raw)
                  for rid, raw in conn.execute(f"select id, _raw from {name}")}
        assert stored == {r["id"]: r for r in recs}
    assert conn.execute("select count(*) from rel_contacts__companies").fetchone()[0] == \
        len(relations)
    conn.close()
    assert not list((root / ".vaultkeeper" / "drill-staging").glob("*"))
