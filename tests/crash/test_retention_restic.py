"""Real restic: a red day of hourly priority backups must not rotate the newest whole export
away (restic ``backup --time`` makes the snapshots of the simulated day)."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from vk_backup import FAKE_SECRET, make_config

from vaultkeeper.config import load_settings
from vaultkeeper.restic import Restic
from vaultkeeper.services.retention import apply_retention
from vaultkeeper.storage.locations import resolve_locations

DEFAULT_POLICIES = Path(__file__).resolve().parents[2] / "policies"


def _backup_at(env: dict[str, str], data: Path, when: datetime, tags: list[str]) -> None:
    args = ["restic", "backup", "-q", "--host", "vaultkeeper",
            "--time", when.strftime("%Y-%m-%d %H:%M:%S")]
    for tag in tags:
        args += ["--tag", tag]
    subprocess.run([*args, "."], env=env, cwd=data, check=True, capture_output=True)


def test_red_day_in_real_restic_keeps_newest_whole_export(tmp_path: Path) -> None:
    """Real restic, default policy: three days of whole exports, then a red day of 25 hourly
    priority backups. Before the fix `forget --group-by host` rotated the newest whole export
    (no drill yet) away; now it stays, and the priority group is pruned on its own."""
    repo = tmp_path / "loc" / "nas"
    config = make_config(tmp_path, locations=[("nas", str(repo))])
    (tmp_path / "policies").mkdir()
    for item in DEFAULT_POLICIES.glob("*.toml"):
        (tmp_path / "policies" / item.name).write_text(item.read_text())
    settings = load_settings(config, env={})
    env = dict(os.environ, RESTIC_PASSWORD=FAKE_SECRET, RESTIC_REPOSITORY=str(repo))
    subprocess.run(["restic", "init"], env=env, check=True, capture_output=True)
    data = tmp_path / "data"
    data.mkdir()
    base = datetime(2026, 3, 2, 2, 0)
    for day in range(3):
        (data / "x.ndjson").write_text(f"day {day}\n")
        _backup_at(env, data, base + timedelta(days=day),
                   ["vaultkeeper", f"manifest:{day:016x}"])
    for hour in range(1, 26):
        (data / "x.ndjson").write_text(f"hour {hour}\n")
        _backup_at(env, data, base + timedelta(days=2, hours=hour),
                   ["vaultkeeper", f"manifest:{100 + hour:016x}", "scope:priority"])
    outcomes = apply_retention(settings)
    assert [o.action for o in outcomes] == ["pruned"], outcomes
    assert settings.repository_password is not None
    left = Restic(resolve_locations(settings)[0], settings.repository_password).snapshots()
    whole = sorted(s.time.replace(tzinfo=None) for s in left if "scope:priority" not in s.tags)
    assert whole and whole[-1] == base + timedelta(days=2), whole
    assert len(whole) == 3
    priority = [s for s in left if "scope:priority" in s.tags]
    assert len(priority) == 24   # hourly = 24 in their own group
