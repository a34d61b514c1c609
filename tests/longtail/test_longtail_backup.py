"""The long tail end to end: singer-io tap-pipedrive and airbyte-source-close-com from PyPI, each
installed by vaultkeeper into its own virtualenv, back up a local fake vendor API; a backup, a
verified drill and an emergency package follow, every one showing the counts as unverified
(neither protocol reports a total), and the drilled mirror holds exactly the records the API
holds, the relations of the configured relation map and archived records where the source says
so."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import orjson
import pytest
from vk_backup import vk, vk_json
from vk_longtail import AIRBYTE, SINGER, airbyte_config, singer_config, token_env
from vk_thirdparty import connector_venvs
from vk_vendor_apis import CloseAPI, PipedriveAPI

# The first run installs the packages from PyPI (minutes); later runs reuse the venvs.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


@pytest.fixture(scope="module")
def connectors() -> Path:
    return connector_venvs(SINGER, AIRBYTE)


def _mirror(root: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{root / 'state' / 'mirror' / 'mirror.db'}?mode=ro", uri=True)


def _records(db: sqlite3.Connection, name: str) -> list[dict]:
    rows = db.execute(f'SELECT _raw FROM "{name}"').fetchall()
    return sorted((orjson.loads(raw) for (raw,) in rows), key=lambda r: r["id"])


def _pairs(db: sqlite3.Connection, stem: str, kind: str) -> list[tuple[str, str]]:
    return sorted(db.execute(f'SELECT from_id, to_id FROM "rel_{stem}" WHERE type = ?',
                             (kind,)).fetchall())


def _backup_drill_package(config: Path, root: Path, objects: list[str]) -> None:
    """locations init, backup, status, drill and emergency package: all succeed and every one
    shows ``objects``' counts as unverified; the drilled mirror is left for the caller."""
    env = token_env()
    init = vk(config, "locations", "init", env=env)
    assert init.returncode == 0, init.stderr
    backup = vk_json(config, "backup", env=env, timeout=600)
    assert backup["status"] == "ok" and backup["export_status"] == "complete"
    assert sorted(backup["unverified_counts"]) == sorted(objects)
    text = vk(config, "status", env=env)
    assert "Counts unverified" in text.stdout and all(o in text.stdout for o in objects)
    drill = vk_json(config, "drill", env=env, timeout=600)
    assert drill["result"] == "verified", drill["failures"]
    assert {r["object"]: r["count_verified"] for r in drill["objects"]} == \
        dict.fromkeys(objects, False)
    assert sorted(drill["export"]["unverified_counts"]) == sorted(objects)
    assert any(w.startswith("counts unverified") for w in drill["warnings"])
    assert all(r["ok"] and r["endpoints_checked"] for r in drill["relations"])
    package = root / "package"
    built = vk(config, "emergency", "--out", str(package), env=env, timeout=900)
    assert built.returncode == 0, built.stderr[-3000:]
    inventory = json.loads((package / "package.json").read_text())
    assert {n: o["count_verified"] for n, o in inventory["objects"].items()} == \
        dict.fromkeys(objects, False)
    assert any(w.startswith("counts unverified") for w in inventory["warnings"])
    assert "counts unverified" in (package / "RUNBOOK.md").read_text()
    exported = json.loads((package / "export-manifest.json").read_text())
    assert sorted(exported["unverified_counts"]) == sorted(objects)


def test_singer_tap_pipedrive_backup_drill_package(connectors, tmp_path):
    with PipedriveAPI() as api:
        config = singer_config(tmp_path, connectors, api)
        _backup_drill_package(config, tmp_path, ["deals", "persons", "organizations"])
    world = api.world
    with _mirror(tmp_path) as db:
        assert _records(db, "deals") == world.v2("deals")
        assert _records(db, "persons") == world.v2("persons")
        assert _records(db, "organizations") == world.v2("orgs")
        # The deleted deal (status "deleted") is archived, per [source.archived].
        assert db.execute('SELECT id FROM deals WHERE _archived = 1').fetchall() == \
            [(str(world.deals[-1]["id"]),)]
        assert db.execute('SELECT count(*) FROM persons WHERE _archived = 1').fetchone() == (0,)
        for field, target in (("person_id", "persons"), ("org_id", "organizations")):
            assert _pairs(db, f"deals__{target}", field) == \
                sorted((str(d["id"]), str(d[field])) for d in world.deals)


def test_airbyte_close_com_backup_drill_package(connectors, tmp_path):
    with CloseAPI() as api:
        config = airbyte_config(tmp_path, connectors, api)
        _backup_drill_package(config, tmp_path, ["leads", "contacts", "opportunities"])
    world = api.world
    with _mirror(tmp_path) as db:
        for name in ("leads", "contacts", "opportunities"):
            assert _records(db, name) == getattr(world, name)
        assert _pairs(db, "opportunities__contacts", "contact_id") == \
            sorted((o["id"], o["contact_id"]) for o in world.opportunities)
        assert _pairs(db, "opportunities__leads", "lead_id") == \
            sorted((o["id"], o["lead_id"]) for o in world.opportunities)
        assert _pairs(db, "contacts__leads", "lead_id") == \
            sorted((c["id"], c["lead_id"]) for c in world.contacts)
