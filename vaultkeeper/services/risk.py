"""Vendor risk: parse and store signals, score them (pure functions), collect public signals, and
turn the level into schedule changes and actions.

Scoring (see policies/risk.toml and docs/risk.md): each weighed signal's latest value becomes a
severity in [0, 1] (``level``/``change``/``age``/``flag`` measures), fades with its half-life,
and contributes ``100 · weight · severity · fading / Σ weight`` points. The level is the highest
whose ``min_score`` the score reaches, or a hard trigger's level if that is higher.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from xml.sax import SAXException

import httpx

from vaultkeeper import __version__
from vaultkeeper.config import Settings
from vaultkeeper.db import open_state_db
from vaultkeeper.db import risk as riskdb
from vaultkeeper.db import runs as rundb
from vaultkeeper.errors import UsageError
from vaultkeeper.policies import (
    SIGNAL_KINDS,
    RiskLevel,
    RiskPolicy,
    RiskSignal,
    SignalKind,
    load_policies,
)
from vaultkeeper.tomlcheck import suggest

PRIORITY_BACKUP_JOB = "priority_backup"
"""Schedule key for the extra backup of top-priority objects (see ``level_actions``)."""
TREND_DAYS = 30
INCIDENT_WINDOW_DAYS = 30
RELEASES_CONSIDERED = 6
_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off"}
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

Value = float | bool | date


# ------------------------------------------------------------------------------- values
def parse_value(kind: SignalKind, text: str) -> Value:
    """A recorded value as its kind expects it; ValueError says what was expected."""
    raw = text.strip()
    if kind.value == "bool":
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ValueError(f"{kind.name} is yes or no (got {raw!r})")
    if kind.value == "date":
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"{kind.name} is a date YYYY-MM-DD (got {raw!r})") from None
    number = raw.replace("_", "").removesuffix("%").strip()
    if "," in number:
        raise ValueError(f"{kind.name} is a number without thousands separators "
                         f"(got {raw!r}; write 1250000 or 1_250_000, decimals with '.')")
    if not _NUMBER.fullmatch(number) or not math.isfinite(float(number)):
        raise ValueError(f"{kind.name} is a number in {kind.unit} (got {raw!r})")
    return float(number)


def format_value(value: Value) -> str:
    """The canonical text stored for a value."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return value.isoformat()
    return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.0f}"


@dataclass(frozen=True)
class Observation:
    """One recorded value of a signal."""

    signal: str
    value: Value
    date: date
    source: str = ""
    note: str = ""


def observations_from_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[list[Observation],
                                                                         list[str]]:
    """Stored rows as observations; rows that no longer parse are skipped with a warning."""
    out, warnings = [], []
    for row in rows:
        kind = SIGNAL_KINDS.get(row["signal"])
        try:
            if kind is None:
                raise ValueError(f"unknown signal {row['signal']}")
            out.append(Observation(row["signal"], parse_value(kind, row["value"]),
                                   date.fromisoformat(row["date"]), row.get("source") or "",
                                   row.get("note") or ""))
        except ValueError as exc:
            warnings.append(f"stored value #{row.get('id')} skipped: {exc}")
    return out, warnings


# ------------------------------------------------------------------------- pure: scoring
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


