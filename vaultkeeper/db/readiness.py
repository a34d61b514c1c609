"""Read-only access for process readiness: the last drill and the drilled SQLite mirror.

The ``drills`` table belongs to the drill module; here it is only read, and a database without
it (no drill yet) is normal. The mirror is opened read-only: acceptance checks can never change
it, whatever SQL a policy holds.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils

DRILLS = "drills"


CRM_DRILL = "crm:%"
"""Drills into a CRM (``drill --into-crm``) are recorded with location ``crm:<target>``."""


def latest_drill(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The most recent drill into the mirror (any result), or None when none was ever run."""
    return _latest_mirror_drill(db, "")


def latest_verified_drill(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The most recent drill into the mirror whose result is ``verified``."""
    return _latest_mirror_drill(db, "result = 'verified' and ")


def _latest_mirror_drill(db: sqlite_utils.Database, condition: str) -> dict[str, Any] | None:
    """The newest drill into the mirror (not ``crm:``) meeting ``condition`` (a constant SQL
    prefix ending in ``and``, or empty)."""
    if DRILLS not in db.table_names():
        return None
    rows = list(db.query(f"select * from {DRILLS} where {condition}"  # noqa: S608
                         "location not like ? order by id desc limit 1", [CRM_DRILL]))
    return rows[0] if rows else None


def latest_crm_drills(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    """Per CRM target, its most recent ``drill --into-crm`` (report parsed)."""
    if DRILLS not in db.table_names():
        return {}
    out: dict[str, dict[str, Any]] = {}
    for row in db.query(f"select * from {DRILLS} where location like ? "  # noqa: S608
                        "order by id", [CRM_DRILL]):
        row = dict(row)
        row["report"] = json.loads(row["report"]) if row.get("report") else None
        out[str(row["location"])[4:]] = row
    return out


class MirrorError(Exception):
    """The mirror cannot be opened or a query on it failed (the message says why)."""


def _connect(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise MirrorError(f"mirror {path} does not exist")
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=10)
        conn.execute("select count(*) from sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise MirrorError(f"mirror {path} cannot be read: {exc}") from None
    return conn


def mirror_columns(path: Path) -> dict[str, set[str]]:
    """Every table of the mirror and its columns."""
    conn = _connect(path)
    try:
        tables = [r[0] for r in conn.execute(
            "select name from sqlite_master where type = 'table'")]
        return {t: {r[1] for r in conn.execute(f'pragma table_info("{t}")')} for t in tables}
    finally:
        conn.close()


def first_values(path: Path, queries: list[str]) -> list[tuple[Any, str | None]]:
    """For each query its first row's first value, or ``(None, error)`` when it fails."""
    conn = _connect(path)
    out: list[tuple[Any, str | None]] = []
    try:
        for sql in queries:
            try:
                row = conn.execute(sql).fetchone()
            except sqlite3.Error as exc:
                out.append((None, str(exc)))
                continue
            out.append((row[0] if row else None, None if row else "the query returned no row"))
    finally:
        conn.close()
    return out
