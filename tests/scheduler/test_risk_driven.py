"""Vendor risk steers `vaultkeeper run`: red tightens the schedule, runs the level's immediate
jobs (backup, drill) and the hourly backup of the top-priority objects, alerts; green relaxes."""

from __future__ import annotations

import signal
import time

from receivers import alerts_section, webhook
from vk_backup import make_config, vk, vk_json
from vk_daemon import _job_runs, _start, _wait


def _log(root) -> str:
    path = root / ".vaultkeeper" / "logs" / "run.log"
    return path.read_text() if path.exists() else ""


def test_red_tightens_runs_immediate_actions_and_green_relaxes(tmp_path):
    with webhook() as hook:
        config = make_config(
            tmp_path, records=200,
            extra='[schedule]\nbackup = "every 1 hours"\ndrill = "every monday at 06:00"\n\n'
                  + alerts_section(hook, None))
        assert vk(config, "locations", "init").returncode == 0
        served = vk(config, "run", "--job", "backup", "--job", "drill", timeout=300)
        assert served.returncode == 0, served.stderr
        daemon = _start(config, tmp_path)
        try:
            _wait(lambda: "backup (every 1 hours): next run" in _log(tmp_path), what="start")
            time.sleep(1.5)
            assert len(_job_runs(tmp_path)) == 2            # nothing due: nothing ran
            record = vk(config, "risk", "record", "insolvency_notice", "yes",
                        "--source", "court register", "--note", "test")
            assert record.returncode == 0, record.stderr
            _wait(lambda: any(r[0] == "priority_backup" and r[1] == "ok"
                              for r in _job_runs(tmp_path)), what="the priority backup")
            _wait(lambda: [r for r in _job_runs(tmp_path) if r[:3] == ("emergency", "ok",
                           "risk level red")] and hook.events(), what="immediate actions")
            log = _log(tmp_path)
            assert "risk level green → red" in log
            assert "schedule changed (risk level red: backup every 1 hours → every 15 minutes" \
                in log
            immediate = [r for r in _job_runs(tmp_path) if r[2] == "risk level red"]
            assert [r[0] for r in immediate] == ["backup", "drill", "emergency"]
            assert all(r[1] == "ok" for r in immediate), immediate
            packages = list((tmp_path / ".vaultkeeper" / "emergency").iterdir())
            assert len(packages) == 1 and (packages[0] / "datapackage.json").is_file()
            status = vk_json(config, "status")
            assert status["risk"]["level"] == "red"
            plan = {j["job"]: j["phrase"] for j in status["scheduler"]["jobs"]}
            assert plan["backup"] == "every 15 minutes"
            assert plan["priority_backup"] == "every hour"
            assert plan["drill"] == "every day at 06:00"
            alert = next(p for p in hook.posts if p["event"] == "risk_level")
            assert alert["subject"].startswith("Vendor risk is red")

            # The notice was a mistake: green again, the schedule relaxes, nothing else runs.
            before = len(_job_runs(tmp_path))
            assert vk(config, "risk", "record", "insolvency_notice", "no").returncode == 0
            _wait(lambda: "risk level red → green" in _log(tmp_path), what="green")
            _wait(lambda: "backup: every 15 minutes → every 1 hours" in _log(tmp_path),
                  what="the relaxed schedule")
            plan = {j["job"]: j["phrase"] for j in vk_json(config, "status")["scheduler"]["jobs"]}
            assert plan["backup"] == "every 1 hours" and "priority_backup" not in plan
            assert "recovered" in hook.events()
            time.sleep(1.5)
            assert len([r for r in _job_runs(tmp_path)[before:] if r[0] != "risk"]) == 0
        finally:
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=120) == 0
    # The priority snapshot holds only the top-priority objects, tagged; no mass deletion.
    runs = vk_json(config, "snapshots")
    tags = [s["tags"] for s in runs["snapshots"]]
    assert any("scope:priority" in t for t in tags)
    assert vk_json(config, "status")["unacknowledged_flags"] == []
