"""The scheduler refreshes the escrow deposit on `[escrow] refresh` and alerts when it is stale."""

from __future__ import annotations

import sqlite3

from receivers import alerts_section, webhook
from vk_backup import make_config, vk, vk_json
from vk_daemon import _job_runs


def test_escrow_deposit_job_and_stale_alert(tmp_path):
    key = tmp_path / "escrow.key"
    key.write_text("escrow-agent-password-for-tests\n")
    key.chmod(0o600)
    with webhook() as hook:
        config = make_config(
            tmp_path, records=30, locations=[("nas", str(tmp_path / "loc" / "nas"))],
            extra='[schedule]\nbackup = "every day at 02:00"\n\n'
                  f'[escrow]\nurl = "{tmp_path / "agent" / "escrow"}"\nrefresh = "30d"\n'
                  f'escrow_password = {{ file = "{key}" }}\n\n' + alerts_section(hook, None))
        assert vk(config, "locations", "init").returncode == 0
        assert vk(config, "run", "--job", "backup", "--job", "drill", timeout=300).returncode == 0
        plan = {j["job"]: j for j in vk_json(config, "status")["scheduler"]["jobs"]}
        assert plan["escrow"]["phrase"] == "every 30 days"
        # Never deposited: the scheduler deposits at once, and the deposit is fresh (no alert).
        first = vk(config, "run", "--once", timeout=600)
        assert first.returncode == 0, first.stderr
        assert ("escrow", "ok", "scheduled") in _job_runs(tmp_path)
        assert (tmp_path / "agent" / "escrow-kit" / "inventory.json").is_file()
        assert hook.events() == []
        # Forty days later (the job's own clock says it ran recently): one stale alert.
        db = sqlite3.connect(tmp_path / ".vaultkeeper" / "state.db")
        db.execute("update escrow_deposits set created_at = "
                   "datetime('now', '-40 days') || '+00:00'")
        db.commit()
        db.close()
        again = vk(config, "run", "--once", timeout=300)
        assert again.returncode == 0, again.stderr
        assert len(_job_runs(tmp_path, "escrow")) == 1
        assert hook.events() == ["escrow_stale"]
        assert "40 days old" in hook.posts[0]["subject"]
