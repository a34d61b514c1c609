"""Retention: ``restic forget --prune`` per location with the policy's keeps, within guard rails.

Never on append-only or immutable locations (they would refuse, or worse, only hide data);
never while a mass deletion is unacknowledged (the vendor or a mistake must not be able to rotate
the good copies away); never removing the newest snapshot that passed a drill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vaultkeeper.config import Settings
from vaultkeeper.db import runs as rundb
from vaultkeeper.errors import StorageError
from vaultkeeper.policies import RetentionPolicy
from vaultkeeper.services.context import CommandContext
from vaultkeeper.storage.locations import preflight


@dataclass
class RetentionOutcome:
    """What retention did at one location."""

    location: str
    action: str                      # "pruned" | "skipped" | "failed" | "dry-run"
    reason: str = ""
    removed: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)


def keeps(policy: RetentionPolicy) -> dict[str, int]:
    """restic ``--keep-*`` values from the policy (0 = rule off)."""
    rules = {"last": policy.keep_last, "hourly": policy.keep_hourly,
             "daily": policy.keep_daily, "weekly": policy.keep_weekly,
             "monthly": policy.keep_monthly, "yearly": policy.keep_yearly}
    return {k: v for k, v in rules.items() if v > 0}


def protected_snapshots(db: Any) -> set[str]:
    """Snapshot ids that must survive retention: the newest drilled one (when drills exist)."""
    if "drills" not in db.table_names():
        return set()
    rows = list(db.query("select snapshot_id from drills where result = 'verified' "
                         "order by id desc limit 1"))
    return {rows[0]["snapshot_id"]} if rows else set()


def apply_retention(settings: Settings | CommandContext, *,
                    dry_run: bool = False) -> list[RetentionOutcome]:
    """Apply the retention policy at every location that allows it."""
    ctx = CommandContext.of(settings)
    policy = ctx.policies.retention
    rules = keeps(policy)
    db = ctx.db
    flags = rundb.unacknowledged_flags(db)
    protected = protected_snapshots(db)
    outcomes = []
    for location in ctx.locations():
        if flags:
            run_ids = ", ".join(str(f["id"]) for f in flags)
            outcomes.append(RetentionOutcome(
                location.name, "skipped",
                f"suspended: possible mass deletion in run {run_ids}; check the data, then "
                f"`vaultkeeper backup acknowledge {flags[-1]['id']}`"))
            continue
        if location.append_only or location.immutable:
            outcomes.append(RetentionOutcome(location.name, "skipped",
                                             "append-only/immutable location: never pruned"))
            continue
        if not rules:
            outcomes.append(RetentionOutcome(location.name, "skipped", "no keep rule set"))
            continue
        if location.offline and not preflight(location).present:
            outcomes.append(RetentionOutcome(location.name, "skipped", "offline, not present"))
            continue
        try:
            restic = ctx.restic(location)
            plan = restic.forget(rules, prune=False, dry_run=True)
            # Copies carry the drilled snapshot as their `original`; protect those too.
            keep_ids = {s.id for s in restic.snapshots()
                        if s.id in protected or (s.original or "") in protected}
            remove = [i for i in plan.removed if i not in keep_ids]
            if not dry_run and remove:
                restic.forget_ids(remove, prune=True)
            outcomes.append(RetentionOutcome(
                location.name, "dry-run" if dry_run else "pruned", removed=remove,
                protected=sorted(keep_ids & set(plan.removed))))
        except StorageError as exc:
            outcomes.append(RetentionOutcome(location.name, "failed", exc.one_line()))
    return outcomes
