"""`privacy status`: age-out dates. restic's keep rules as simulated here are checked against the
real restic (`forget --dry-run` on snapshots with chosen times); then the date for a given
retention policy and Object Lock period, append-only locations never age out, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vk_backup import FAKE_SECRET, make_config, vk

from vaultkeeper.config import Secret
from vaultkeeper.restic import Restic
from vaultkeeper.services.privacy.status import age_out, backup_interval, forget_date, kept
from vaultkeeper.storage.locations import Location

NOW = datetime(2026, 6, 10, 2, 0, tzinfo=UTC)


def test_keep_rules_match_real_restic(tmp_path: Path) -> None:
    repo, data = tmp_path / "repo", tmp_path / "data"
    data.mkdir()
    (data / "f").write_text("x")
    key = tmp_path / "pw"
    key.write_text(FAKE_SECRET)
    env = {**os.environ, "RESTIC_REPOSITORY": str(repo), "RESTIC_PASSWORD_FILE": str(key),
           "TZ": "UTC"}
    subprocess.run(["restic", "init", "-q"], env=env, check=True, capture_output=True)
    # Irregular times over ~15 months: several a day, gaps, month and year ends.
    times = sorted({datetime(2025, 3, 1, 2, tzinfo=UTC) + timedelta(hours=h)
                    for h in [0, 5, 30, 31, 200, 700, 1500, 2900, 4000, 5100, 6000, 7300,
                              7301, 7330, 8000, 8500, 9000, 9600, 9601, 9650, 9700, 10000,
                              10300, 10500, 10510, 10600]})
    for when in times:
        subprocess.run(["restic", "backup", "-q", "--host", "t", "--time",
                        when.strftime("%Y-%m-%d %H:%M:%S"), str(data)], env=env, check=True,
                       capture_output=True)
    restic = Restic(Location("t", "local", str(repo), url=str(repo)),
                    Secret(kind="file", ref=str(key), setting="test"))
    by_id = {s.id: s.time.astimezone(UTC) for s in restic.snapshots()}
    for rules in ({"daily": 3, "weekly": 2, "monthly": 4}, {"last": 2, "yearly": 2},
                  {"hourly": 5, "monthly": 12}, {"weekly": 6}):
        plan = restic.forget(rules, prune=False, dry_run=True)
        assert {by_id[i] for i in plan.kept} == kept(times, rules), rules


def test_age_out_for_a_policy_and_an_object_lock_period() -> None:
    held = [NOW - timedelta(days=d) for d in (3, 2, 1)]
    # keep-daily 7: six more daily backups push the three out.
    assert forget_date(held, held, {"daily": 7}, NOW, timedelta(days=1)) == NOW + \
        timedelta(days=6)
    # Adding weekly 4: Sunday 7 June is the last snapshot of ISO week 23 (the 8th and 9th are
    # superseded by the backups later in week 24), kept until weeks 24-27 all have one: the
    # first backup of week 27 is Monday 29 June.
    date = forget_date(held, held, {"daily": 7, "weekly": 4}, NOW, timedelta(days=1))
    assert date == datetime(2026, 6, 29, 2, 0, tzinfo=UTC)
    holdings = [{"location": loc, "where": "snapshot", "time": t.isoformat()}
                for loc in ("nas", "s3") for t in held]
    result = age_out(holdings, {}, {"daily": 7}, {"nas": None, "s3": 30}, {}, NOW,
                     timedelta(days=1))
    rows = {r["location"]: r for r in result["locations"]}
    assert rows["nas"]["aged_out_by"] == (NOW + timedelta(days=6)).isoformat()
    # Object Lock 30 days from the newest held snapshot outlasts retention.
    assert rows["s3"]["forgotten_by"] == (NOW + timedelta(days=6)).isoformat()
    assert rows["s3"]["locked_until"] == (held[-1] + timedelta(days=30)).isoformat()
    assert result["aged_out_by"] == (held[-1] + timedelta(days=30)).isoformat()
    # An append-only location is never pruned by vaultkeeper: no date at all.
    never = age_out(holdings, {}, {"daily": 7}, {}, {"s3": "append-only"}, NOW,
                    timedelta(days=1))
    assert never["aged_out_by"] is None


def test_backup_interval_from_schedule() -> None:
    assert backup_interval("every day at 02:00") == timedelta(days=1)
    assert backup_interval("every 6 hours") == timedelta(hours=6)
    assert backup_interval("every sunday at 04:00") == timedelta(weeks=1)


def test_status_cli_after_forget(tmp_path: Path) -> None:
    config = make_config(tmp_path, records=30, locations=[("nas", str(tmp_path / "nas"))],
                         policies="[keep]\ndaily = 5\n")
    assert vk(config, "locations", "init").returncode == 0
    assert vk(config, "backup").returncode == 0
    done = vk(config, "privacy", "forget", "--id", "contacts:nobody-1", "--ref", "R1",
              "--json")
    assert done.returncode == 0, done.stderr
    forgot = json.loads(done.stdout)["requests"][0]
    assert forgot["found"] == 0 and forgot["holdings"] == []
    status = json.loads(vk(config, "privacy", "status", "--json").stdout)
    assert status["requests"][0]["ref"] == "R1"
    assert status["requests"][0]["status"] == "aged out"     # no copy ever held it
