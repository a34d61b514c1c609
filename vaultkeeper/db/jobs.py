"""Scheduled job runs and sent alerts in the state database.

``job_runs`` is what lets ``vaultkeeper run`` survive a restart: the last *finished* run of each job
(interrupted ones do not count) decides whether a scheduled time was missed. ``alerts`` remembers
what was sent so an unresolved problem is not repeated on every tick.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlite_utils

from vaultkeeper.db import create_table, now_iso

FINISHED = ("ok", "partial", "failed", "skipped")
"""Statuses that count as "this scheduled time was served" (not ``running``/``interrupted``)."""


def ensure_jobs(db: sqlite_utils.Database) -> None:
    """Create the tables if missing (idempotent)."""
    create_table(db, "job_runs", {
        "id": int, "job": str, "reason": str, "started_at": str, "finished_at": str,
        "status": str, "summary": str, "pid": int,
    }, pk="id", not_null={"job", "started_at", "status"}, indexes=[["job", "id"]])
    create_table(db, "alerts", {
        "key": str, "event": str, "subject": str, "first_at": str, "last_sent_at": str,
        "count": int, "resolved_at": str, "delivery": str,
    }, pk="key")


def start_job(db: sqlite_utils.Database, job: str, reason: str, pid: int) -> int:
    """Record that ``job`` started; returns the run id."""
    ensure_jobs(db)
    table = db.table("job_runs")
    table.insert({"job": job, "reason": reason, "started_at": now_iso(), "status": "running",
                  "pid": pid})
    return int(table.last_pk or 0)


def finish_job(db: sqlite_utils.Database, run_id: int, status: str, summary: str) -> None:
    """Record how a job run ended."""
    db.table("job_runs").update(run_id, {"finished_at": now_iso(), "status": status,
                                         "summary": summary})


def interrupt_stale(db: sqlite_utils.Database) -> int:
    """Runs left ``running`` by a dead scheduler become ``interrupted`` (caller holds the lock)."""
    ensure_jobs(db)
    cursor = db.execute("update job_runs set status = 'interrupted', finished_at = ? "
                        "where status = 'running'", [now_iso()])
    return int(cursor.rowcount)


def last_served(db: sqlite_utils.Database) -> dict[str, datetime]:
    """Per job, when its newest finished run started."""
    ensure_jobs(db)
    marks = ", ".join("?" for _ in FINISHED)
    rows = db.query("select job, max(started_at) as at from job_runs "  # noqa: S608 -- ? only
                    f"where status in ({marks}) group by job", list(FINISHED))
    return {r["job"]: datetime.fromisoformat(r["at"]) for r in rows}


def recent_runs(db: sqlite_utils.Database, *, job: str | None = None,
                limit: int = 20) -> list[dict[str, Any]]:
    """The newest job runs, newest first."""
    ensure_jobs(db)
    if job:
        return list(db.query("select * from job_runs where job = ? order by id desc limit ?",
                             [job, limit]))
    return list(db.query("select * from job_runs order by id desc limit ?", [limit]))


# ------------------------------------------------------------------------------------ alerts
def alert_state(db: sqlite_utils.Database, key: str) -> dict[str, Any] | None:
    """What was last sent for this problem key, if anything."""
    ensure_jobs(db)
    rows = list(db.query("select * from alerts where key = ?", [key]))
    return rows[0] if rows else None


def open_alerts(db: sqlite_utils.Database, prefix: str = "") -> list[dict[str, Any]]:
    """Problems alerted and not resolved yet (optionally only keys starting with ``prefix``)."""
    ensure_jobs(db)
    return list(db.query("select * from alerts where resolved_at is null and key like ? "
                         "order by key", [prefix + "%"]))


def record_alert(db: sqlite_utils.Database, key: str, event: str, subject: str,
                 delivery: dict[str, str]) -> None:
    """Remember that an alert for ``key`` went out now (reopening a resolved one)."""
    ensure_jobs(db)
    now = now_iso()
    old = alert_state(db, key) or {}
    reopened = not old or old["resolved_at"] is not None
    db.table("alerts").upsert({
        "key": key, "event": event, "subject": subject,
        "first_at": now if reopened else old["first_at"],
        "last_sent_at": now, "count": 1 if reopened else int(old["count"]) + 1,
        "resolved_at": None, "delivery": json.dumps(delivery, sort_keys=True)}, pk="key")


def resolve_alert(db: sqlite_utils.Database, key: str) -> bool:
    """Mark an open problem resolved; True when there was one."""
    ensure_jobs(db)
    cursor = db.execute("update alerts set resolved_at = ? where key = ? and resolved_at is null",
                        [now_iso(), key])
    return bool(cursor.rowcount)


# ----------------------------------------------------------------------------- scheduler state
def get_state(db: sqlite_utils.Database, key: str) -> str | None:
    """A remembered value of the scheduler (e.g. the risk level it last acted on)."""
    ensure_jobs(db)
    if "scheduler_state" not in db.table_names():
        return None
    rows = list(db.query("select value from scheduler_state where key = ?", [key]))
    return rows[0]["value"] if rows else None


def set_state(db: sqlite_utils.Database, key: str, value: str) -> None:
    """Remember a value across restarts."""
    db.table("scheduler_state").upsert({"key": key, "value": value, "at": now_iso()}, pk="key")
