"""What is in force now: the vendor-risk level and the schedule it tightens.

Shared by the scheduler's jobs (services/jobs.py) and ``vaultkeeper status`` (services/status.py),
which therefore no longer import each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from vaultkeeper.config import Settings
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.risk import (
    LevelAction,
    assess,
    effective_schedule,
    interval_phrase,
    level_actions,
    load_observations,
)
from vaultkeeper.services.scheduler import configured_schedule


@dataclass
class RiskNow:
    """The risk level in force and what it does."""

    level: str
    score: float
    actions: list[LevelAction]
    coverage: float = 0.0      # share of the policy's weight whose signals have any value
    fresh: int = 0             # signals whose latest value still counts at least half
    signals: int = 0           # signals the policy weighs


def current_risk(settings: Settings | CommandContext) -> RiskNow:
    """Today's level from the stored signals (pure scoring; no history, so cheap every tick)."""
    ctx = CommandContext.of(settings)
    settings = ctx.settings
    policy = ctx.policies.risk
    observations, _ = load_observations(settings)
    now = assess(policy, observations, datetime.now(UTC).date())
    fresh = sum(1 for c in now.contributions if c.fading >= 0.5)
    return RiskNow(now.level, now.score, level_actions(policy.level(now.level)),
                   now.coverage, fresh, len(policy.signals))


def risk_schedule(settings: Settings | CommandContext) -> tuple[dict[str, str], list[str]]:
    """The phrases in force: ``[schedule]`` tightened by the current risk level."""
    ctx = CommandContext.of(settings)
    settings = ctx.settings
    base, reasons = configured_schedule(settings)
    policy = ctx.policies.risk
    level = current_risk(ctx).level
    schedule, why = effective_schedule(base, level, policy)
    if settings.escrow.url and "escrow" not in schedule:
        # Lazy: the escrow deposit service (restic, the package builder, ~0.4 s of imports)
        # is needed only when escrow is configured.
        from vaultkeeper.services.escrow.deposit import refresh_interval

        refresh = settings.escrow.refresh
        schedule["escrow"] = refresh if refresh.startswith("every") else \
            interval_phrase(refresh_interval(settings))
    return schedule, reasons + why
