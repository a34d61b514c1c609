"""Read-only views: which snapshot is where, and each location's health against the RPO."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from vaultkeeper.config import Settings
from vaultkeeper.db import drills as drilldb
from vaultkeeper.db import jobs as jobdb
from vaultkeeper.db import open_state_db
from vaultkeeper.db import runs as rundb
from vaultkeeper.errors import StorageError
from vaultkeeper.policies import load_policies
from vaultkeeper.restic import Restic
from vaultkeeper.services.scheduler import daemon_pid, plan
from vaultkeeper.storage.locations import preflight, resolve_locations


def snapshot_matrix(settings: Settings) -> dict[str, Any]:
    """Every snapshot (keyed by its original id) and the locations that hold it."""
    assert settings.repository_password is not None
    by_original: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    names = []
    for location in resolve_locations(settings):
        names.append(location.name)
        if location.offline and not preflight(location).present:
            errors[location.name] = "offline, not present"
            continue
        try:
            snaps = Restic(location, settings.repository_password,
                           cache_dir=settings.state_dir / "cache",
                           cwd=settings.base_dir).snapshots()
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


def rpo_target(settings: Settings) -> timedelta:
    """The strictest recovery-point objective among the business processes."""
    processes = load_policies(settings.policies_dir).processes
    return min((p.rpo for p in processes), default=timedelta(days=1))


def status_report(settings: Settings, *, now: datetime | None = None) -> dict[str, Any]:
    """Per location: last good backup, its age against the RPO, the last error."""
    now = now or datetime.now(UTC)
    rpo = rpo_target(settings)
    db = open_state_db(settings.state_dir)
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
        locations.append({
            "name": location.name, "url": location.display_url, "offline": location.offline,
            "state": state, "last_good": good,
            "age_s": None if age is None else int(age.total_seconds()),
            "rpo_s": int(rpo.total_seconds()), "last_error": entry["last_error"],
            "last_drill": drills.get(location.name)})
    last = rundb.runs(db, limit=1)
    from vaultkeeper.services.jobs import current_risk, risk_schedule  # (jobs imports status)

    phrases, reasons = risk_schedule(settings)
    risk = current_risk(settings)
    pid = daemon_pid(settings.state_dir)   # no scheduler: nothing is "due now"
    return {"rpo_s": int(rpo.total_seconds()), "locations": locations,
            "last_run": last[0] if last else None,
            "unacknowledged_flags": rundb.unacknowledged_flags(db),
            "risk": {"level": risk.level, "score": round(risk.score, 1),
                     "actions": [a.as_json() for a in risk.actions]},
            "scheduler": {"running_pid": pid, "scheduled": pid is not None,
                          "reasons": reasons,
                          "jobs": [p.__dict__ | {"scheduled": pid is not None}
                                   for p in plan(settings, phrases, now=now)]},
            "open_alerts": [{k: a[k] for k in ("key", "event", "subject", "first_at",
                                               "last_sent_at", "count")}
                            for a in jobdb.open_alerts(db)]}
