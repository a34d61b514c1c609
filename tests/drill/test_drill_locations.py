"""Drills of a real backup in every kind of location: local, S3 (rclone serve s3) and REST
(rclone serve restic); the default rotates to the location drilled least recently."""

from __future__ import annotations

import json

from servers import free_port, rclone_restic, rclone_s3
from vk_backup import FAKE_SECRET, make_config, vk, vk_json

KEY, SECRET = "vk-drill-access", "vk-drill-" + FAKE_SECRET


def test_drill_passes_in_local_s3_and_rest_and_rotates(tmp_path):
    s3_port, rest_port = free_port(), free_port()
    (tmp_path / "s3" / "crm-backup").mkdir(parents=True)
    env = {"VK_S3_KEY": KEY, "VK_S3_SECRET": SECRET}
    s3_url = f"s3:http://127.0.0.1:{s3_port}/crm-backup/vaultkeeper"
    config = make_config(tmp_path, locations=[
        ("nas", str(tmp_path / "loc" / "nas")), ("offsite", s3_url),
        ("rest", f"rest:http://127.0.0.1:{rest_port}/repo/")])
    config.write_text(config.read_text().replace(
        f'url = "{s3_url}"\n', f'url = "{s3_url}"\naccess_key = {{ env = "VK_S3_KEY" }}\n'
        'secret_key = { env = "VK_S3_SECRET" }\n'))
    outputs = []
    with rclone_restic(tmp_path / "rest", rest_port), \
            rclone_s3(tmp_path / "s3", s3_port, KEY, SECRET):
        assert vk(config, "locations", "init", env=env).returncode == 0
        backup = vk_json(config, "backup", env=env)
        assert backup["status"] == "ok"
        drilled = []
        for _ in range(3):  # no --location: least recently drilled first, in config order
            result = vk(config, "drill", "--json", env=env)
            outputs.append(result.stdout + result.stderr)
            assert result.returncode == 0, result.stderr
            report = json.loads(result.stdout)
            assert report["result"] == "verified", report["failures"]
            assert report["snapshot_id"] == backup["snapshot_id"]
            assert {o["object"]: o["restored"] for o in report["objects"]}["contacts"] == 300
            assert all(o["digest_ok"] and o["schema_ok"] for o in report["objects"])
            assert all(r["dangling_from"] == r["dangling_to"] == 0 for r in report["relations"])
            assert set(report["durations"]) >= {"check_s", "restore_s", "load_s", "total_s"}
            drilled.append(report["location"])
        assert drilled == ["nas", "offsite", "rest"]
        again = vk_json(config, "drill", env=env)
        assert again["location"] == "nas"
        history = vk_json(config, "drill", "history", env=env)
        assert [h["location"] for h in history] == ["nas", "rest", "offsite", "nas"]
        assert all(h["result"] == "verified" and len(h["snapshot_id"]) == 64 for h in history)
    rows = vk_json(config, "mirror", "query", "select count(*) as n from contacts")
    assert rows == [{"n": 300}]
    bad = vk_json(config, "mirror", "query", "select * from no_such_table", ok=(2,))
    assert "SQL error" in bad["error"] and "no such table" in bad["error"]
    assert vk(config, "mirror", "path").stdout.strip().endswith("mirror/mirror.db")
    # Plaintext only in the private staging folder, gone afterwards; no secret printed.
    assert not list((tmp_path / ".vaultkeeper" / "drill-staging").glob("*"))
    assert all(SECRET not in o and FAKE_SECRET not in o for o in outputs)
