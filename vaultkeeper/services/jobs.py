"""The jobs ``vaultkeeper run`` schedules, each turning its result into alerts.

A job never raises for an expected failure: it returns a JobOutcome and tells the alerter; the
alert key names the problem so it is sent once, repeated at most every ``repeat_after``, and
closed with one ``recovered`` message when the same job succeeds again.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from vaultkeeper.config import Settings
from vaultkeeper.db import jobs as jobdb
from vaultkeeper.errors import AlreadyRunning, StorageError, VaultkeeperError
from vaultkeeper.services.alerts import Alert, Alerter
from vaultkeeper.services.backup import BackupReport, run_backup
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.drill import DrillReport, run_drill
from vaultkeeper.services.in_force import current_risk, risk_schedule
from vaultkeeper.services.processes import priority_objects
from vaultkeeper.services.retention import (
    RetentionOutcome,
    apply_retention,
    fold_retention,
)
from vaultkeeper.services.risk import (
    collect,
    entering_actions,
)
from vaultkeeper.services.scheduler import Daemon, JobFn, JobOutcome
from vaultkeeper.services.status import status_report
from vaultkeeper.storage.locations import preflight

log = logging.getLogger("vaultkeeper.run")
CHECK_SUBSET = "2%"
"""The scheduled ``check`` job reads this share of the pack data (a full read is a drill's job)."""


def _failed(alerter: Alerter, job: str, exc: VaultkeeperError) -> JobOutcome:
    line = exc.one_line()
    alerter.notify(Alert("job_failed", f"job:{job}", f"The {job} job failed: {line}",
                         detail=f"Fix: {exc.fix}" if getattr(exc, "fix", None) else "",
                         facts={"job": job}))
    return JobOutcome("failed", line)


def run_manual(settings: Settings | CommandContext, job: str,
               body: Callable[[Alerter], JobOutcome]) -> JobOutcome:
    """A job started by hand (``vaultkeeper backup``, ``drill``, ``escrow deposit``) counts like
    a scheduled run: it is recorded in the job history (``status`` shows it, the scheduler's
    next run moves), its success closes the alerts it resolves and its findings alert as a
    scheduled run's would. Its errors are not alerted — the person who ran it sees them — but
    recorded as a failed run and raised to the command."""
    ctx = CommandContext.of(settings)
    db = ctx.db
    alerter = Alerter(ctx.settings, db)
    run_id = jobdb.start_job(db, job, "manual", os.getpid())
    try:
        outcome = body(alerter)
    except KeyboardInterrupt:
        jobdb.finish_job(db, run_id, "interrupted", "stopped by a signal")
        raise
    except BaseException as exc:
        jobdb.finish_job(db, run_id, "failed", exc.one_line() if isinstance(
            exc, VaultkeeperError) else f"unexpected {type(exc).__name__}")
        raise
    jobdb.finish_job(db, run_id, outcome.status, outcome.summary)
    return outcome


def backup_job(settings: Settings | CommandContext, alerter: Alerter, *,
               only: list[str] | None = None, job: str = "backup") -> JobOutcome:
    """Back up, apply retention, alert on failure, partial run or mass deletion."""
    ctx = CommandContext.of(settings)
    try:
        # scheduled: each object on its own cadence (services/incremental_run.not_due)
        report = run_backup(ctx, only=only, per_object_cadence=only is None)
    except AlreadyRunning as exc:
        return JobOutcome("skipped", exc.one_line())
    except VaultkeeperError as exc:
        return _failed(alerter, job, exc)
    outcomes = apply_retention(ctx)
    fold_retention(ctx, report, outcomes)   # failed retention: the run is partial
    return backup_outcome(alerter, report, outcomes, job=job)


def backup_outcome(alerter: Alerter, report: BackupReport,
                   outcomes: list[RetentionOutcome], *, job: str = "backup") -> JobOutcome:
    """The alerts a finished backup raises or closes, and its one-line summary."""
    alerter.resolve(f"job:{job}", "Backups work again")
    facts = {"run": report.run_id, "snapshot": report.snapshot_id[:8],
             "locations": ", ".join(f"{r.location}={r.result}" for r in report.locations)}
    if report.flagged:
        alerter.notify(Alert(
            "mass_deletion", f"mass-deletion:{report.run_id}",
            f"Possible mass deletion in the CRM (backup run {report.run_id})",
            detail=f"{report.flag_reason}. Pruning is suspended until someone checks the data "
                   f"and runs `vaultkeeper backup acknowledge {report.run_id}`.", facts=facts))
    failed = [r for r in report.locations if r.result == "failed"]
    if report.status == "partial":
        alerter.notify(Alert(
            "partial", "backup:partial", f"Backup run {report.run_id} was partial",
            detail="\n".join(report.problems), severity="warning", facts=facts))
    else:
        alerter.resolve("backup:partial", f"Backup run {report.run_id} reached every location")
    pruned = sum(len(o.removed) for o in outcomes if o.action == "pruned")
    retention_alerts(alerter, outcomes, report.run_id)
    summary = (f"run {report.run_id}: {report.status}, snapshot {report.snapshot_id[:8]}, "
               f"{len(report.locations) - len(failed)}/{len(report.locations)} locations, "
               f"retention removed {pruned}")
    return JobOutcome(report.status, summary, data=(report, outcomes))


def retention_alerts(alerter: Alerter, outcomes: list[RetentionOutcome], run_id: int) -> None:
    """Alert per location whose retention failed (closed when it works again)."""
    for outcome in outcomes:
        key = f"retention:{outcome.location}"
        if outcome.action == "failed":
            alerter.notify(Alert(
                "partial", key, f"Retention failed at {outcome.location}",
                detail=f"{outcome.reason}\nOld snapshots are not removed there, and the "
                       "location keeps growing until this is fixed.",
                facts={"run": run_id, "location": outcome.location}))
        elif outcome.action == "pruned":
            alerter.resolve(key, f"Retention works again at {outcome.location}")


def check_job(settings: Settings, alerter: Alerter) -> JobOutcome:
    """``restic check`` with a sampled data read at every present location."""
    ctx = CommandContext(settings)
    bad, done = [], 0
    for location in ctx.locations():
        probe = preflight(location)
        if location.offline and not probe.present:
            continue
        restic = ctx.restic(location)
        key = f"check:{location.name}"
        try:
            if probe.reachable is False:   # restic would retry a dead endpoint for minutes
                raise StorageError(f"{location.display_url} unreachable: "
                                   f"{'; '.join(probe.notes)}",
                                   "run `vaultkeeper locations check`")
            restic.check(read_data_subset=CHECK_SUBSET)
            done += 1
            alerter.resolve(key, f"{location.name}: repository check passes again")
        except StorageError as exc:
            bad.append(f"{location.name}: {exc.one_line()}")
            alerter.notify(Alert("job_failed", key,
                                 f"Repository check failed at {location.name}",
                                 detail=f"{exc.one_line()}\nFix: {exc.fix}",
                                 facts={"job": "check", "location": location.name}))
    if bad:
        return JobOutcome("partial" if done else "failed", "; ".join(bad))
    return JobOutcome("ok", f"{done} location(s) checked ({CHECK_SUBSET} of the data read)")


def priority_backup_job(settings: Settings, alerter: Alerter) -> JobOutcome:
    """Risk-driven: back up only the objects of the top-priority processes (red level)."""
    ctx = CommandContext(settings)
    rank = next((a.max_rank for a in current_risk(ctx).actions
                 if a.kind == "priority_backup" and a.max_rank), 1)
    only = priority_objects(ctx.policies.processes, rank)
    if not only:
        return JobOutcome("skipped", f"no process ranked ≤ {rank} names an object")
    outcome = backup_job(ctx, alerter, only=only, job="priority_backup")
    outcome.summary = f"objects {', '.join(only)}: {outcome.summary}"
    return outcome


def drill_alert(alerter: Alerter) -> Callable[[DrillReport], None]:
    """The drill's failure hook: one ``drill_failed`` alert per location."""
    def on_failure(report: DrillReport) -> None:
        alerter.notify(Alert(
            "drill_failed", f"drill:{report.location}",
            f"Restore drill failed at {report.location}",
            detail=report.error or report.summary(),
            facts={"drill": report.drill_id, "location": report.location,
                   "snapshot": report.short_id}))
    return on_failure


def drill_job(settings: Settings, alerter: Alerter) -> JobOutcome:
    """A restore drill of the location drilled least recently; alert when it fails."""
    try:
        report = run_drill(settings, alert=drill_alert(alerter))
    except AlreadyRunning as exc:
        return JobOutcome("skipped", exc.one_line())
    except VaultkeeperError as exc:
        return JobOutcome("failed", exc.one_line())   # on_failure already alerted
    return drill_outcome(alerter, report)


def drill_outcome(alerter: Alerter, report: DrillReport) -> JobOutcome:
    """A finished drill: close its location's alert when verified; the one-line summary."""
    if report.result == "verified":
        alerter.resolve(f"drill:{report.location}",
                        f"Restore drill at {report.location} verified again")
        notes = f"; {len(report.warnings)} warning(s)" if report.warnings else ""
        rto = report.durations.get("rto_s", 0.0)
        return JobOutcome("ok", f"{report.summary()} (restore + load {rto:.0f} s){notes}",
                          data=report)
    return JobOutcome("failed", report.summary(), data=report)


def risk_job(settings: Settings, alerter: Alerter) -> JobOutcome:
    """Collect the vendor's risk signals (status page, release feed, our own export health)."""
    collected = collect(settings)
    summary = f"{len(collected.recorded)} signal(s) recorded"
    if collected.warnings:
        summary += "; " + "; ".join(collected.warnings)
    return JobOutcome("partial" if collected.failed else "ok", summary)


EMERGENCY_DIR = "emergency"
EMERGENCY_KEEP = 2


def emergency_job(settings: Settings, alerter: Alerter) -> JobOutcome:
    """Risk-driven: a fresh emergency package from the newest verified snapshot, kept in
    ``<state_dir>/emergency/<UTC time>`` (the newest two are kept; 0700, personal data)."""
    # Lazy: the package builder and its libraries (~0.5 s of imports) are needed only by this
    # risk-driven job, not by every start of `vaultkeeper run` or `status`.
    from vaultkeeper.services.emergency.runner import run_emergency

    root = settings.state_dir / EMERGENCY_DIR
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    out = root / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        result = run_emergency(settings, out)
    except VaultkeeperError as exc:
        shutil.rmtree(out, ignore_errors=True)   # a half-built package never looks finished
        return _failed(alerter, "emergency", exc)
    alerter.resolve("job:emergency", "Emergency packages build again")
    for old in sorted(p for p in root.iterdir() if p.is_dir())[:-EMERGENCY_KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    status = "ok" if result.valid else "partial"
    total = sum(result.counts.values())
    return JobOutcome(status, f"package {out} ({total} records, {result.files} files"
                              + ("" if result.valid else ", validation errors") + ")")


def escrow_job(settings: Settings, alerter: Alerter) -> JobOutcome:
    """Refresh the escrow deposit (the newest verified snapshot, the kit, a signed inventory)."""
    # Lazy, like emergency_job: the escrow service is needed only when escrow is configured.
    from vaultkeeper.services.escrow.deposit import deposit

    try:
        result = deposit(settings)
    except VaultkeeperError as exc:
        return _failed(alerter, "escrow", exc)
    return escrow_outcome(alerter, result)


def escrow_outcome(alerter: Alerter, result: Any) -> JobOutcome:
    """A finished deposit closes the escrow alerts (failing job, stale deposit)."""
    alerter.resolve("job:escrow", "Escrow deposits work again")
    alerter.resolve("escrow:stale", "The escrow deposit is fresh again")
    return JobOutcome("ok", f"deposit {result.deposit_id}: snapshot {result.snapshot_id[:8]}, "
                            f"{len(result.files)} kit files", data=result)


def stale_escrow(daemon: Daemon) -> None:
    """Housekeeping: alert when the escrow deposit is older than ``[escrow] refresh``."""
    settings = daemon.settings
    if not settings.escrow.url:
        return
    # Lazy, like emergency_job: the escrow service is needed only when escrow is configured.
    from vaultkeeper.services.escrow.deposit import deposit_age, deposit_stale, refresh_interval

    alerter: Alerter = daemon.alerter
    if deposit_stale(settings):
        age = deposit_age(settings)
        alerter.notify(Alert(
            "escrow_stale", "escrow:stale",
            "No escrow deposit yet" if age is None else
            f"The escrow deposit is {age.days} days old (refresh {settings.escrow.refresh})",
            detail="Run `vaultkeeper escrow deposit` (it needs a verified drill) and "
                   "`vaultkeeper escrow verify --level 1`.", severity="warning",
            facts={"refresh_s": int(refresh_interval(settings).total_seconds())}))
    else:
        alerter.resolve("escrow:stale", "The escrow deposit is fresh again")


JOBS: dict[str, JobFn] = {"backup": backup_job, "priority_backup": priority_backup_job,
                          "drill": drill_job, "check": check_job, "risk": risk_job,
                          "escrow": escrow_job, "emergency": emergency_job}
"""Jobs this version can run."""


def stale_backups(daemon: Daemon) -> None:
    """Housekeeping: alert when a location's last good backup is older than the RPO."""
    alerter: Alerter = daemon.alerter
    report = status_report(daemon.settings, now=datetime.now(UTC))
    hours = report["rpo_s"] / 3600
    for loc in report["locations"]:
        key = f"stale:{loc['name']}"
        if loc["age_s"] is not None and loc["age_s"] > report["rpo_s"]:
            age_h = loc["age_s"] / 3600
            what = "offline disk" if loc["offline"] else "location"
            alerter.notify(Alert(
                "backup_stale", key,
                f"The last good backup at {loc['name']} is {age_h:.1f} h old (RPO {hours:g} h)",
                detail=(f"Plug in the {what} so the next run copies to it." if loc["offline"]
                        else f"Last error: {(loc['last_error'] or {}).get('error', 'none')}. "
                             "Run `vaultkeeper status` and `vaultkeeper locations check`."),
                severity="warning" if loc["offline"] else "critical",
                facts={"location": loc["name"], "age_s": loc["age_s"]}))
        elif loc["age_s"] is not None:
            alerter.resolve(key, f"{loc['name']} has a fresh backup again")


def risk_level_changes(daemon: Daemon) -> None:
    """Housekeeping: when the level changes, log it; when it rises, run the level's immediate
    jobs and alert (once per change: the level acted on is kept across restarts)."""
    ctx = CommandContext(daemon.settings)
    db = ctx.db
    now = current_risk(ctx)
    previous = jobdb.get_state(db, "risk_level")
    if previous == now.level:
        return
    policy = ctx.policies.risk
    known = previous if previous in [lvl.name for lvl in policy.levels] else None
    jobdb.set_state(db, "risk_level", now.level)
    log.warning("risk level %s → %s (score %.0f)", previous or "unknown", now.level, now.score)
    alerter: Alerter = daemon.alerter
    for action in entering_actions(known, now.level, policy):
        if action.kind == "immediate" and action.job:
            daemon.run_soon(action.job, f"risk level {now.level}")
        elif action.kind == "alert":
            alerter.notify(Alert(
                "risk_level", f"risk:{now.level}",
                f"Vendor risk is {now.level} (score {now.score:.0f})",
                detail=policy.level(now.level).description + "\nSee `vaultkeeper risk show`.",
                facts={"level": now.level, "score": round(now.score, 1),
                       "actions": "; ".join(a.description for a in now.actions)}))
    # Levels above the current one are over: close their alerts (one `recovered` each).
    for level in policy.levels[policy.rank_of(now.level) + 1:]:
        alerter.resolve(f"risk:{level.name}", f"Vendor risk is down to {now.level} "
                                              f"(score {now.score:.0f})")


def make_daemon(settings: Settings, *, tick: float = 30.0, once: bool = False) -> Daemon:
    """The scheduler with this version's jobs, alerting and housekeeping."""
    ctx = CommandContext(settings)
    alerter = Alerter(settings, ctx.db)
    return Daemon(settings, dict(JOBS), lambda: risk_schedule(settings), alerter,
                  housekeeping=_housekeeping, tick=tick, once=once, context=ctx)


def _housekeeping(daemon: Daemon) -> None:
    stale_backups(daemon)
    risk_level_changes(daemon)
    stale_escrow(daemon)
