"""Read-only views: which snapshot is where, and each location's health against the RPO."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from vaultkeeper.config import Settings
from vaultkeeper.db import drills as drilldb
from vaultkeeper.db import incremental as incdb
from vaultkeeper.db import jobs as jobdb
from vaultkeeper.db import readiness as readdb
from vaultkeeper.db import runs as rundb
from vaultkeeper.errors import StorageError
from vaultkeeper.privatefs import daemon_pid
from vaultkeeper.restic import RepositoryMissing
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.in_force import current_risk, risk_schedule
from vaultkeeper.services.scheduler import plan
from vaultkeeper.storage.locations import Location, preflight, resolve_locations


def snapshot_matrix(settings: Settings | CommandContext) -> dict[str, Any]:
    """Every snapshot (keyed by its original id) and the locations that hold it."""
    ctx = CommandContext.of(settings)
    ctx.password  # noqa: B018 - the guard (was an assert): no password, no snapshots
    by_original: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    names = []
    for location in ctx.locations():
        names.append(location.name)
        if location.offline and not preflight(location).present:
            errors[location.name] = "offline, not present"
            continue
        try:
            snaps = ctx.restic(location).snapshots()
        except StorageError as exc:
            errors[location.name] = exc.one_line()
            continue
        for snap in snaps:
            key = snap.original or snap.id
            row = by_original.setdefault(key, {"id": key, "short_id": key[:8],
                                               "time": snap.time.isoformat(),
                                               "tags": list(snap.tags), "locations": {}})
            row["locations"][location.name] = snap.short_id
    rows = sorted(by_original.values(), key=lambda r: r["time"])
    return {"locations": names, "errors": errors, "snapshots": rows}


def rpo_target(settings: Settings | CommandContext) -> timedelta:
    """The strictest recovery-point objective among the business processes."""
    processes = CommandContext.of(settings).policies.processes
    return min((p.rpo for p in processes), default=timedelta(days=1))


def status_report(settings: Settings | CommandContext, *,
                  now: datetime | None = None, verify: bool = False) -> dict[str, Any]:
    """Per location: last good backup, its age against the RPO, the last error.

    ``verify`` asks each present location (``restic snapshots``) whether the last good
    snapshot is still there: deleted out of band, the location is no longer "ok"."""
    now = now or datetime.now(UTC)
    ctx = CommandContext.of(settings)
    settings = ctx.settings
    rpo = rpo_target(ctx)
    db = ctx.db
    health = rundb.location_status(db)
    drills: dict[str, dict[str, Any]] = {}
    for row in reversed(drilldb.history(db, limit=200)):    # oldest first: newest wins
        drills[row["location"]] = {k: row.get(k) for k in (
            "id", "result", "finished_at", "short_id", "total_s")}
    locations = []
    for location in resolve_locations(settings):
        entry = health.get(location.name, {"last_good": None, "last_error": None})
        good = entry["last_good"]
        age = None if good is None else now - datetime.fromisoformat(good["at"])
        state = ("never backed up" if good is None else
                 "stale" if age is not None and age > rpo else "ok")
        if entry["last_error"] is not None:
            state = "failing" if good is None else f"{state}, last run failed"
        checked = _verify_location(ctx, location, good) if verify else None
        if checked is not None and checked != "present":
            state = checked
        locations.append({
            "name": location.name, "url": location.display_url, "offline": location.offline,
            "state": state, "last_good": good, "checked": checked,
            "age_s": None if age is None else int(age.total_seconds()),
            "rpo_s": int(rpo.total_seconds()), "last_error": entry["last_error"],
            "last_drill": drills.get(location.name)})
    last = rundb.runs(db, limit=1)
    crm_drills = {target: {k: row.get(k) for k in ("id", "result", "finished_at", "short_id",
                                                   "total_s", "records", "error")}
                  for target, row in readdb.latest_crm_drills(db).items()}
    phrases, reasons = risk_schedule(ctx)
    risk = current_risk(ctx)
    pid = daemon_pid(settings.state_dir)   # no scheduler: nothing is "due now"
    return {"rpo_s": int(rpo.total_seconds()), "locations": locations,
            "crm_drills": crm_drills,
            "last_run": last[0] if last else None,
            # The last backup's objects whose count no source confirmed (Airbyte, Singer …).
            "unverified_counts": last[0].get("unverified", []) if last else [],
            "unacknowledged_flags": rundb.unacknowledged_flags(db),
            "risk": {"level": risk.level, "score": round(risk.score, 1),
                     "coverage": round(risk.coverage, 3), "fresh_signals": risk.fresh,
                     "signals": risk.signals,
                     "actions": [a.as_json() for a in risk.actions]},
            "scheduler": {"running_pid": pid, "scheduled": pid is not None,
                          "reasons": reasons,
                          "jobs": [p.__dict__ | {"scheduled": pid is not None}
                                   for p in plan(settings, phrases, now=now)]},
            "api_usage": incdb.usage(db),
            "incremental": {"full_every": _every(settings.full_every),
                            "distrusted": incdb.distrusted(db)},
            "open_alerts": [{k: a[k] for k in ("key", "event", "subject", "first_at",
                                               "last_sent_at", "count")}
                            for a in jobdb.open_alerts(db)]}


def _verify_location(ctx: CommandContext, location: Location,
                     good: dict[str, Any] | None) -> str | None:
    """"present" when the last good snapshot is still at the location; otherwise what is
    wrong ("snapshot … missing", "repository missing"); None when it could not be asked."""
    probe = preflight(location)
    if not probe.present or probe.reachable is False:
        return None
    try:
        snaps = ctx.restic(location, timeout=300).snapshots()
    except RepositoryMissing:
        return "repository missing"
    except StorageError:
        return None
    if good is None:
        return "present"
    held = {s.id for s in snaps} | {s.original for s in snaps if s.original}
    if good.get("snapshot_id") not in held:
        return f"snapshot {good.get('short_id') or '?'} missing (deleted out of band?)"
    return "present"


def _every(value: timedelta | int | None) -> str | None:
    """``[schedule] full_every`` as written (``7d``, ``3 runs``); None when off."""
    if value is None:
        return None
    if isinstance(value, int):
        return f"{value} runs"
    return f"{value.total_seconds() / 86400:g}d"
