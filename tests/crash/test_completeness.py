"""Completeness by distinct ids, and hostile source data that must not stop a backup.

The sandbox's ``repeat`` fault makes page 2 of every HubSpot list start with page 1's last
record while one record is never listed: as many lines as the source reports, one id short.
Its ``bad_utf8`` fault puts bytes that are not UTF-8 into one record of every object.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from vk_backup import make_config, vk, vk_json


def _config(tmp_path: Path, faults: str) -> Path:
    config = make_config(tmp_path, records=300, locations=[("nas", str(tmp_path / "nas"))])
    text = config.read_text().replace("seed = 3\n", f'seed = 3\nfaults = "{faults}"\n', 1)
    config.write_text(text)
    assert vk(config, "locations", "init").returncode == 0
    return config


def test_repeated_record_hides_a_missing_one_and_is_incomplete(tmp_path: Path) -> None:
    """Before: 300 lines = 300 reported → "complete", exit 0. Now: 299 distinct ids → exit 3,
    the problem names the object, and the duplicate is a finding in the manifest."""
    config = _config(tmp_path, "repeat")
    out = tmp_path / "export"
    done = vk(config, "export", "--out", str(out), "--json")
    assert done.returncode == 3, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    contacts = manifest["objects"]["contacts"]
    assert contacts["duplicates"] == 1
    assert contacts["distinct_ids"]["live"] == contacts["live"] - 1
    assert any("contacts" in p and "distinct" in p for p in manifest["problems"])
    assert any("contacts" in f and "twice" in f for f in manifest["findings"])
    report = vk_json(config, "backup", ok=(3,))
    assert report["export_status"] == "incomplete" and report["status"] == "partial"


def test_clean_source_stays_complete(tmp_path: Path) -> None:
    """No fault: distinct ids equal the source's counts (and the re-count agrees)."""
    config = _config(tmp_path, "none")
    out = tmp_path / "export"
    done = vk(config, "export", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    for name, entry in manifest["objects"].items():
        assert entry["duplicates"] == 0, name
        assert entry["distinct_ids"]["live"] == entry["live"], name
        if entry["source_count"] is None:   # owners, pipelines: HubSpot reports no count
            assert entry["recount"] is None, name
            continue
        assert entry["recount"]["live"] == entry["source_count"]["live"], name
    assert manifest["findings"] == []


def test_invalid_utf8_record_is_quarantined_and_the_rest_backed_up(tmp_path: Path) -> None:
    """Before: the whole backup failed with exit 6 ("check the base URL"), no snapshot. Now:
    the record is quarantined raw (its bad bytes recoverable), every other record is in the
    snapshot, exit 3."""
    config = _config(tmp_path, "bad_utf8")
    report = vk_json(config, "backup", "--no-prune", ok=(3,))
    assert report["snapshot_id"], report
    assert report["export_status"] == "incomplete"
    assert any("could not be parsed" in p for p in report["problems"])
    env = {"RESTIC_PASSWORD_FILE": str(tmp_path / "secrets" / "repository.key"),
           "RESTIC_REPOSITORY": str(tmp_path / "nas"), "PATH": "/usr/bin:/bin"}
    dumped = subprocess.run(["restic", "dump", "latest", "/quarantine/contacts.ndjson"],
                            env=env, capture_output=True, check=True).stdout
    entry = json.loads(dumped.splitlines()[0])
    assert "not valid UTF-8" in entry["reason"]
    raw = json.loads(entry["raw"])
    assert raw["properties"]["vk_note"].encode("utf-8", "surrogateescape").endswith(b"\xff\xfe")
    manifest = json.loads(subprocess.run(["restic", "dump", "latest", "/manifest.json"],
                                         env=env, capture_output=True, check=True).stdout)
    contacts = manifest["objects"]["contacts"]
    assert contacts["quarantined"] == 1
    assert contacts["live"] + 1 == contacts["source_count"]["live"]
