"""Backup runs and their per-location results in the state database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from vaultkeeper.db import create_table, now_iso


def ensure_runs(db: sqlite_utils.Database) -> None:
    """Create the tables if missing (idempotent)."""
    create_table(db, "backup_runs", {
        "id": int, "started_at": str, "finished_at": str, "status": str,
        "export_status": str, "manifest_sha256": str, "counts": str, "problems": str,
        "error": str, "flagged": int, "flag_reason": str, "acknowledged_at": str,
        "acknowledged_by": str,
    }, pk="id", not_null={"started_at", "status"}, defaults={"flagged": 0},
    indexes=[["status", "id"]])
    if "scope" not in db.table("backup_runs").columns_dict:
        # "full" or "priority" (risk-driven backups of the top-priority objects only).
        db.table("backup_runs").add_column("scope", str, not_null_default="full")
    if "unverified" not in db.table("backup_runs").columns_dict:
        # JSON list: objects whose count the source did not report (Airbyte, Singer …).
        db.table("backup_runs").add_column("unverified", str)
    create_table(db, "backup_locations", {
        "run_id": int, "location": str, "role": str, "result": str, "snapshot_id": str,
        "short_id": str, "bytes_added": int, "duration_s": float, "error": str,
        "finished_at": str,
    }, pk=("run_id", "location"), foreign_keys=[("run_id", "backup_runs", "id")],
    indexes=[["location", "result"]])


@dataclass(frozen=True)
class LocationResult:
    """One location's outcome in one run."""

    location: str
    role: str          # "primary" (restic backup) | "copy" (restic copy) | "skipped"
    result: str        # "ok" | "failed" | "skipped"
    snapshot_id: str = ""
    short_id: str = ""
    bytes_added: int = 0
    duration_s: float = 0.0
    error: str = ""


def start_run(db: sqlite_utils.Database, scope: str = "full") -> int:
    """Record a run as started ("running" until finished: a crash leaves it visibly unfinished)."""
    ensure_runs(db)
    table = db.table("backup_runs")
    table.insert({"started_at": now_iso(), "status": "running", "scope": scope})
    return int(table.last_pk or 0)


def record_location(db: sqlite_utils.Database, run_id: int, result: LocationResult) -> None:
    """Store (or replace) one location's result for a run."""
    db.table("backup_locations").upsert({"run_id": run_id, "finished_at": now_iso(),
                                   **result.__dict__}, pk=("run_id", "location"))


def finish_run(db: sqlite_utils.Database, run_id: int, *, status: str, export_status: str = "",
               manifest_sha256: str = "", counts: dict[str, int] | None = None,
               problems: list[str] | None = None, error: str = "", flagged: bool = False,
               flag_reason: str = "", unverified: list[str] | None = None) -> None:
    """Close a run with its final status."""
    db.table("backup_runs").update(run_id, {
        "finished_at": now_iso(), "status": status, "export_status": export_status,
        "manifest_sha256": manifest_sha256, "counts": json.dumps(counts or {}),
        "problems": json.dumps(problems or []), "error": error, "flagged": int(flagged),
        "flag_reason": flag_reason, "unverified": json.dumps(unverified or [])})


def degrade_run(db: sqlite_utils.Database, run_id: int, problems: list[str]) -> str:
    """After the run: add problems (retention failed…); an "ok" run becomes "partial".
    Returns the run's status now."""
    ensure_runs(db)
    row = db.table("backup_runs").get(run_id)
    status = "partial" if row["status"] == "ok" else row["status"]
    known = json.loads(row["problems"] or "[]")
    db.table("backup_runs").update(run_id, {"status": status,
                                            "problems": json.dumps(known + problems)})
    return str(status)


def abandon_unfinished(db: sqlite_utils.Database) -> int:
    """Mark runs left "running" by a crash as "crashed"; returns how many."""
    ensure_runs(db)
    rows = list(db.table("backup_runs").rows_where("status = 'running'"))
    for row in rows:
        db.table("backup_runs").update(row["id"], {"status": "crashed", "finished_at": now_iso(),
                                             "error": "the run did not finish (crash or kill)"})
    return len(rows)


def previous_counts(db: sqlite_utils.Database) -> dict[str, int] | None:
    """Per-object counts for the mass-deletion guard: each object's count in the newest run that
    stored a snapshot with it (a priority run holds only some objects; the others keep the
    count of the last full run)."""
    ensure_runs(db)
    rows = list(db.table("backup_runs").rows_where(
        "status in ('ok', 'partial') and counts is not null and counts != '{}'",
        order_by="id desc", limit=50))
    if not rows:
        return None
    counts: dict[str, int] = {}
    for row in rows:
        for name, count in json.loads(row["counts"]).items():
            counts.setdefault(name, count)
        if row["scope"] == "full":
            break
    return counts


def unacknowledged_flags(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Flagged runs (mass deletion) nobody has acknowledged: pruning stays suspended."""
    ensure_runs(db)
    return [_decoded(r) for r in db.table("backup_runs").rows_where(
        "flagged = 1 and acknowledged_at is null", order_by="id")]


def acknowledge(db: sqlite_utils.Database, run_id: int, by: str) -> bool:
    """Acknowledge a flagged run; False if there is no such flagged run."""
    ensure_runs(db)
    rows = list(db.table("backup_runs").rows_where("id = ? and flagged = 1", [run_id]))
    if not rows:
        return False
    db.table("backup_runs").update(run_id, {"acknowledged_at": now_iso(), "acknowledged_by": by})
    return True


def location_status(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    """Per location: the last good snapshot (time, id) and the last failure, if later."""
    ensure_runs(db)
    out: dict[str, dict[str, Any]] = {}
    for row in db.query(
        "select l.location, l.result, l.snapshot_id, l.short_id, l.error, l.finished_at, "
        "l.run_id from backup_locations l order by l.run_id"):
        entry = out.setdefault(row["location"], {"last_good": None, "last_error": None})
        if row["result"] == "ok":
            entry["last_good"] = {"at": row["finished_at"], "snapshot_id": row["snapshot_id"],
                                  "short_id": row["short_id"], "run_id": row["run_id"]}
            entry["last_error"] = None
        elif row["result"] == "failed":
            entry["last_error"] = {"at": row["finished_at"], "error": row["error"],
                                   "run_id": row["run_id"]}
    return out


def runs(db: sqlite_utils.Database, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent runs, newest first (JSON columns decoded, flags as booleans)."""
    ensure_runs(db)
    return [_decoded(r) for r in db.table("backup_runs").rows_where(order_by="id desc",
                                                                    limit=limit)]


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    """A run row as data: ``counts``/``problems`` are stored as JSON text, ``flagged`` as 0/1."""
    out = dict(row)
    for key, empty in (("counts", {}), ("problems", []), ("unverified", [])):
        text = out.get(key)
        out[key] = json.loads(text) if isinstance(text, str) and text else empty
    if "flagged" in out:
        out["flagged"] = bool(out["flagged"])
    return out
