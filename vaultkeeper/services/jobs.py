"""The jobs ``vaultkeeper run`` schedules, each turning its result into alerts.

A job never raises for an expected failure: it returns a JobOutcome and tells the alerter; the
alert key names the problem so it is sent once, repeated at most every ``repeat_after``, and
closed with one ``recovered`` message when the same job succeeds again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from vaultkeeper.config import Settings
from vaultkeeper.db import open_state_db
from vaultkeeper.errors import StorageError, VaultkeeperError
from vaultkeeper.restic import Restic
from vaultkeeper.services.alerts import Alert, Alerter
from vaultkeeper.services.backup import AlreadyRunning, run_backup
from vaultkeeper.services.retention import apply_retention
from vaultkeeper.services.scheduler import Daemon, JobFn, JobOutcome, configured_schedule
from vaultkeeper.services.status import status_report
from vaultkeeper.storage.locations import preflight, resolve_locations

CHECK_SUBSET = "2%"
"""The scheduled ``check`` job reads this share of the pack data (a full read is a drill's job)."""


def _failed(alerter: Alerter, job: str, exc: VaultkeeperError) -> JobOutcome:
    line = exc.one_line()
    alerter.notify(Alert("job_failed", f"job:{job}", f"The {job} job failed: {line}",
                         detail=f"Fix: {exc.fix}" if getattr(exc, "fix", None) else "",
                         facts={"job": job}))
    return JobOutcome("failed", line)


def backup_job(settings: Settings, alerter: Alerter) -> JobOutcome:
    """Back up, apply retention, alert on failure, partial run or mass deletion."""
    try:
        report = run_backup(settings)
    except AlreadyRunning as exc:
        return JobOutcome("skipped", exc.one_line())
    except VaultkeeperError as exc:
        return _failed(alerter, "backup", exc)
    alerter.resolve("job:backup", "Backups work again")
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
    outcomes = apply_retention(settings)
    pruned = sum(len(o.removed) for o in outcomes if o.action == "pruned")
    summary = (f"run {report.run_id}: {report.status}, snapshot {report.snapshot_id[:8]}, "
               f"{len(report.locations) - len(failed)}/{len(report.locations)} locations, "
               f"retention removed {pruned}")
    return JobOutcome(report.status, summary)


def check_job(settings: Settings, alerter: Alerter) -> JobOutcome:
    """``restic check`` with a sampled data read at every present location."""
    assert settings.repository_password is not None
    bad, done = [], 0
    for location in resolve_locations(settings):
        probe = preflight(location)
        if location.offline and not probe.present:
            continue
        restic = Restic(location, settings.repository_password,
                        cache_dir=settings.state_dir / "cache", cwd=settings.base_dir)
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


JOBS: dict[str, JobFn] = {"backup": backup_job, "check": check_job}
"""Jobs this version can run (drill and risk join when they exist)."""


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


def make_daemon(settings: Settings, *, tick: float = 30.0, once: bool = False) -> Daemon:
    """The scheduler with this version's jobs, alerting and housekeeping."""
    alerter = Alerter(settings, open_state_db(settings.state_dir))
    return Daemon(settings, dict(JOBS), lambda: configured_schedule(settings), alerter,
                  housekeeping=_housekeeping, tick=tick, once=once)


def _housekeeping(daemon: Daemon) -> None:
    stale_backups(daemon)
