"""Retention: which snapshots each location forgets, decided here and applied with
``restic forget <ids> --prune``, within guard rails.

Never on append-only or immutable locations (they would refuse, or worse, only hide data);
never while a mass deletion is unacknowledged (the vendor or a mistake must not be able to rotate
the good copies away). Priority snapshots (``scope:priority``, the risk-driven backups of the
top objects) are kept and pruned apart from whole exports, so hourly priority backups at red
can never rotate a complete snapshot away. Whatever the keep rules say, the newest complete
snapshot and the newest verified (drilled) one are never removed.

The keep rules are restic 0.14's own (``ApplyPolicy``: newest first, a snapshot is kept when a
rule still has budget and the snapshot opens a new hour/day/week/month/year for it), evaluated
here per group so that the groups can be chosen freely (restic 0.14 cannot exclude a tag).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vaultkeeper.config import Settings
from vaultkeeper.db import runs as rundb
from vaultkeeper.errors import StorageError
from vaultkeeper.policies import RetentionPolicy
from vaultkeeper.restic import Snapshot
from vaultkeeper.services.context import CommandContext
from vaultkeeper.storage.locations import preflight

log = logging.getLogger("vaultkeeper.retention")
PRIORITY_TAG = "scope:priority"
COMPLETE_TAG = "export:complete"
RULES = ("last", "hourly", "daily", "weekly", "monthly", "yearly")


@dataclass
class RetentionOutcome:
    """What retention did at one location."""

    location: str
    action: str                      # "pruned" | "skipped" | "failed" | "dry-run"
    reason: str = ""
    removed: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    stale_locks: list[str] = field(default_factory=list)


def keeps(policy: RetentionPolicy) -> dict[str, int]:
    """restic ``--keep-*`` values from the policy (0 = rule off)."""
    return policy.rules()


def protected_snapshots(db: Any) -> set[str]:
    """Snapshot ids that must survive retention: the newest drilled one (when drills exist)."""
    if "drills" not in db.table_names():
        return set()
    rows = list(db.query("select snapshot_id from drills where result = 'verified' "
                         "order by id desc limit 1"))
    return {rows[0]["snapshot_id"]} if rows else set()


def complete_snapshot_ids(db: Any) -> set[str]:
    """Ids (at every location) of snapshots whose export was complete, from the run history
    (for snapshots made before the ``export:complete`` tag existed)."""
    rundb.ensure_runs(db)
    return {row["snapshot_id"] for row in db.query(
        "select l.snapshot_id from backup_locations l join backup_runs r on r.id = l.run_id "
        "where r.export_status = 'complete' and l.result = 'ok' and l.snapshot_id != ''")}


def _bucket(rule: str, moment: datetime, nr: int) -> int:
    if rule == "last":
        return nr
    if rule == "hourly":
        return moment.year * 1_000_000 + moment.month * 10_000 + moment.day * 100 + moment.hour
    if rule == "daily":
        return moment.year * 10_000 + moment.month * 100 + moment.day
    if rule == "weekly":
        year, week, _ = moment.isocalendar()
        return year * 100 + week
    if rule == "monthly":
        return moment.year * 100 + moment.month
    return moment.year


def select_keep(snapshots: Iterable[Snapshot], rules: dict[str, int]) -> set[str]:
    """The ids restic 0.14's keep rules keep within one group."""
    ordered = sorted(snapshots, key=lambda s: s.time, reverse=True)
    budget = {rule: rules[rule] for rule in RULES if rules.get(rule, 0) > 0}
    last: dict[str, int] = {}
    keep: set[str] = set()
    for nr, snap in enumerate(ordered):
        for rule in budget:
            if budget[rule] <= 0:
                continue
            value = _bucket(rule, snap.time, nr)
            if value != last.get(rule):
                keep.add(snap.id)
                last[rule] = value
                budget[rule] -= 1
    return keep


def _ids(snap: Snapshot) -> set[str]:
    return {snap.id, snap.original or snap.id}


def plan_retention(snapshots: Sequence[Snapshot], rules: dict[str, int], *,
                   verified: AbstractSet[str] = frozenset(),
                   complete: AbstractSet[str] = frozenset()) -> tuple[list[str], list[str]]:
    """(ids to forget, ids the rules would forget but that are protected).

    Groups: host × (priority | whole export). Protected: the newest whole-export snapshot,
    the newest one whose export was complete (tag or run history), and every snapshot that
    is (a copy of) the newest verified one."""
    groups: dict[tuple[str, bool], list[Snapshot]] = {}
    for snap in snapshots:
        groups.setdefault((snap.hostname, PRIORITY_TAG in snap.tags), []).append(snap)
    keep: set[str] = set()
    for members in groups.values():
        keep |= select_keep(members, rules)
    whole = [s for s in snapshots if PRIORITY_TAG not in s.tags]
    guard: set[str] = set()
    if whole:
        guard.add(max(whole, key=lambda s: s.time).id)
        done = [s for s in whole if COMPLETE_TAG in s.tags or _ids(s) & complete]
        if done:
            guard.add(max(done, key=lambda s: s.time).id)
    guard |= {s.id for s in snapshots if _ids(s) & verified}
    doomed = [s.id for s in sorted(snapshots, key=lambda s: s.time) if s.id not in keep]
    return [i for i in doomed if i not in guard], [i for i in doomed if i in guard]


def retention_problems(outcomes: Sequence[RetentionOutcome]) -> list[str]:
    """One problem line per location where retention failed (the run is then not "ok")."""
    return [f"retention failed at {o.location}: {o.reason}" for o in outcomes
            if o.action == "failed"]


def fold_retention(settings: Settings | CommandContext, report: Any,
                   outcomes: Sequence[RetentionOutcome]) -> None:
    """A backup whose retention failed somewhere is not "ok": add the problems to the report
    (a BackupReport) and its run record, and make an "ok" run "partial"."""
    problems = retention_problems(outcomes)
    if not problems:
        return
    report.problems.extend(problems)
    report.status = rundb.degrade_run(CommandContext.of(settings).db, report.run_id, problems)


def apply_retention(settings: Settings | CommandContext, *,
                    dry_run: bool = False) -> list[RetentionOutcome]:
    """Apply the retention policy at every location that allows it."""
    ctx = CommandContext.of(settings)
    rules = keeps(ctx.policies.retention)
    db = ctx.db
    flags = rundb.unacknowledged_flags(db)
    verified = protected_snapshots(db)
    complete = complete_snapshot_ids(db)
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
        restic = ctx.restic(location)
        try:
            remove, protected = plan_retention(restic.snapshots(), rules, verified=verified,
                                               complete=complete)
            if not dry_run and remove:
                restic.forget_ids(remove, prune=True)
            outcomes.append(RetentionOutcome(
                location.name, "dry-run" if dry_run else "pruned", removed=remove,
                protected=protected, stale_locks=list(restic.locks_removed)))
        except StorageError as exc:
            log.warning("retention at %s failed: %s", location.name, exc.one_line())
            outcomes.append(RetentionOutcome(location.name, "failed", exc.one_line(),
                                             stale_locks=list(restic.locks_removed)))
    return outcomes
