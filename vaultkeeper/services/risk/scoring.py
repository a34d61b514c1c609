"""Pure scoring: severities, the assessment of a day, the trend and the history."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from vaultkeeper.policies import RiskPolicy, RiskSignal
from vaultkeeper.services.risk.values import Observation, format_value

TREND_DAYS = 30


def ramp(value: float, good: float, bad: float) -> float:
    """0 at ``good``, 1 at ``bad``, linear between, clamped (either direction)."""
    if good == bad:
        return 1.0 if value == bad else 0.0
    return min(1.0, max(0.0, (value - good) / (bad - good)))


def fading(age_days: float, half_life_days: float) -> float:
    """How much of a value's weight is left after ``age_days`` (1 with no half-life)."""
    if half_life_days <= 0:
        return 1.0
    return float(0.5 ** (max(0.0, age_days) / half_life_days))


def severity(signal: RiskSignal, latest: Observation, previous: Observation | None,
             as_of: date) -> tuple[float, str]:
    """The severity of a signal's latest value, and how it was read."""
    v = latest.value
    if signal.measure == "flag":
        alarming = bool(v) == bool(signal.bad)
        return (1.0, "alarming") if alarming else (0.0, "all clear")
    if signal.measure == "age":
        assert isinstance(v, date)
        days = (as_of - v).days
        return ramp(days, float(signal.good), float(signal.bad)), f"{days} d old"
    assert isinstance(v, float)
    if signal.measure == "change":
        if previous is None:
            return 0.0, "no earlier value to compare with"
        assert isinstance(previous.value, float)
        if previous.value == 0:
            return 0.0, "the earlier value is 0: no relative change"
        change = (v - previous.value) / abs(previous.value)
        return (ramp(change, float(signal.good), float(signal.bad)),
                f"{change:+.0%} vs {format_value(previous.value)}")
    return ramp(v, float(signal.good), float(signal.bad)), f"{signal.good:g}..{signal.bad:g}"


@dataclass(frozen=True)
class Contribution:
    """One signal's part of the score."""

    signal: str
    value: str
    date: date
    source: str
    note: str
    reading: str
    severity: float
    fading: float
    weight: float
    points: float
    trigger: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"signal": self.signal, "value": self.value, "date": self.date.isoformat(),
                "source": self.source, "note": self.note, "reading": self.reading,
                "severity": round(self.severity, 4), "fading": round(self.fading, 4),
                "weight": self.weight, "points": round(self.points, 2),
                "trigger": self.trigger}


@dataclass(frozen=True)
class Assessment:
    """The score at one date, its level, and what made it."""

    as_of: date
    score: float
    level: str
    score_level: str
    triggers: tuple[str, ...]
    contributions: tuple[Contribution, ...]
    coverage: float
    """Share of the total weight whose signals have any value."""

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"as_of": self.as_of.isoformat(), "score": round(self.score, 2),
                "level": self.level, "score_level": self.score_level,
                "triggers": list(self.triggers), "coverage": round(self.coverage, 3),
                "contributions": [c.as_json() for c in self.contributions]}


def assess(policy: RiskPolicy, observations: Sequence[Observation], as_of: date) -> Assessment:
    """Score the observations dated up to ``as_of`` (pure)."""
    total = sum(s.weight for s in policy.signals) or 1.0
    by_signal: dict[str, list[Observation]] = {}
    for obs in sorted(observations, key=lambda o: o.date):   # stable: recording order kept
        if obs.date <= as_of:
            by_signal.setdefault(obs.signal, []).append(obs)
    parts: list[Contribution] = []
    triggers: list[str] = []
    known = 0.0
    for sig in policy.signals:
        history = by_signal.get(sig.kind)
        if not history:
            continue
        known += sig.weight
        latest = history[-1]
        previous = history[-2] if len(history) > 1 else None
        sev, reading = severity(sig, latest, previous, as_of)
        fade = fading((as_of - latest.date).days, sig.half_life_days)
        fired = sig.trigger if sig.trigger and sev >= sig.trigger_at else None
        if fired:
            triggers.append(f"{sig.kind} → {fired}")
        parts.append(Contribution(sig.kind, format_value(latest.value), latest.date,
                                  latest.source, latest.note, reading, sev, fade, sig.weight,
                                  100.0 * sig.weight * sev * fade / total, fired))
    score = round(sum(c.points for c in parts), 6)
    score_level = policy.level_for(score).name
    level = score_level
    for part in parts:
        if part.trigger and policy.rank_of(part.trigger) > policy.rank_of(level):
            level = part.trigger
    parts.sort(key=lambda c: (-c.points, -c.severity, c.signal))
    return Assessment(as_of, score, level, score_level, tuple(triggers), tuple(parts),
                      known / total)


@dataclass(frozen=True)
class Trend:
    """How the score moved over the last ``days``."""

    days: int
    previous_score: float
    previous_level: str
    delta: float
    direction: str        # rising | falling | steady

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"days": self.days, "previous_score": round(self.previous_score, 2),
                "previous_level": self.previous_level, "delta": round(self.delta, 2),
                "direction": self.direction}


def trend(policy: RiskPolicy, observations: Sequence[Observation], as_of: date,
          days: int = TREND_DAYS) -> Trend:
    """The score now against ``days`` ago (a move of 2 points or more counts)."""
    now = assess(policy, observations, as_of)
    then = assess(policy, observations, as_of - timedelta(days=days))
    delta = now.score - then.score
    direction = "rising" if delta >= 2 else "falling" if delta <= -2 else "steady"
    return Trend(days, then.score, then.level, delta, direction)


def history(policy: RiskPolicy, observations: Sequence[Observation], end: date,
            points: int = 120) -> list[Assessment]:
    """Assessments from the first observation to ``end`` (at most ``points``, evenly spaced,
    always including every observation date's day so steps are not smoothed away)."""
    if not observations:
        return [assess(policy, observations, end)]
    start = min(o.date for o in observations)
    span = max(1, (end - start).days)
    step = max(1, math.ceil(span / points))
    days = {start + timedelta(days=i) for i in range(0, span + 1, step)}
    days |= {o.date for o in observations if o.date <= end} | {end}
    return [assess(policy, observations, d) for d in sorted(days)]


def signal_series(assessments: Sequence[Assessment]) -> dict[str, list[tuple[date, float]]]:
    """Per signal its severity × fading at each assessment; the signals that weighed most at
    any time come first (then those weighing most at the end)."""
    series: dict[str, list[tuple[date, float]]] = {}
    peak: dict[str, float] = {}
    for a in assessments:
        for c in a.contributions:
            series.setdefault(c.signal, []).append((a.as_of, round(c.severity * c.fading, 4)))
            peak[c.signal] = max(peak.get(c.signal, 0.0), c.points)
    final = {c.signal: c.points for c in assessments[-1].contributions} if assessments else {}
    return {name: series[name] for name in sorted(
        series, key=lambda n: (-round(peak[n], 1), -final.get(n, 0.0), n))}


def trigger_events(assessments: Sequence[Assessment]) -> list[tuple[date, str]]:
    """The days a hard trigger started to hold, e.g. ``(2025-06-10, "insolvency_notice → red")``."""
    events: list[tuple[date, str]] = []
    active: set[str] = set()
    for a in assessments:
        now = set(a.triggers)
        events += [(a.as_of, t) for t in sorted(now - active)]
        active = now
    return events
