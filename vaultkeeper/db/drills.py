"""Restore drills in the state database: one row per drill, the whole report kept as JSON.

Contract: ``drills`` has at least id, started_at, finished_at, location, snapshot_id (the
snapshot's *original* full id: the id the backup created, the same in every location, so
retention can protect its copies everywhere), location_snapshot_id (its id at the drilled
location), short_id, snapshot_time, result ('running'|'verified'|'failed'|'error'), restore_s,
load_s, check_s, total_s, mirror_path, report (JSON text).
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from vaultkeeper.db import create_table, json_row, now_iso

TABLE = "drills"


def ensure_drills(db: sqlite_utils.Database) -> None:
    """Create the table if missing (idempotent)."""
    create_table(db, TABLE, {
        "id": int, "started_at": str, "finished_at": str, "location": str,
        "snapshot_id": str, "location_snapshot_id": str, "short_id": str,
        "snapshot_time": str, "result": str, "read_data_subset": str, "check_s": float,
        "restore_s": float, "load_s": float, "reconcile_s": float, "total_s": float,
        "records": int, "mirror_path": str, "error": str, "report": str,
    }, pk="id", not_null={"started_at", "location", "result"},
    indexes=[["location", "id"], ["result", "id"]])


def start_drill(db: sqlite_utils.Database, location: str) -> int:
    """Record a drill as running (a crash leaves it visibly unfinished)."""
    ensure_drills(db)
    table = db.table(TABLE)
    table.insert({"started_at": now_iso(), "location": location, "result": "running"})
    return int(table.last_pk or 0)


def finish_drill(db: sqlite_utils.Database, drill_id: int, fields: dict[str, Any],
                 report: dict[str, Any]) -> None:
    """Close a drill with its result and report."""
    db.table(TABLE).update(drill_id, {"finished_at": now_iso(), **fields,
                                      "report": json.dumps(report, ensure_ascii=False)})


def abandon_unfinished(db: sqlite_utils.Database) -> int:
    """Drills left 'running' by a crash become 'error'; returns how many."""
    ensure_drills(db)
    rows = list(db.table(TABLE).rows_where("result = 'running'"))
    for row in rows:
        db.table(TABLE).update(row["id"], {"result": "error", "finished_at": now_iso(),
                                           "error": "the drill did not finish (crash or kill)"})
    return len(rows)


def last_drilled(db: sqlite_utils.Database) -> dict[str, int]:
    """Per location, the id of its most recent drill (any result): higher is more recent."""
    ensure_drills(db)
    return {row["location"]: int(row["last"]) for row in db.query(
        "select location, max(id) as last from drills group by location")}


def count_at(db: sqlite_utils.Database, location: str) -> int:
    """How many drills a location has had (drives the rolling read-data subset)."""
    ensure_drills(db)
    return int(db.execute("select count(*) from drills where location = ?",
                          [location]).fetchone()[0])


def history(db: sqlite_utils.Database, limit: int = 50) -> list[dict[str, Any]]:
    """The most recent drills, newest first (without the full report)."""
    ensure_drills(db)
    rows = db.table(TABLE).rows_where(order_by="id desc", limit=limit)
    return [{k: v for k, v in row.items() if k != "report"} for row in rows]


def get(db: sqlite_utils.Database, drill_id: int) -> dict[str, Any] | None:
    """One drill with its report parsed."""
    ensure_drills(db)
    return json_row(db, TABLE, "id = ?", [drill_id], ["report"])
