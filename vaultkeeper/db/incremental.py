"""Incremental-export state and API usage in the state database.

``incremental_state``: one row per source while its synthetic chain is distrusted (a scheduled
full export disagreed with it): every backup is a full one until a full run's comparison is
clean again. ``api_usage``: requests vaultkeeper sent to the source, per UTC day.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlite_utils

STATE = "incremental_state"
USAGE = "api_usage"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def ensure_incremental(db: sqlite_utils.Database) -> None:
    """Create the tables if missing (idempotent)."""
    if STATE not in db.table_names():
        db.table(STATE).create({"source": str, "forced_since": str, "reason": str,
                                "run_id": int}, pk="source")
    if USAGE not in db.table_names():
        db.table(USAGE).create({"day": str, "source": str, "requests": int, "runs": int},
                               pk=("day", "source"))


def forced_full(db: sqlite_utils.Database, source: str) -> dict[str, Any] | None:
    """Why every backup of ``source`` is a full one now (None: incremental runs allowed)."""
    ensure_incremental(db)
    rows = list(db.table(STATE).rows_where("source = ?", [source], limit=1))
    return rows[0] if rows else None


def distrusted(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The first source whose chain is distrusted (None: none is)."""
    ensure_incremental(db)
    rows = list(db.table(STATE).rows_where(order_by="forced_since", limit=1))
    return rows[0] if rows else None


def force_full(db: sqlite_utils.Database, source: str, reason: str, run_id: int) -> None:
    """From now on back ``source`` up in full (a comparison failed)."""
    ensure_incremental(db)
    db.table(STATE).upsert({"source": source, "forced_since": _now(), "reason": reason,
                            "run_id": run_id}, pk="source")


def clear_forced(db: sqlite_utils.Database, source: str) -> bool:
    """Allow incremental runs again (a clean comparison, or acknowledged); True if it was set."""
    ensure_incremental(db)
    if forced_full(db, source) is None:
        return False
    db.table(STATE).delete(source)
    return True


def add_usage(db: sqlite_utils.Database, source: str, requests: int,
              day: str | None = None) -> None:
    """Count ``requests`` sent to ``source`` today (UTC)."""
    ensure_incremental(db)
    day = day or datetime.now(UTC).date().isoformat()
    table = db.table(USAGE)
    rows = list(table.rows_where("day = ? and source = ?", [day, source], limit=1))
    used, runs = (rows[0]["requests"], rows[0]["runs"]) if rows else (0, 0)
    table.upsert({"day": day, "source": source, "requests": used + requests, "runs": runs + 1},
                 pk=("day", "source"))


def usage(db: sqlite_utils.Database, days: int = 7) -> list[dict[str, Any]]:
    """Requests per day and source, newest first (``days`` days at most)."""
    ensure_incremental(db)
    return list(db.table(USAGE).rows_where(order_by="day desc, source", limit=days * 4))
