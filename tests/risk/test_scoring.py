"""Scoring as pure functions, table-driven: values, measures, fading, weights, hard triggers,
level boundaries, trend, and what each level does to the schedule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from vaultkeeper.policies import (
    SIGNAL_KINDS,
    RiskLevel,
    RiskPolicy,
    RiskSignal,
    load_policies,
)
from vaultkeeper.services.risk import (
    PRIORITY_BACKUP_JOB,
    Observation,
    assess,
    effective_schedule,
    entering_actions,
    fading,
    format_value,
    history,
    interval_phrase,
    level_actions,
    parse_value,
    ramp,
    schedule_interval,
    severity,
    signal_series,
    trend,
)
from vaultkeeper.tomlcheck import Origin, as_schedule

TODAY = date(2025, 6, 1)
LEVELS = (RiskLevel("green", 0, {}), RiskLevel("amber", 30, {}), RiskLevel("red", 55, {}))


def sig(kind: str, weight: float = 1.0, **kw) -> RiskSignal:
    known = SIGNAL_KINDS[kind]
    kw.setdefault("measure", known.measure)
    kw.setdefault("good", known.good)
    kw.setdefault("bad", known.bad)
    kw.setdefault("half_life_days", 0.0)
    return RiskSignal(kind=kind, weight=weight, **kw)


def obs(kind: str, value: float | bool | date, days_ago: int = 0) -> Observation:
    return Observation(kind, value, TODAY - timedelta(days=days_ago))


# --------------------------------------------------------------------------------- values
@pytest.mark.parametrize(("kind", "text", "expected"), [
    ("revenue", "4200000", 4200000.0),
    ("revenue", "4_200_000", 4200000.0),
    ("net_result", "-250000", -250000.0),
    ("growth", "-3.5%", -3.5),
    ("support_response_time", " 12 ", 12.0),
    ("insolvency_notice", "yes", True),
    ("database_copy_delivered", "No", False),
    ("ownership_change", "1", True),
    ("last_escrow_deposit", "2024-11-30", date(2024, 11, 30)),
])
def test_parse_value(kind: str, text: str, expected: object) -> None:
    assert parse_value(SIGNAL_KINDS[kind], text) == expected


@pytest.mark.parametrize(("kind", "text", "message"), [
    ("revenue", "4,200,000", "without thousands separators"),
    ("revenue", "lots", "is a number in currency"),
    ("revenue", "nan", "is a number"),
    ("insolvency_notice", "maybe", "is yes or no"),
    ("last_escrow_deposit", "30.11.2024", "is a date YYYY-MM-DD"),
])
def test_parse_value_refuses(kind: str, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_value(SIGNAL_KINDS[kind], text)


def test_format_value_round_trips() -> None:
    for kind, value in (("revenue", 4200000.0), ("growth", -3.5), ("insolvency_notice", True),
                        ("last_escrow_deposit", date(2024, 1, 2))):
        assert parse_value(SIGNAL_KINDS[kind], format_value(value)) == value


# ------------------------------------------------------------------------- measures, fading
@pytest.mark.parametrize(("value", "good", "bad", "expected"), [
    (0, 0, 10, 0.0), (5, 0, 10, 0.5), (10, 0, 10, 1.0), (20, 0, 10, 1.0), (-5, 0, 10, 0.0),
    (-0.1, 0.0, -0.2, 0.5), (0.3, 0.0, -0.2, 0.0), (-0.5, 0.0, -0.2, 1.0),   # falling is bad
    (8, 8, 72, 0.0), (40, 8, 72, 0.5),
])
def test_ramp(value: float, good: float, bad: float, expected: float) -> None:
    assert ramp(value, good, bad) == pytest.approx(expected)


@pytest.mark.parametrize(("age", "half_life", "expected"), [
    (0, 30, 1.0), (30, 30, 0.5), (60, 30, 0.25), (90, 30, 0.125), (-3, 30, 1.0),
    (1000, 0, 1.0),   # no half-life: never fades
])
def test_fading(age: float, half_life: float, expected: float) -> None:
    assert fading(age, half_life) == pytest.approx(expected)


@pytest.mark.parametrize(("signal", "latest", "previous", "expected", "reading"), [
    (sig("revenue"), obs("revenue", 80.0), obs("revenue", 100.0, 365), 1.0, "-20% vs 100"),
    (sig("revenue"), obs("revenue", 90.0), obs("revenue", 100.0, 365), 0.5, "-10%"),
    (sig("revenue"), obs("revenue", 120.0), obs("revenue", 100.0, 365), 0.0, "+20%"),
    (sig("revenue"), obs("revenue", 120.0), None, 0.0, "no earlier value"),
    (sig("revenue"), obs("revenue", 5.0), obs("revenue", 0.0, 365), 0.0, "earlier value is 0"),
    (sig("net_result"), obs("net_result", -250000.0), None, 1.0, "0..-1"),
    (sig("net_result"), obs("net_result", 10.0), None, 0.0, "0..-1"),
    (sig("support_response_time"), obs("support_response_time", 40.0), None, 0.5, ""),
    (sig("insolvency_notice"), obs("insolvency_notice", True), None, 1.0, "alarming"),
    (sig("insolvency_notice"), obs("insolvency_notice", False), None, 0.0, "all clear"),
    (sig("database_copy_delivered"), obs("database_copy_delivered", False), None, 1.0,
     "alarming"),
    (sig("database_copy_delivered"), obs("database_copy_delivered", True), None, 0.0, ""),
    (sig("last_escrow_deposit"), obs("last_escrow_deposit", TODAY - timedelta(days=300)),
     None, 0.5, "300 d old"),
    (sig("last_escrow_deposit"), obs("last_escrow_deposit", TODAY - timedelta(days=30)),
     None, 0.0, "30 d old"),
])
def test_severity(signal: RiskSignal, latest: Observation, previous: Observation | None,
                  expected: float, reading: str) -> None:
    value, text = severity(signal, latest, previous, TODAY)
    assert value == pytest.approx(expected)
    assert reading in text


# ------------------------------------------------------------------------------ the score
def policy(*signals: RiskSignal) -> RiskPolicy:
    return RiskPolicy(signals=signals, levels=LEVELS)


WEIGHTS = policy(sig("insolvency_notice", 3.0), sig("ownership_change", 1.0),
                 sig("status_incidents", 2.0, half_life_days=30.0), sig("growth", 4.0))


@pytest.mark.parametrize(("observations", "score"), [
    ([], 0.0),
    ([obs("ownership_change", True)], 10.0),                  # 100·1·1/10
    ([obs("growth", -5.0)], 40.0),                            # weight 4 of 10
    ([obs("growth", 2.5)], 20.0),                             # half-way from 10 to -5
    ([obs("status_incidents", 8.0)], 20.0),                   # fresh
    ([obs("status_incidents", 8.0, 30)], 10.0),               # one half-life old: half
    ([obs("status_incidents", 8.0, 60)], 5.0),                # two: a quarter
    ([obs("ownership_change", True), obs("growth", -5.0)], 50.0),
    ([obs("growth", -5.0, 10), obs("growth", 10.0, 1)], 0.0),  # the latest value counts
    ([obs("revenue", 1.0)], 0.0),                             # not weighed by this policy
])
def test_weights_and_fading_make_the_score(observations: list[Observation],
                                           score: float) -> None:
    assert assess(WEIGHTS, observations, TODAY).score == pytest.approx(score)


# One signal of weight 1 read on a 0..100 line: the score equals the value.
LINE = policy(sig("status_incidents", measure="level", good=0.0, bad=100.0))


@pytest.mark.parametrize(("value", "level"), [
    (0.0, "green"), (29.99, "green"), (30.0, "amber"), (54.99, "amber"), (55.0, "red"),
    (100.0, "red"),
])
def test_level_boundaries(value: float, level: str) -> None:
    result = assess(LINE, [obs("status_incidents", value)], TODAY)
    assert result.score == pytest.approx(value)
    assert result.level == result.score_level == level


@pytest.mark.parametrize(("signals", "observations", "level", "triggers"), [
    ((sig("insolvency_notice", 1, trigger="red"), sig("growth", 50)),
     [obs("insolvency_notice", True)], "red", ["insolvency_notice → red"]),
    ((sig("insolvency_notice", 1, trigger="red", half_life_days=10), sig("growth", 50)),
     [obs("insolvency_notice", True, 400)], "red", ["insolvency_notice → red"]),  # no fading
    ((sig("insolvency_notice", 1, trigger="red"), sig("growth", 50)),
     [obs("insolvency_notice", True, 30), obs("insolvency_notice", False)], "green", []),
    ((sig("ownership_change", 1, trigger="amber"), sig("growth", 1)),
     [obs("ownership_change", True), obs("growth", -5.0)], "red", ["ownership_change → amber"]),
    ((sig("support_response_time", 1, trigger="amber", trigger_at=0.5), sig("growth", 50)),
     [obs("support_response_time", 39.0)], "green", []),
    ((sig("support_response_time", 1, trigger="amber", trigger_at=0.5), sig("growth", 50)),
     [obs("support_response_time", 40.0)], "amber", ["support_response_time → amber"]),
], ids=["insolvency is red at once", "a trigger does not fade", "withdrawn notice",
        "the score wins when higher", "below trigger_at", "at trigger_at"])
def test_hard_triggers(signals: tuple[RiskSignal, ...], observations: list[Observation],
                       level: str, triggers: list[str]) -> None:
    result = assess(policy(*signals), observations, TODAY)
    assert result.level == level
    assert list(result.triggers) == triggers


def test_explanation_lists_contributions_heaviest_first() -> None:
    result = assess(WEIGHTS, [obs("ownership_change", True), obs("growth", -5.0),
                              obs("insolvency_notice", False)], TODAY)
    assert [c.signal for c in result.contributions] == ["growth", "ownership_change",
                                                        "insolvency_notice"]
    assert sum(c.points for c in result.contributions) == pytest.approx(result.score)
    assert result.coverage == pytest.approx(0.8)   # 8 of 10 weight known
    assert result.contributions[2].points == 0 and result.contributions[2].reading == \
        "all clear"


def test_future_observations_are_ignored() -> None:
    result = assess(WEIGHTS, [obs("growth", -5.0, -10)], TODAY)
    assert result.score == 0 and not result.contributions


@pytest.mark.parametrize(("observations", "direction", "delta"), [
    ([obs("growth", -5.0, 5)], "rising", 40.0),
    ([obs("growth", -5.0, 60), obs("growth", 10.0, 5)], "falling", -40.0),
    ([obs("growth", -5.0, 60)], "steady", 0.0),
    ([obs("status_incidents", 8.0, 35)], "falling", 20 * (0.5 ** (35 / 30) - 0.5 ** (5 / 30))),
])
def test_trend(observations: list[Observation], direction: str, delta: float) -> None:
    t = trend(WEIGHTS, observations, TODAY)
    assert t.direction == direction
    assert t.delta == pytest.approx(delta, abs=1.0)


def test_history_steps_on_every_observation_day() -> None:
    observations = [obs("growth", -5.0, 200), obs("growth", 10.0, 100),
                    obs("ownership_change", True, 7)]
    points = history(WEIGHTS, observations, TODAY, points=10)
    days = [p.as_of for p in points]
    assert days[0] == TODAY - timedelta(days=200) and days[-1] == TODAY
    assert {TODAY - timedelta(days=100), TODAY - timedelta(days=7)} <= set(days)
    by_day = {p.as_of: p.score for p in points}
    assert by_day[TODAY - timedelta(days=200)] == pytest.approx(40.0)
    assert by_day[TODAY - timedelta(days=100)] == 0.0
    assert by_day[TODAY] == pytest.approx(10.0)
    series = signal_series(points)
    assert list(series)[:2] == ["growth", "ownership_change"]


def test_default_policy_scores_a_failing_vendor_red() -> None:
    """The shipped weights: a vendor shrinking on every front ends up amber, then red."""
    risk = load_policies(None).risk
    bad_year = [Observation("revenue", 5e6, date(2023, 12, 31)),
                Observation("revenue", 3.8e6, date(2024, 12, 31)),
                Observation("net_result", -4e5, date(2024, 12, 31)),
                Observation("headcount", 120.0, date(2024, 1, 1)),
                Observation("headcount", 95.0, date(2025, 3, 1)),
                Observation("developer_count", 30.0, date(2024, 1, 1)),
                Observation("developer_count", 18.0, date(2025, 3, 1)),
                Observation("database_copy_delivered", False, date(2025, 5, 1)),
                Observation("release_cadence", 75.0, date(2025, 5, 28))]
    amber = assess(risk, bad_year, TODAY)
    assert amber.level == "amber" and 20 < amber.score < 30, amber.score
    worse = [*bad_year,
             Observation("export_error_rate", 0.3, date(2025, 5, 30)),
             Observation("status_incidents", 9.0, date(2025, 5, 30)),
             Observation("equity", 2e6, date(2023, 12, 31)),
             Observation("equity", 1e6, date(2024, 12, 31)),
             Observation("support_response_time", 96.0, date(2025, 5, 20))]
    red = assess(risk, worse, TODAY)
    assert red.level == "red" and red.score_level == "red" and not red.triggers, red.score
    assert assess(risk, [Observation("insolvency_notice", True, TODAY)], TODAY).level == "red"


# -------------------------------------------------------------------- schedule and actions
@pytest.mark.parametrize(("phrase", "interval"), [
    ("every day at 02:00", timedelta(days=1)), ("every 6 hours", timedelta(hours=6)),
    ("every hour", timedelta(hours=1)), ("every hour at :15", timedelta(hours=1)),
    ("every monday at 06:00", timedelta(weeks=1)), ("every 30 minutes", timedelta(minutes=30)),
    ("every 2 days", timedelta(days=2)), ("every week", timedelta(weeks=1)),
])
def test_schedule_interval(phrase: str, interval: timedelta) -> None:
    assert schedule_interval(phrase) == interval


@pytest.mark.parametrize(("interval", "phrase"), [
    (timedelta(hours=12), "every 12 hours"), (timedelta(days=1), "every day"),
    (timedelta(days=3.5), "every 84 hours"), (timedelta(minutes=20), "every 20 minutes"),
    (timedelta(hours=1), "every hour"), (timedelta(seconds=5), "every minute"),
    (timedelta(days=2), "every 2 days"),
])
def test_interval_phrase_is_a_valid_schedule(interval: timedelta, phrase: str) -> None:
    assert interval_phrase(interval) == phrase
    assert as_schedule(phrase, Origin(None, "[schedule]")) == phrase


BASE = {"backup": "every day at 02:00", "drill": "every monday at 06:00"}


def test_green_changes_nothing() -> None:
    risk = load_policies(None).risk
    assert effective_schedule(BASE, "green", risk) == (BASE, [])
    assert level_actions(risk.level("green")) == []


def test_amber_doubles_the_backup_cadence() -> None:
    risk = load_policies(None).risk
    schedule, reasons = effective_schedule(BASE, "amber", risk)
    assert schedule == {"backup": "every 12 hours", "drill": "every monday at 06:00",
                        "risk": "every 6 hours"}
    assert reasons[0] == ("risk level amber: backup every day at 02:00 → every 12 hours "
                          "(2× as often)")
    assert ("risk level amber: drill stays every monday at 06:00 (already at least as often "
            "as every monday at 06:00)") in reasons


def test_red_tightens_everything_and_adds_the_priority_export() -> None:
    risk = load_policies(None).risk
    schedule, reasons = effective_schedule(BASE, risk.level("red"), risk)
    assert schedule["backup"] == "every 6 hours"
    assert schedule["drill"] == "every day at 06:00"
    assert schedule["check"] == "every day at 05:00"
    assert schedule[PRIORITY_BACKUP_JOB] == "every hour"
    assert any("drill every monday at 06:00 → every day at 06:00" in r for r in reasons)
    kinds = [(a.kind, a.job) for a in level_actions(risk.level("red"))]
    assert ("priority_backup", PRIORITY_BACKUP_JOB) in kinds
    assert [j for k, j in kinds if k == "immediate"] == ["backup", "drill", "emergency"]


def test_a_level_never_loosens_a_tighter_base() -> None:
    risk = load_policies(None).risk
    tight = {"backup": "every 30 minutes", "drill": "every 6 hours"}
    schedule, _ = effective_schedule(tight, "red", risk)
    assert schedule["drill"] == "every 6 hours"
    assert schedule["backup"] == "every 8 minutes"   # 4× as often as every 30 minutes
    assert effective_schedule({}, "amber", risk)[0]["backup"] == "every 12 hours"


@pytest.mark.parametrize(("before", "after", "jobs"), [
    (None, "red", ["backup", "drill", "emergency", None]),
    ("green", "red", ["backup", "drill", "emergency", None]),
    ("amber", "red", ["backup", "drill", "emergency", None]),
    ("green", "amber", [None]),          # amber only alerts
    ("red", "amber", []),                # dropping relaxes, nothing runs
    ("red", "green", []),
    ("red", "red", []),
])
def test_immediate_actions_only_when_the_level_rises(before: str | None, after: str,
                                                     jobs: list[str | None]) -> None:
    risk = load_policies(None).risk
    assert [a.job for a in entering_actions(before, after, risk)] == jobs


def test_rise_to_red_and_back() -> None:
    """The scheduler's view: red tightens and runs the immediate jobs; back to green relaxes."""
    risk = load_policies(None).risk
    calm = assess(risk, [], TODAY)
    alarm = [Observation("insolvency_notice", True, TODAY)]
    red = assess(risk, alarm, TODAY)
    assert (calm.level, red.level) == ("green", "red")
    due = entering_actions(calm.level, red.level, risk)
    assert {a.job for a in due if a.kind == "immediate"} == {"backup", "drill", "emergency"}
    tight, _ = effective_schedule(BASE, red.level, risk)
    assert schedule_interval(tight["backup"]) < schedule_interval(BASE["backup"])
    withdrawn = [*alarm, Observation("insolvency_notice", False, TODAY + timedelta(days=1))]
    back = assess(risk, withdrawn, TODAY + timedelta(days=1))
    assert back.level == "green"
    assert entering_actions(red.level, back.level, risk) == []
    assert effective_schedule(BASE, back.level, risk)[0] == BASE
