"""Backups with the real restic into local locations: copies, crash recovery, guard rails."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from vk_backup import FAKE_SECRET, make_config, vk, vk_json


def restic_check(repo, key):
    return subprocess.run(["restic", "-r", str(repo), "check"], capture_output=True, text=True,
                          env=dict(os.environ, RESTIC_PASSWORD_FILE=str(key)))


def test_backup_lands_everywhere_and_is_recorded(tmp_path):
    config = make_config(tmp_path)
    assert vk(config, "locations", "init").returncode == 0
    report = vk_json(config, "backup")
    assert report["status"] == "ok" and report["export_status"] == "complete"
    assert [(r["location"], r["role"], r["result"]) for r in report["locations"]] == [
        ("nas", "primary", "ok"), ("disk", "copy", "ok")]
    assert len(report["snapshot_id"]) == 64
    assert report["counts"]["contacts"] == 300
    matrix = vk_json(config, "snapshots")
    assert len(matrix["snapshots"]) == 1
    assert set(matrix["snapshots"][0]["locations"]) == {"nas", "disk"}
    status = vk_json(config, "status")
    assert [loc["state"] for loc in status["locations"]] == ["ok", "ok"]
    # Data, not JSON inside strings: scripts read counts and problems directly.
    assert status["last_run"]["counts"]["contacts"] == 300
    assert status["last_run"]["problems"] == [] and status["last_run"]["flagged"] is False
    assert not json_in_strings(status), json_in_strings(status)
    # Nothing plaintext left behind; the secret never printed.
    assert not list((tmp_path / ".vaultkeeper" / "staging").glob("run"))
    for result in (vk(config, "backup", "--json"), vk(config, "status")):
        assert FAKE_SECRET not in result.stdout + result.stderr


def test_kill_9_mid_backup_then_next_run_succeeds_and_cleans_up(tmp_path):
    config = make_config(tmp_path, records=20000)
    assert vk(config, "locations", "init").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "vaultkeeper", "--config", str(config),
                             "backup"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    staging = tmp_path / ".vaultkeeper" / "staging"
    deadline = time.monotonic() + 120
    while not list(staging.glob("run/export/objects/*")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(staging.glob("run")), "the kill should land while staging exists"
    report = vk_json(config, "backup")
    assert report["status"] == "ok"
    assert not list(staging.glob("run"))
    key = tmp_path / "secrets" / "repository.key"
    for name in ("nas", "disk"):
        check = restic_check(tmp_path / "loc" / name, key)
        assert check.returncode == 0, check.stderr
    runs = vk_json(config, "status")["last_run"]
    assert runs["status"] == "ok"


def test_sigterm_removes_staging(tmp_path):
    config = make_config(tmp_path, records=20000)
    assert vk(config, "locations", "init").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "vaultkeeper", "--config", str(config),
                             "backup"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    staging = tmp_path / ".vaultkeeper" / "staging"
    deadline = time.monotonic() + 120
    while not list(staging.glob("run/export/objects/*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert not list(staging.glob("run"))


def test_mass_deletion_flags_the_run_and_suspends_pruning(tmp_path):
    keep = '[keep]\nlast = 1\n'
    config = make_config(tmp_path, records=400, policies=keep)
    assert vk(config, "locations", "init").returncode == 0
    assert vk_json(config, "backup")["status"] == "ok"
    assert vk_json(config, "backup")["status"] == "ok"  # prunes to one snapshot
    config = make_config(tmp_path, records=200, policies=keep)  # half the CRM vanished
    flagged = vk_json(config, "backup", ok=(3,))
    assert flagged["flagged"] and "contacts 400 → 200" in flagged["flag_reason"]
    assert all(r["action"] == "skipped" and "suspended" in r["reason"]
               for r in flagged["retention"])
    # Pruning stays suspended on the next run: the good copies survive.
    again = vk_json(config, "backup", ok=(0, 3))
    assert all(r["action"] == "skipped" for r in again["retention"])
    matrix = vk_json(config, "snapshots")
    assert len(matrix["snapshots"]) >= 3
    status = vk_json(config, "status")
    assert [f["id"] for f in status["unacknowledged_flags"]] == [flagged["run_id"]]
    ack = vk(config, "backup", "acknowledge", str(flagged["run_id"]), "--by", "treasurer")
    assert ack.returncode == 0, ack.stderr
    after = vk_json(config, "backup")
    assert all(r["action"] == "pruned" for r in after["retention"])
    assert len(vk_json(config, "snapshots")["snapshots"]) == 1


def test_retention_applies_policy_but_never_on_append_only(tmp_path):
    config = make_config(tmp_path, policies='[keep]\nlast = 2\n', extra="")
    text = config.read_text().replace('name = "disk"\n', 'name = "disk"\nappend_only = true\n')
    config.write_text(text)
    assert vk(config, "locations", "init").returncode == 0
    for _ in range(4):
        assert vk_json(config, "backup")["status"] == "ok"
    matrix = vk_json(config, "snapshots")
    held = {name: sum(name in s["locations"] for s in matrix["snapshots"])
            for name in ("nas", "disk")}
    assert held == {"nas": 2, "disk": 4}


def json_in_strings(value, path="$"):
    """Paths of string values that are themselves JSON objects or arrays."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in json_in_strings(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in json_in_strings(v, f"{path}[{i}]")]
    if isinstance(value, str) and value[:1] in "[{":
        try:
            json.loads(value)
        except ValueError:
            return []
        return [path]
    return []


def test_wrong_password_fails_before_the_export(tmp_path):
    """The repositories are opened first: a wrong password costs seconds, not a whole export."""
    config = make_config(tmp_path)
    assert vk(config, "locations", "init").returncode == 0
    key = tmp_path / "secrets" / "repository.key"
    key.write_text("not-the-password\n")
    result = vk(config, "backup", "--json")
    assert result.returncode == 7, result.stderr
    data = json.loads(result.stdout)
    assert "nothing was exported" in data["error"] and "wrong password" in data["error"]
    last = vk_json(config, "status")["last_run"]
    assert last["status"] == "failed" and last["export_status"] == "" and last["counts"] == {}
