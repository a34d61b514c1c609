"""`config check --online` catches at set-up what would fail at night: a repository the
password does not open, a location that is not there (exit 7, one line per location)."""

from __future__ import annotations

import json

from vk_backup import make_config, vk


def test_online_check_opens_every_repository(tmp_path) -> None:
    config = make_config(tmp_path, records=50)
    assert vk(config, "locations", "init").returncode == 0
    good = vk(config, "config", "check", "--online", "--json")
    assert good.returncode == 0, good.stderr
    data = json.loads(good.stdout)
    assert data["ok"] is True
    assert [(r["location"], r["repository"]) for r in data["locations"]] == [
        ("nas", "ok"), ("disk", "ok")]
    # The offline check passes a wrong password: `config check` alone cannot see it.
    (tmp_path / "secrets" / "repository.key").write_text("a-wrong-password\n")
    assert vk(config, "config", "check").returncode == 0
    bad = vk(config, "config", "check", "--online")
    assert bad.returncode == 7, bad.stderr
    assert bad.stdout.count("wrong password") == 2
    data = json.loads(vk(config, "config", "check", "--online", "--json").stdout)
    assert data["ok"] is False and data["exit_code"] == 7
