"""Rehearsals in the state database: one row per ``emergency rehearse``, the report as JSON.

Contract: ``rehearsals`` has id, started_at, finished_at, package (folder), package_created
(the package's ``created_at``), package_sha256 (of its package.json), target (the label the
user gave, never a secret), kind (tryton | hubspot | salesforce), result ('running' |
'passed' | 'failed' | 'error'), records, lost (values and links lost), error, report (JSON).
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from vaultkeeper.db import create_table, now_iso

TABLE = "rehearsals"


def ensure_rehearsals(db: sqlite_utils.Database) -> None:
    """Create the table if missing (idempotent)."""
    create_table(db, TABLE, {
        "id": int, "started_at": str, "finished_at": str, "package": str,
        "package_created": str, "package_sha256": str, "target": str, "kind": str,
        "result": str, "records": int, "lost": int, "error": str, "report": str,
    }, pk="id", not_null={"started_at", "target", "result"}, indexes=[["result", "id"]])


def start_rehearsal(db: sqlite_utils.Database, *, package: str, package_created: str,
                    package_sha256: str, target: str, kind: str) -> int:
    """Record a rehearsal as running (a crash leaves it visibly unfinished)."""
    ensure_rehearsals(db)
    table = db.table(TABLE)
    table.insert({"started_at": now_iso(), "package": package, "package_created": package_created,
                  "package_sha256": package_sha256, "target": target, "kind": kind,
                  "result": "running"})
    return int(table.last_pk or 0)


def finish_rehearsal(db: sqlite_utils.Database, rehearsal_id: int, *, result: str,
                     records: int = 0, lost: int = 0, error: str = "",
                     report: dict[str, Any] | None = None) -> None:
    """Close a rehearsal with its result and report."""
    db.table(TABLE).update(rehearsal_id, {
        "finished_at": now_iso(), "result": result, "records": records, "lost": lost,
        "error": error, "report": json.dumps(report or {}, ensure_ascii=False)})


def latest_rehearsal(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The newest rehearsal that ran to a verdict (passed or failed), report parsed."""
    if TABLE not in db.table_names():
        return None
    rows = list(db.query("SELECT * FROM rehearsals WHERE result IN ('passed', 'failed') "
                         "ORDER BY id DESC LIMIT 1"))
    if not rows:
        return None
    row = dict(rows[0])
    try:
        row["report"] = json.loads(row.get("report") or "{}")
    except ValueError:
        row["report"] = {}
    return row
