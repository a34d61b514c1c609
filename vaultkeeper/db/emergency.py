"""Read-only queries the emergency package needs from the state database (drills)."""

from __future__ import annotations

from typing import Any

import sqlite_utils


def latest_verified_drill(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The newest drill whose result is ``verified`` (None when there is none, or no table).

    The ``drills`` table belongs to the drill module; before any drill ran it does not exist.
    """
    if "drills" not in db.table_names():
        return None
    rows = list(db.query("SELECT * FROM drills WHERE result = 'verified' "
                         "ORDER BY finished_at DESC, id DESC LIMIT 1"))
    return rows[0] if rows else None
