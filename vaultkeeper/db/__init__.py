"""The only SQLite user: the state database (runs, schedules, acknowledgements), later the mirror.

Each module under db/ owns its tables and creates them idempotently (``ensure_*``); the schema
version of the whole file is kept in ``PRAGMA user_version`` for future migrations.
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from vaultkeeper.privatefs import touch_private

STATE_FILE = "state.db"


def open_state_db(state_dir: Path) -> sqlite_utils.Database:
    """Open (creating) ``<state_dir>/state.db`` in WAL mode; the directory is private (0700)."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = state_dir / STATE_FILE
    # Create it private before SQLite does: it records snapshot ids and location names.
    touch_private(path)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=10000")
    return db
