"""`vaultkeeper run` end to end: real restic, the sandbox, a fast cadence, a local webhook and a
local SMTP server; restarts, catch-up, SIGTERM, the single-instance lock."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from pathlib import Path

from receivers import alerts_section, smtp_server, webhook
from servers import free_port
from vk_backup import FAKE_SECRET, make_config, vk, vk_json
from vk_daemon import _job_runs, _start, _wait, far_hour


def _rewrite(config: Path, schedule: str) -> None:
    text = config.read_text()
    head, _, tail = text.partition("[schedule]\n")
    rest = tail.split("\n\n", 1)[1] if "\n\n" in tail else ""
    config.write_text(f"{head}[schedule]\n{schedule}\n\n{rest}")


def test_run_schedules_alerts_survives_restart_and_catches_up_once(tmp_path):
    check = f'check = "every day at {far_hour()}"'
    dead = free_port()   # nothing listens: the REST location fails, the run is partial
    pw = tmp_path / "smtp.pass"
    pw.write_text(FAKE_SECRET + "-smtp\n")
    pw.chmod(0o600)
    with webhook() as hook, smtp_server(tmp_path, user="vk", password=FAKE_SECRET + "-smtp") \
            as box:
        config = make_config(
            tmp_path, records=200,
            locations=[("nas", str(tmp_path / "loc" / "nas")),
                       ("offsite", f"rest:http://127.0.0.1:{dead}/")],
            extra=f'[schedule]\nbackup = "every 3 seconds"\n{check}\n\n'
                  + alerts_section(hook, box, password_file=pw))
        vk(config, "locations", "init")            # offsite fails: that is the point
        daemon = _start(config, tmp_path)
        try:
            _wait(lambda: len([r for r in _job_runs(tmp_path, "backup") if r[1] == "partial"])
                  >= 3, what="three partial backups")
            _wait(lambda: len(box.messages) >= 1, what="the alert e-mail")
            # While it runs: status names it, and a second scheduler is refused.
            status = vk_json(config, "status")
            assert status["scheduler"]["running_pid"] == daemon.pid
            # Three open problems: the partial backups, the failed check and the failed
            # retention at the dead location (issue 12) — each alerted once.
            assert sorted(a["key"] for a in status["open_alerts"]) == [
                "backup:partial", "check:offsite", "retention:offsite"]
            second = vk(config, "run", timeout=300)   # bounds a hang
            assert second.returncode == 1
            assert f"vaultkeeper run is already running (pid {daemon.pid})" in second.stderr
        finally:
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=120)
        assert code == 0
        runs = _job_runs(tmp_path)
        assert ("check", "partial", "scheduled") in runs     # never ran: ran at start
        partial = [r for r in runs if r[:2] == ("backup", "partial")]
        assert len(partial) >= 3
        # One alert per open problem and channel — not one per run.
        assert sorted(hook.events()) == ["job_failed", "partial", "partial"]
        assert sorted(box.subjects()) == sorted(f"[vaultkeeper] {p['subject']}"
                                                for p in hook.posts)
        partial_alert = next(p for p in hook.posts if p["event"] == "partial"
                             and p["key"] == "backup:partial")
        assert "offsite" in partial_alert["detail"] and box.tls_sessions == 3
        assert not (tmp_path / ".vaultkeeper" / "staging").exists()

        # Restart with an hourly backup: everything ran moments ago, so nothing repeats.
        _rewrite(config, f'backup = "every 1 hours"\n{check}')
        before = _job_runs(tmp_path)
        again = vk(config, "run", "--once", timeout=120)
        assert again.returncode == 0, again.stderr
        assert _job_runs(tmp_path) == before
        assert "backup (every 1 hours): next run" in again.stderr
        assert "one interval after its last run" in again.stderr

        # Five hours of downtime: one catch-up backup, not five.
        db = sqlite3.connect(tmp_path / ".vaultkeeper" / "state.db")
        db.execute("update job_runs set started_at = datetime('now', '-5 hours') || '+00:00' "
                   "where job = 'backup'")
        db.commit()
        db.close()
        # Count every backup run so far — on a busy machine SIGTERM may have caught one in the
        # middle ("interrupted"), so "partial" runs alone undercount (a flaky 5 vs 4 before).
        backups = len(_job_runs(tmp_path, "backup"))
        caught = vk(config, "run", "--once", timeout=300)
        assert caught.returncode == 3, caught.stderr    # the catch-up run is partial too
        assert len(_job_runs(tmp_path, "backup")) == backups + 1
        assert _job_runs(tmp_path, "check") == [("check", "partial", "scheduled")]
        assert sorted(hook.events()) == ["job_failed", "partial", "partial"]   # still open

    log = (tmp_path / ".vaultkeeper" / "logs" / "run.log").read_text()
    assert "alert backup:partial (partial) via webhook: sent" in log
    assert "alert backup:partial (partial) via email: sent" in log
    everything = log + (tmp_path / "daemon.err").read_text() + caught.stderr + again.stderr
    assert FAKE_SECRET not in everything and "T0KEN-IN-PATH" not in everything
    assert oct((tmp_path / ".vaultkeeper" / "logs" / "run.log").stat().st_mode & 0o777) == "0o600"


def test_sigterm_mid_backup_cleans_up_and_the_run_is_caught_up(tmp_path):
    config = make_config(tmp_path, records=20000,
                         extra='[schedule]\nbackup = "every day at 02:00"\n')
    assert vk(config, "locations", "init").returncode == 0
    daemon = _start(config, tmp_path)
    staging = tmp_path / ".vaultkeeper" / "staging" / "run"
    _wait(lambda: staging.exists() and any(staging.rglob("*.ndjson")), what="the export")
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=120) == 0
    assert not (tmp_path / ".vaultkeeper" / "staging").exists()
    assert _job_runs(tmp_path) == [("backup", "interrupted", "scheduled")]
    # The interrupted run does not count: the next start catches it up, and it succeeds.
    done = vk(config, "run", "--once", timeout=600)
    assert done.returncode == 0, done.stderr
    assert "never ran: running now" in done.stderr
    assert _job_runs(tmp_path)[-1] == ("backup", "ok", "scheduled")
    key = tmp_path / "secrets" / "repository.key"
    for loc in ("nas", "disk"):
        check = subprocess.run(["restic", "-r", str(tmp_path / "loc" / loc), "check"],
                               capture_output=True, text=True,
                               env=dict(os.environ, RESTIC_PASSWORD_FILE=str(key)))
        assert check.returncode == 0, check.stderr


def test_stale_backup_alert_and_recovery(tmp_path):
    with webhook() as hook:
        config = make_config(tmp_path, records=100,
                             extra='[schedule]\nbackup = "every 6 hours"\n\n'
                                   + alerts_section(hook, None))
        assert vk(config, "locations", "init").returncode == 0
        assert vk(config, "run", "--job", "backup", timeout=300).returncode == 0
        assert _job_runs(tmp_path) == [("backup", "ok", "--job")]
        # The last good backups are three days old (the policy's tightest RPO is 1 day).
        db = sqlite3.connect(tmp_path / ".vaultkeeper" / "state.db")
        db.execute("update backup_locations set finished_at = "
                   "datetime('now', '-3 days') || '+00:00'")
        db.commit()
        db.close()
        quiet = vk(config, "run", "--once", timeout=120)    # nothing due: only housekeeping
        assert quiet.returncode == 0, quiet.stderr
        assert sorted(hook.events()) == ["backup_stale", "backup_stale"]
        assert {p["facts"]["location"] for p in hook.posts} == {"nas", "disk"}
        assert "72." in hook.posts[0]["subject"] and "RPO 24 h" in hook.posts[0]["subject"]
        assert vk_json(config, "status")["locations"][0]["state"] == "stale"
        # A fresh backup closes both problems with one "recovered" each.
        assert vk(config, "run", "--job", "backup", timeout=300).returncode == 0
        assert vk(config, "run", "--once", timeout=120).returncode == 0
        assert sorted(hook.events()) == ["backup_stale", "backup_stale", "recovered",
                                         "recovered"]
        assert vk_json(config, "status")["open_alerts"] == []


def test_mass_deletion_alert_then_acknowledge(tmp_path):
    with webhook() as hook:
        extra = '[schedule]\nbackup = "every day at 02:00"\n\n' + alerts_section(hook, None)
        config = make_config(tmp_path, records=300, extra=extra)
        assert vk(config, "locations", "init").returncode == 0
        assert vk(config, "run", "--job", "backup", timeout=300).returncode == 0
        # The CRM suddenly has a third of its contacts: flagged, alerted, pruning suspended.
        make_config(tmp_path, records=100, extra=extra)
        flagged = vk(config, "run", "--job", "backup", timeout=300)
        assert flagged.returncode == 3, flagged.stderr
        events = hook.events()
        assert "mass_deletion" in events and "partial" in events
        alert = next(p for p in hook.posts if p["event"] == "mass_deletion")
        assert "contacts 300 → 100" in alert["detail"]
        run_id = alert["facts"]["run"]
        assert f"vaultkeeper backup acknowledge {run_id}" in alert["detail"]
        assert "retention removed 0" in flagged.stderr
        assert vk(config, "backup", "acknowledge", str(run_id)).returncode == 0
        assert vk_json(config, "status")["unacknowledged_flags"] == []


def test_failed_drill_alerts_and_verified_drill_recovers(tmp_path):
    from vk_drill import flip_bytes_in_largest_pack

    with webhook() as hook:
        config = make_config(tmp_path, records=200, extra=alerts_section(hook, None))
        assert vk(config, "locations", "init").returncode == 0
        assert vk(config, "run", "--job", "backup", timeout=300).returncode == 0
        flip_bytes_in_largest_pack(tmp_path / "loc" / "nas")
        failed = vk(config, "run", "--job", "drill", timeout=300)
        assert failed.returncode == 1, failed.stderr
        assert hook.events() == ["drill_failed"]
        assert hook.posts[0]["facts"]["location"] == "nas"
        assert "nas" in hook.posts[0]["subject"]
        # The next drill rotates to the intact location: verified, its own key; nas stays open.
        assert vk(config, "run", "--job", "drill", timeout=300).returncode == 0
        assert [a["key"] for a in vk_json(config, "status")["open_alerts"]] == ["drill:nas"]


def test_run_once_stopped_mid_job_exits_130_not_0(tmp_path):
    """A cron wrapper around `run --once` must see that its job was interrupted."""
    config = make_config(tmp_path, records=20000,
                         extra=f'[schedule]\nbackup = "every day at {far_hour()}"\n')
    assert vk(config, "locations", "init").returncode == 0
    once = _start(config, tmp_path, "--once")   # the backup never ran: it runs now
    staging = tmp_path / ".vaultkeeper" / "staging" / "run"
    _wait(lambda: staging.exists() and any(staging.rglob("*.ndjson")), what="the export")
    once.send_signal(signal.SIGTERM)
    assert once.wait(timeout=300) == 130
    assert _job_runs(tmp_path) == [("backup", "interrupted", "scheduled")]
