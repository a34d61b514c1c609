"""`vaultkeeper emergency` end to end: backups with the real restic, drills table, --fresh,
--encrypt-to with the Debian `age` tool."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import sqlite_utils
from vk_backup import FAKE_SECRET, make_config, vk, vk_json


def _backup(tmp_path: Path, records: int = 300) -> Path:
    config = make_config(tmp_path, records=records)
    assert vk(config, "locations", "init").returncode == 0
    assert vk_json(config, "backup")["status"] == "ok"
    return config


def _record_drill(state: Path, snapshot_id: str) -> None:
    db = sqlite_utils.Database(state / "state.db")
    db["drills"].insert({"id": 1, "started_at": "2026-01-01T00:00:00+00:00",
                         "finished_at": "2026-01-01T00:05:00+00:00", "location": "disk",
                         "snapshot_id": snapshot_id, "short_id": snapshot_id[:8],
                         "snapshot_time": "2026-01-01T00:00:00+00:00", "result": "verified",
                         "report": "{}"}, pk="id")


def test_without_a_drill_it_uses_the_newest_snapshot_and_says_so(tmp_path):
    config = _backup(tmp_path)
    out = tmp_path / "package"
    result = vk(config, "emergency", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert "NO RESTORE DRILL HAS VERIFIED" in result.stderr
    assert data["source"]["kind"] == "snapshot" and data["source"]["drill"] is None
    assert "WARNING" in (out / "RUNBOOK.md").read_text()
    assert data["counts"]["contacts"] == 300 and data["valid"]
    manifest = json.loads((out / "export-manifest.json").read_text())
    assert {k: v["count"] for k, v in manifest["objects"].items()} == data["counts"]
    check = vk(config, "emergency", "verify", str(out), "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout)["ok"]
    # no plaintext left behind in the state folder, no secret anywhere
    assert not list((tmp_path / ".vaultkeeper").glob("emergency-*"))
    assert FAKE_SECRET not in result.stdout + result.stderr
    # a second package never overwrites the first
    again = vk(config, "emergency", "--out", str(out))
    assert again.returncode == 2 and "not an empty folder" in again.stderr
    # what a killed run leaves (data, no package.json) is named as such, and kept for the user
    half = tmp_path / "half"
    shutil.copytree(out / "data", half / "data")
    stopped = vk(config, "emergency", "--out", str(half))
    assert stopped.returncode == 2 and "half-written" in stopped.stderr, stopped.stderr
    assert "delete that folder" in stopped.stderr and (half / "data").is_dir()


def test_the_drilled_snapshot_wins_over_a_newer_one(tmp_path):
    config = _backup(tmp_path, records=200)
    first = vk_json(config, "snapshots")["snapshots"][0]["id"]
    _record_drill(tmp_path / ".vaultkeeper", first)
    config = make_config(tmp_path, records=250)   # the CRM grew; a newer snapshot
    assert vk_json(config, "backup")["status"] == "ok"
    out = tmp_path / "package"
    data = vk_json(config, "emergency", "--out", str(out), "--target", "salesforce")
    assert data["source"]["snapshot_id"] == first and data["source"]["drill"]["result"] == \
        "verified"
    assert data["counts"]["contacts"] == 200
    assert "passed a restore drill" in (out / "RUNBOOK.md").read_text()
    assert (out / "import" / "salesforce" / "Contact.csv").is_file()
    newest = vk_json(config, "snapshots")["snapshots"][-1]["short_id"]
    explicit = vk_json(config, "emergency", "--out", str(tmp_path / "p2"), "--from", newest)
    assert explicit["counts"]["contacts"] == 250


def test_fresh_export_first_then_fallback_to_the_snapshot(tmp_path):
    config = _backup(tmp_path, records=150)
    fresh = vk_json(config, "emergency", "--out", str(tmp_path / "fresh"), "--fresh")
    assert fresh["source"]["kind"] == "fresh-export"
    # the vendor stops answering: a HubSpot source on a closed port
    text = config.read_text().replace('connector = "sandbox"', 'connector = "hubspot"\n'
                                      'base_url = "http://127.0.0.1:9"\n'
                                      'token = { env = "VK_TEST_TOKEN" }\nmax_retries = 0\n'
                                      'timeout = 2')
    config.write_text(text)
    result = vk(config, "emergency", "--out", str(tmp_path / "fallback"), "--fresh", "--json",
                env={"VK_TEST_TOKEN": "x"})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["source"]["kind"] == "snapshot"
    assert "fresh export failed" in result.stderr
    assert "fresh export was tried first and failed" in (
        tmp_path / "fallback" / "RUNBOOK.md").read_text()


def test_encrypted_package_opens_with_the_age_tool(tmp_path):
    config = _backup(tmp_path, records=120)
    key = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    recipient = next(ln.split(": ")[1] for ln in key.read_text().splitlines()
                     if ln.startswith("# public key"))
    out = tmp_path / "sealed"
    data = vk_json(config, "emergency", "--out", str(out), "--encrypt-to", recipient)
    archive = Path(data["archive"])
    assert sorted(p.name for p in out.iterdir()) == [
        "README.txt", "emergency-package.tar.gz.age", "signing-key.pub"]
    assert b"contacts" not in archive.read_bytes()
    opened = tmp_path / "opened"
    opened.mkdir()
    decrypt = subprocess.run(f"age -d -i {key} {archive} | tar xz -C {opened}", shell=True,
                             capture_output=True, text=True)
    assert decrypt.returncode == 0, decrypt.stderr
    check = vk(config, "emergency", "verify", str(opened / "emergency-package"))
    assert check.returncode == 0, check.stderr
    bad = vk(config, "emergency", "--out", str(tmp_path / "x"), "--encrypt-to", "nobody")
    assert bad.returncode == 2 and "not an age recipient" in bad.stderr
