"""Read-only access for process readiness: the last drill and the drilled SQLite mirror.

The ``drills`` table belongs to the drill module; here it is only read, and a database without
it (no drill yet) is normal. The mirror is opened read-only: acceptance checks can never change
it, whatever SQL a policy holds.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils

DRILLS = "drills"


def latest_drill(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The most recent drill (any result), or None when none was ever run."""
    if DRILLS not in db.table_names():
        return None
    rows = list(db.query(f"select * from {DRILLS} order by id desc limit 1"))  # noqa: S608
    return rows[0] if rows else None


def latest_verified_drill(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The most recent drill whose result is ``verified``."""
    if DRILLS not in db.table_names():
        return None
    rows = list(db.query(f"select * from {DRILLS} where result = 'verified' "  # noqa: S608
                         "order by id desc limit 1"))
    return rows[0] if rows else None


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
