"""The long tail end to end: singer-io tap-pipedrive and airbyte-source-close-com from PyPI, each
installed by vaultkeeper into its own virtualenv, back up a local fake vendor API; the export
holds exactly the records the API holds, relations from the configured relation map and
archived records where the source says so; a backup, a verified drill and an emergency package
follow, every one showing the counts as unverified (neither protocol reports a total)."""

from __future__ import annotations

import json
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


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]


def _export(config: Path, out: Path) -> dict:
    done = vk(config, "export", "--out", str(out), env=token_env(), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "unverified" in done.stdout   # the table says so for every object
    return json.loads((out / "manifest.json").read_text())


def _backup_drill_package(config: Path, root: Path, objects: list[str]) -> None:
    env = token_env()
    init = vk(config, "locations", "init", env=env)
    assert init.returncode == 0, init.stderr
    backup = vk_json(config, "backup", env=env, timeout=600)
    assert backup["status"] == "ok" and backup["export_status"] == "complete"
    assert sorted(backup["unverified_counts"]) == sorted(objects)
    status = vk_json(config, "status", env=env)
    assert sorted(status["unverified_counts"]) == sorted(objects)
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


def test_singer_tap_pipedrive_backup_drill_package(connectors, tmp_path):
    with PipedriveAPI() as api:
        config = singer_config(tmp_path, connectors, api)
        manifest = _export(config, tmp_path / "export")
        world = api.world
        truth = {"deals": world.v2("deals"), "persons": world.v2("persons"),
                 "organizations": world.v2("orgs")}
        for name, rows in truth.items():
            got = _lines(tmp_path / "export" / "objects" / f"{name}.ndjson")
            assert sorted(got, key=lambda r: r["id"]) == rows
            assert manifest["objects"][name]["count_verified"] is False
            assert manifest["objects"][name]["source_count"] is None
        # The deleted deal (status "deleted") is archived, per [source.archived].
        assert manifest["objects"]["deals"]["archived"] == 1
        assert manifest["objects"]["persons"]["archived"] == 0
        for field, target in (("person_id", "persons"), ("org_id", "organizations")):
            rel = _lines(tmp_path / "export" / "relations" / f"deals__{target}.ndjson")
            assert sorted((r["from_id"], r["to_id"]) for r in rel if r["type"] == field) == \
                sorted((str(d["id"]), str(d[field])) for d in world.v2("deals"))
        assert sorted(manifest["unverified_counts"]) == ["deals", "organizations", "persons"]
        assert manifest["source"]["package"] == SINGER
        _backup_drill_package(config, tmp_path, ["deals", "persons", "organizations"])


def test_airbyte_close_com_backup_drill_package(connectors, tmp_path):
    with CloseAPI() as api:
        config = airbyte_config(tmp_path, connectors, api)
        manifest = _export(config, tmp_path / "export")
        for name in ("leads", "contacts", "opportunities"):
            got = _lines(tmp_path / "export" / "objects" / f"{name}.ndjson")
            assert sorted(got, key=lambda r: r["id"]) == getattr(api.world, name)
        rel = _lines(tmp_path / "export" / "relations" / "opportunities__contacts.ndjson")
        assert sorted((r["from_id"], r["to_id"]) for r in rel) == \
            sorted((o["id"], o["contact_id"]) for o in api.world.opportunities)
        assert manifest["relations"]["contacts__leads"]["count"] == len(api.world.contacts)
        assert sorted(manifest["unverified_counts"]) == ["contacts", "leads", "opportunities"]
        _backup_drill_package(config, tmp_path, ["leads", "contacts", "opportunities"])
