"""Risk service: record a value, and report the score, trend and actions from the state DB."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from vaultkeeper.config import Settings
from vaultkeeper.db import risk as riskdb
from vaultkeeper.errors import UsageError
from vaultkeeper.policies import SIGNAL_KINDS, RiskLevel
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.risk.schedule import LevelAction, level_actions
from vaultkeeper.services.risk.scoring import Assessment, Trend, assess, history, trend
from vaultkeeper.services.risk.values import (
    Observation,
    format_value,
    observations_from_rows,
    parse_value,
)
from vaultkeeper.tomlcheck import suggest


def _today() -> date:
    return datetime.now(UTC).date()


def record(settings: Settings | CommandContext, signal: str, value: str, *, on: date | None = None,
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
    ctx = CommandContext.of(settings)
    policy = ctx.policies.risk
    warnings = []
    weighed = policy.signal(signal)
    if weighed is None or not weighed.weight:
        warnings.append(f"{signal} is recorded, but policies/risk.toml gives it no weight, "
                        "so it does not change the score")
    riskdb.add_signal(ctx.db, signal, format_value(parsed), when.isoformat(), source=source,
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


def load_observations(settings: Settings | CommandContext
                      ) -> tuple[list[Observation], list[str]]:
    """Every stored observation."""
    return observations_from_rows(riskdb.signal_rows(CommandContext.of(settings).db))


def report(settings: Settings | CommandContext, *, as_of: date | None = None) -> RiskReport:
    """Score, explanation, trend, actions and history as of a date (default today)."""
    ctx = CommandContext.of(settings)
    policy = ctx.policies.risk
    observations, warnings = load_observations(ctx)
    day = as_of or _today()
    now = assess(policy, observations, day)
    level = policy.level(now.level)
    return RiskReport(now, trend(policy, observations, day), level, level_actions(level),
                      history(policy, observations, day), warnings)


def current_level(settings: Settings | CommandContext) -> tuple[str, float, list[LevelAction]]:
    """The level now, the score and the active actions (for `status` and `run`)."""
    r = report(settings)
    return r.assessment.level, r.assessment.score, r.actions
