"""Placing jobs after a restart (pure: the schedule library's own clock, no waiting)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta

import pytest
import schedule

from vaultkeeper.errors import ConfigError
from vaultkeeper.services.platform import Untranslatable, cron_spec, on_calendar
from vaultkeeper.services.scheduler import add_job, parse_cadence, place


def _place(phrase: str, last: datetime | None, now: datetime):
    cadence = parse_cadence(phrase)
    job = add_job(schedule.Scheduler(), cadence, lambda: None)
    return place(job, cadence, last, now)


@pytest.fixture
def now() -> datetime:
    """This moment, local and aware (the library schedules in local time), taken when the test
    starts: ``place`` compares it with the library's own clock, so a time taken at collection
    (minutes earlier on a busy machine) would put the two on either side of 02:00 or midnight."""
    return datetime.now().astimezone()


def _last_2am(now: datetime) -> datetime:
    today = now.replace(hour=2, minute=0, second=0, microsecond=0)
    return today if now >= today else today - timedelta(days=1)


def test_a_job_that_never_ran_runs_now(now):
    when, why = _place("every day at 02:00", None, now)
    assert when == now and "never ran" in why


def test_daily_job_that_ran_after_its_last_time_waits_for_the_next(now):
    when, why = _place("every day at 02:00", _last_2am(now) + timedelta(minutes=5), now)
    assert when == _last_2am(now) + timedelta(days=1) and why == "as scheduled"


def test_daily_job_missed_for_a_week_catches_up_once(now):
    when, why = _place("every day at 02:00", _last_2am(now) - timedelta(days=7), now)
    assert when == now and "catching up once" in why


def test_daily_job_missed_by_a_minute_catches_up(now):
    when, _ = _place("every day at 02:00", _last_2am(now) - timedelta(minutes=1), now)
    assert when == now


def test_weekly_job_missed_this_week(now):
    cadence_day = now.strftime("%A").lower()
    # Last ran 8 days ago: this weekday's (or last week's) run was missed.
    when, _ = _place(f"every {cadence_day} at 00:00", now - timedelta(days=8), now)
    assert when == now
    # Last ran an hour ago, after today's 00:00: wait a week.
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    when, _ = _place(f"every {cadence_day} at 00:00", max(midnight, now - timedelta(hours=1))
                     + timedelta(seconds=1), now)
    assert when == midnight + timedelta(days=7)


def test_interval_job_counts_from_its_last_run(now):
    when, why = _place("every 6 hours", now - timedelta(hours=2), now)
    assert when == now + timedelta(hours=4) and "one interval after" in why
    when, why = _place("every 6 hours", now - timedelta(hours=30), now)
    assert when == now and "running now" in why


def test_hourly_at_minute(now):
    cadence = parse_cadence("every hour at :15")
    assert cadence.timed and cadence.period == timedelta(hours=1)
    when, _ = _place("every hour at :15", now - timedelta(hours=3), now)
    assert when == now


@pytest.mark.parametrize(("phrase", "calendar", "cron"), [
    ("every day at 02:00", "*-*-* 02:00:00", "0 2 * * *"),
    ("every day at 23:45:10", "*-*-* 23:45:10", None),
    ("every monday at 06:00", "Mon *-*-* 06:00:00", "0 6 * * 1"),
    ("every sunday at 04:30", "Sun *-*-* 04:30:00", "30 4 * * 0"),
    ("every 6 hours", "*-*-* 00/6:00:00", "0 */6 * * *"),
    ("every hour", "*-*-* *:00:00", "0 * * * *"),
    ("every hour at :15", "*-*-* *:15:00", "15 * * * *"),
    ("every 15 minutes", "*-*-* *:00/15:00", "*/15 * * * *"),
    ("every 10 seconds", "*-*-* *:*:00/10", None),
    ("every 5 hours", None, None),          # 5 does not divide 24: refused, not approximated
    ("every 7 minutes", None, None),
    ("every 2 days", None, None),
    ("every week", "Mon *-*-* 00:00:00", "0 0 * * 1"),
])
def test_platform_translations(phrase, calendar, cron):
    cadence = parse_cadence(phrase)
    if calendar is None:
        with pytest.raises(Untranslatable, match="cannot be expressed exactly"):
            on_calendar(cadence)
    else:
        assert on_calendar(cadence) == calendar
    if cron is None:
        with pytest.raises(Untranslatable):
            cron_spec(cadence)
    else:
        assert cron_spec(cadence) == cron


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd is not installed")
@pytest.mark.parametrize("phrase", ["every day at 02:00", "every monday at 06:00",
                                    "every 6 hours", "every hour at :15", "every 15 minutes",
                                    "every 10 seconds", "every week"])
def test_systemd_accepts_our_calendar_expressions(phrase):
    expression = on_calendar(parse_cadence(phrase))
    done = subprocess.run(["systemd-analyze", "calendar", expression], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert f"Normalized form: {expression}" in done.stdout or "Next elapse" in done.stdout


def test_unknown_phrase_is_a_config_error():
    with pytest.raises(ConfigError):
        parse_cadence("every fortnight")