# ---------------------------------------------------------------- pure: schedule and actions
_PHRASE = re.compile(r"every(?: (\d+))? (second|minute|hour|day|week)s?(?: at .*)?")
_WEEKDAY = re.compile(r"every (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b.*")
_UNIT = {"second": timedelta(seconds=1), "minute": timedelta(minutes=1),
         "hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
DEFAULT_BACKUP = "every day at 02:00"


def schedule_interval(phrase: str) -> timedelta:
    """How often a schedule phrase runs: ``every 6 hours`` → 6 h, ``every monday …`` → 1 w."""
    text = " ".join(phrase.lower().split())
    if _WEEKDAY.fullmatch(text):
        return timedelta(weeks=1)
    m = _PHRASE.fullmatch(text)
    if m is None:
        raise ValueError(f"not a schedule phrase: {phrase!r}")
    return int(m[1] or 1) * _UNIT[m[2]]


def interval_phrase(interval: timedelta) -> str:
    """The phrase for an interval: ``every 12 hours``, ``every 2 days``, ``every 20 minutes``."""
    minutes = max(1, round(interval.total_seconds() / 60))
    for size, unit in ((1440, "day"), (60, "hour"), (1, "minute")):
        if minutes % size == 0:
            n = minutes // size
            return f"every {unit}" if n == 1 else f"every {n} {unit}s"
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class LevelAction:
    """One thing a risk level does: ``kind`` is tighten | schedule | priority_backup |
    immediate | alert."""

    kind: str
    description: str
    job: str | None = None
    when: str | None = None
    factor: float | None = None
    max_rank: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


def level_actions(level: RiskLevel) -> list[LevelAction]:
    """What a level does while it holds (schedule changes) and when entered (immediate jobs,
    alert), for the scheduler and for `vaultkeeper status`."""
    out = []
    if level.backup_factor > 1:
        out.append(LevelAction("tighten", f"back up {level.backup_factor:g}× as often",
                               job="backup", factor=level.backup_factor))
    for job, when in level.schedule.items():
        out.append(LevelAction("schedule", f"{job} {when}", job=job, when=when))
    if level.priority_backup:
        out.append(LevelAction("priority_backup", f"export the objects of processes ranked "
                                                  f"≤ {level.priority_rank} "
                                                  f"{level.priority_backup}",
                               job=PRIORITY_BACKUP_JOB, when=level.priority_backup,
                               max_rank=level.priority_rank))
    for job in level.immediate:
        out.append(LevelAction("immediate", f"run {job} now", job=job))
    if level.alert:
        out.append(LevelAction("alert", "alert people"))
    return out


def _level(level: RiskLevel | str, policy: RiskPolicy) -> RiskLevel:
    return policy.level(level) if isinstance(level, str) else level


def effective_schedule(base_schedule: Mapping[str, str], level: RiskLevel | str,
                       policy: RiskPolicy) -> tuple[dict[str, str], list[str]]:
    """The schedule while ``level`` holds, and why each entry differs from ``base_schedule``.

    A level only ever tightens: an entry already more frequent than the level's stays.
    """
    lvl = _level(level, policy)
    schedule = dict(base_schedule)
    reasons: list[str] = []
    why = f"risk level {lvl.name}"
    if lvl.backup_factor > 1:
        base = schedule.get("backup", DEFAULT_BACKUP)
        tighter = interval_phrase(schedule_interval(base) / lvl.backup_factor)
        schedule["backup"] = tighter
        reasons.append(f"{why}: backup {base} → {tighter} ({lvl.backup_factor:g}× as often)")
    for job, when in lvl.schedule.items():
        current = schedule.get(job)
        if current is not None and schedule_interval(current) <= schedule_interval(when):
            reasons.append(f"{why}: {job} stays {current} (already at least as often as "
                           f"{when})")
            continue
        schedule[job] = when
        reasons.append(f"{why}: {job} {current or 'not scheduled'} → {when}")
    if lvl.priority_backup:
        schedule[PRIORITY_BACKUP_JOB] = lvl.priority_backup
        reasons.append(f"{why}: objects of processes ranked ≤ {lvl.priority_rank} exported "
                       f"{lvl.priority_backup}")
    return schedule, reasons


def entering_actions(previous: RiskLevel | str | None, current: RiskLevel | str,
                     policy: RiskPolicy) -> list[LevelAction]:
    """The immediate jobs and alert due when the level changes from ``previous`` to
    ``current``: only when it rises (dropping back relaxes the schedule, nothing runs)."""
    now = _level(current, policy)
    if previous is not None and policy.rank_of(_level(previous, policy).name) >= \
            policy.rank_of(now.name):
        return []
    return [a for a in level_actions(now) if a.kind in ("immediate", "alert")]


# ------------------------------------------------------------------------------- service
def _today() -> date:
    return datetime.now(UTC).date()


def record(settings: Settings, signal: str, value: str, *, on: date | None = None,
           source: str = "", note: str = "") -> tuple[Observation, list[str]]:
    """Validate and store a hand-recorded value; warnings when the policy does not weigh it."""
    kind = SIGNAL_KINDS.get(signal)
    if kind is None:
        near = suggest(signal, SIGNAL_KINDS)
        raise UsageError(f"unknown signal {signal!r}", f"did you mean {near}?" if near else
                         "signals are: " + ", ".join(SIGNAL_KINDS))
    try:
        parsed = parse_value(kind, value)
    except ValueError as exc:
        raise UsageError(str(exc), f"see `vaultkeeper risk record --help` ({kind.unit})") \
            from None
    when = on or _today()
    if when > _today():
        raise UsageError(f"--date {when} is in the future", "give the date the value is about")
    policy = load_policies(settings.policies_dir).risk
    warnings = []
    weighed = policy.signal(signal)
    if weighed is None or not weighed.weight:
        warnings.append(f"{signal} is recorded, but policies/risk.toml gives it no weight, "
                        "so it does not change the score")
    db = open_state_db(settings.state_dir)
    riskdb.add_signal(db, signal, format_value(parsed), when.isoformat(), source=source,
                      note=note)
    return Observation(signal, parsed, when, source, note), warnings


@dataclass
class RiskReport:
    """What `vaultkeeper risk show` prints."""

    assessment: Assessment
    trend: Trend
    level: RiskLevel
    actions: list[LevelAction]
    history: list[Assessment]
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return self.assessment.as_json() | {
            "trend": self.trend.as_json(), "actions": [a.as_json() for a in self.actions],
            "level_description": self.level.description, "warnings": self.warnings,
            "history": [{"date": a.as_of.isoformat(), "score": round(a.score, 2),
                         "level": a.level} for a in self.history]}


def load_observations(settings: Settings) -> tuple[list[Observation], list[str]]:
    """Every stored observation."""
    db = open_state_db(settings.state_dir)
    return observations_from_rows(riskdb.signal_rows(db))


def report(settings: Settings, *, as_of: date | None = None) -> RiskReport:
    """Score, explanation, trend, actions and history as of a date (default today)."""
    policy = load_policies(settings.policies_dir).risk
    observations, warnings = load_observations(settings)
    day = as_of or _today()
    now = assess(policy, observations, day)
    level = policy.level(now.level)
    return RiskReport(now, trend(policy, observations, day), level, level_actions(level),
                      history(policy, observations, day), warnings)


def current_level(settings: Settings) -> tuple[str, float, list[LevelAction]]:
    """The level now, the score and the active actions (for `status` and `run`)."""
    r = report(settings)
    return r.assessment.level, r.assessment.score, r.actions


# ---------------------------------------------------------------------------- collectors
class CollectError(Exception):
    """A source that could not be read or did not hold what it should."""


@dataclass
class Collected:
    """What one `risk collect` recorded, and what it could not."""

    recorded: list[Observation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failed: int = 0
    """Configured sources that could not be read."""

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        recorded = [{"signal": o.signal, "value": format_value(o.value),
                     "date": o.date.isoformat(), "source": o.source, "note": o.note}
                    for o in self.recorded]
        return {"failed": self.failed, "recorded": recorded, "warnings": self.warnings}


def _get(client: httpx.Client, url: str) -> bytes:
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise CollectError(f"unreachable ({type(exc).__name__}: {exc})") from None
    if response.status_code >= 400:
        raise CollectError(f"HTTP {response.status_code}")
    return response.content


def _json(client: httpx.Client, url: str) -> Any:
    import orjson

    try:
        return orjson.loads(_get(client, url))
    except orjson.JSONDecodeError:
        raise CollectError("the answer is not JSON") from None


def _timestamp(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


_INDICATORS = {"none": 0.0, "minor": 1.0, "major": 2.0, "critical": 3.0}


def statuspage_summary(doc: Any) -> tuple[float, str]:
    """The overall indicator (0-3) and description of a Statuspage ``summary.json``."""
    status = doc.get("status") if isinstance(doc, dict) else None
    indicator = status.get("indicator") if isinstance(status, dict) else None
    if indicator not in _INDICATORS:
        raise CollectError("summary.json has no status.indicator (not an Atlassian Statuspage?)")
    assert isinstance(status, dict)
    return _INDICATORS[indicator], str(status.get("description") or indicator)


def statuspage_incidents(doc: Any, now: datetime,
                         window_days: int = INCIDENT_WINDOW_DAYS) -> tuple[float, str]:
    """How many incidents (impact minor or worse) began in the window, and a note naming them."""
    incidents = doc.get("incidents") if isinstance(doc, dict) else None
    if not isinstance(incidents, list):
        raise CollectError("incidents.json has no incidents list")
    since = now - timedelta(days=window_days)
    recent = []
    for item in incidents:
        if not isinstance(item, dict):
            continue
        began = _timestamp(item.get("started_at")) or _timestamp(item.get("created_at"))
        if began is None or began < since or item.get("impact") in (None, "none"):
            continue
        recent.append(item)
    worst = sum(1 for i in recent if i.get("impact") in ("major", "critical"))
    names = "; ".join(str(i.get("name", "?")) for i in recent[:3])
    note = f"{len(recent)} in {window_days} days ({worst} major or critical)" + (
        f": {names}" if names else "")
    return float(len(recent)), note


def release_cadence(content: bytes, now: datetime) -> tuple[float, str]:
    """Days between releases in an RSS/Atom feed (or since the last one, if longer)."""
    import feedparser

    feed = feedparser.parse(content)
    problem = feed.get("bozo_exception")
    if feed.get("bozo") and isinstance(problem, SAXException):
        # A broken XML document (cut short, not XML at all): what parsed may be a fragment.
        raise CollectError(f"malformed feed ({problem})")
    entries = list(feed.get("entries") or [])
    if not entries:
        why = f" ({feed.get('bozo_exception')})" if feed.get("bozo") else ""
        raise CollectError(f"not an RSS or Atom feed with entries{why}")
    dated = []
    for entry in entries:
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        if stamp:
            y, mo, d, h, mi, s = stamp[:6]
            dated.append((datetime(y, mo, d, h, mi, s, tzinfo=UTC), str(entry.get("title", "?"))))
    if not dated:
        raise CollectError("the feed's entries carry no dates")
    dated.sort(reverse=True)
    latest, title = dated[0]
    since = max(0.0, (now - latest).total_seconds() / 86400)
    recent = [d for d, _ in dated[:RELEASES_CONSIDERED]]
    gaps = [(a - b).total_seconds() / 86400 for a, b in itertools.pairwise(recent)]
    median = statistics.median(gaps) if gaps else since
    cadence = max(median, since)
    note = (f"last release {latest.date()} ({title[:60]}), {since:.0f} days ago; median gap "
            f"{median:.0f} days over the last {len(recent)} releases")
    return round(cadence, 1), note


def export_health_signals(runs: Sequence[Mapping[str, Any]],
                          health: Sequence[Mapping[str, Any]]) -> list[tuple[str, float, str]]:
    """Our own export health from recent backup runs and export health rows (newest first):
    (signal, value, note) for export_error_rate, rate_limit_rate, latency_trend,
    vanished_fields and deprecation_headers, each when there is enough data."""
    out: list[tuple[str, float, str]] = []
    # Only runs whose export reached a verdict say something about the vendor: a run that
    # failed at our storage, our configuration or a kill of our own process is not its fault.
    measured = [r for r in runs if r.get("status") not in (None, "running")
                and r.get("export_status") in ("complete", "incomplete", "failed")]
    if measured:
        bad = [r for r in measured if r.get("export_status") in ("failed", "incomplete")]
        out.append(("export_error_rate", round(len(bad) / len(measured), 4),
                    f"{len(bad)} of the last {len(measured)} exports failed at the source or "
                    "came back incomplete"))
    if not health:
        return out
    latest = health[0]
    run = f"run {latest.get('run_id')}"
    requests = int(latest.get("requests") or 0)
    if requests:
        limited = int(latest.get("rate_limited") or 0)
        out.append(("rate_limit_rate", round(limited / requests, 4),
                    f"{limited} of {requests} requests answered 429 ({run})"))
    per_request = [float(h.get("elapsed_s") or 0) / int(h["requests"]) for h in health
                   if int(h.get("requests") or 0) and float(h.get("elapsed_s") or 0) > 0]
    if len(per_request) >= 2 and requests and float(latest.get("elapsed_s") or 0) > 0:
        usual = statistics.median(per_request[1:])
        if usual > 0:
            ratio = per_request[0] / usual
            out.append(("latency_trend", round(ratio, 3),
                        f"{per_request[0] * 1000:.0f} ms per request ({run}) against a median "
                        f"of {usual * 1000:.0f} ms over {len(per_request) - 1} earlier runs"))
    if len(health) >= 2:
        now_props, before = latest.get("properties") or {}, health[1].get("properties") or {}
        gone = sorted(f"{obj}.{name}" for obj, names in before.items() if obj in now_props
                      for name in set(names) - set(now_props[obj]))
        out.append(("vanished_fields", float(len(gone)),
                    (f"gone since run {health[1].get('run_id')}: " + ", ".join(gone[:8]) +
                     (" …" if len(gone) > 8 else "")) if gone else
                    f"no field disappeared since run {health[1].get('run_id')}"))
    notices = latest.get("deprecations") or {}
    out.append(("deprecation_headers", float(len(notices)),
                ("; ".join(f"{path}: {h}" for path, h in list(notices.items())[:3]) if notices
                 else f"no Deprecation/Sunset header ({run})")))
    return out


def collect(settings: Settings, *, now: datetime | None = None) -> Collected:
    """Read every configured source and record what it says; a source that fails leaves a
    warning and its previous value in place (nothing is recorded for it)."""
    now = now or datetime.now(UTC)
    today = now.date()
    out = Collected()
    db = open_state_db(settings.state_dir)
    conf = settings.risk

    def keep(signal: str, value: float, source: str, note: str) -> None:
        riskdb.add_signal(db, signal, format_value(value), today.isoformat(), source=source,
                          note=note, same_day_replaces=True)
        out.recorded.append(Observation(signal, value, today, source, note))

    kept = "; the previous value is kept"
    headers = {"User-Agent": f"vaultkeeper/{__version__} (risk collect)",
               "Accept": "application/json, application/atom+xml, application/rss+xml, */*"}
    with httpx.Client(timeout=conf.collect_timeout, follow_redirects=True,
                      headers=headers) as client:
        if conf.statuspage_url:
            base = conf.statuspage_url.rstrip("/")
            for path, name, read in (
                    ("/api/v2/summary.json", "status_indicator", statuspage_summary),
                    ("/api/v2/incidents.json", "status_incidents",
                     lambda doc: statuspage_incidents(doc, now))):
                try:
                    value, note = read(_json(client, base + path))
                    keep(name, value, base, note)
                except CollectError as exc:
                    out.failed += 1
                    out.warnings.append(f"status page {base + path}: {exc}{kept}")
        if conf.release_feed_url:
            try:
                value, note = release_cadence(_get(client, conf.release_feed_url), now)
                keep("release_cadence", value, conf.release_feed_url, note)
            except CollectError as exc:
                out.failed += 1
                out.warnings.append(f"release feed {conf.release_feed_url}: {exc}{kept}")
    runs = rundb.runs(db, limit=10)
    health = riskdb.export_health(db, limit=10)
    signals = export_health_signals(runs, health)
    if not signals:
        out.warnings.append("export health: no backup runs yet, nothing to measure (run "
                            "`vaultkeeper backup`)")
    for name, value, note in signals:
        keep(name, value, "export health", note)
    return out
