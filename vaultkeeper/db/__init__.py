"""The only SQLite user: the state database (runs, schedules, acknowledgements), later the mirror.

Each module under db/ owns its tables and creates them idempotently (``ensure_*``); the schema
version of the whole file is kept in ``PRAGMA user_version`` for future migrations.

A corrupt or truncated ``state.db`` never stops a backup: it is moved aside (kept for
inspection as ``state.db.corrupt-<UTC time>``), a new one is created, and the event is stored
in the new file (``state_events``) so the next backup reports it as a problem and alerts.
Every failure of the state directory itself (full, read-only, not writable) is a StorageError
with its fix (exit 7).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from vaultkeeper.errors import StorageError
from vaultkeeper.privatefs import touch_private

STATE_FILE = "state.db"
log = logging.getLogger("vaultkeeper.db")
_checked: set[Path] = set()
_CORRUPT = ("file is not a database", "database disk image is malformed",
            "malformed database schema", "file is encrypted")
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT,
                   errno.EIO, errno.EFBIG, errno.ENOTDIR}
_STORAGE_SQLITE = ("database or disk is full", "readonly database", "unable to open database",
                   "disk i/o error", "locking protocol")


def open_state_db(state_dir: Path) -> sqlite_utils.Database:
    """Open (creating) ``<state_dir>/state.db`` in WAL mode; the directory is private (0700).

    Checked once per process: a corrupt file is moved aside and replaced (see module doc)."""
    path = state_dir / STATE_FILE
    try:
        try:
            return _open(state_dir, path)
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc):
                raise
            moved = _move_aside(path)
            db = _open(state_dir, path)
            record_event(db, "state_db_corrupt",
                         f"the state database was unreadable ({exc}); it was moved aside to "
                         f"{moved.name} and a new one created: run history, drill results and "
                         "acknowledgements start afresh")
            log.error("state database %s was corrupt (%s); moved aside to %s", path, exc, moved)
            return db
    except (OSError, sqlite3.OperationalError) as exc:
        mapped = storage_error(exc, state_dir)
        if mapped is None:
            raise
        raise mapped from None


def _open(state_dir: Path, path: Path) -> sqlite_utils.Database:
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Create it private before SQLite does: it records snapshot ids and location names.
    touch_private(path)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=10000")
    if path not in _checked:
        rows = db.execute("PRAGMA quick_check").fetchall()
        if [r[0] for r in rows] != ["ok"]:
            db.conn.close()
            raise sqlite3.DatabaseError(f"database disk image is malformed "
                                        f"({'; '.join(str(r[0]) for r in rows[:3])})")
        _checked.add(path)
    return db


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return any(marker in text for marker in _CORRUPT)


def _move_aside(path: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    os.replace(path, target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, target.with_name(target.name + suffix))
    return target


def now_iso() -> str:
    """The state database's timestamp: UTC, to the second, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def create_table(db: sqlite_utils.Database, name: str, columns: dict[str, Any], *,
                 indexes: Sequence[list[str]] = (), **options: Any) -> None:
    """Create table ``name`` with its ``indexes`` unless it exists (idempotent set-up);
    ``options`` go to sqlite-utils' ``create`` (pk, not_null, defaults, foreign_keys)."""
    if name in db.table_names():
        return
    table = db.table(name)
    table.create(columns, **options)
    for index in indexes:
        table.create_index(index)


def json_row(db: sqlite_utils.Database, table: str, where: str, params: Sequence[Any],
             json_columns: Sequence[str]) -> dict[str, Any] | None:
    """The first row of ``table`` matching ``where``, its JSON text columns parsed; None when
    no row matches."""
    rows = list(db.table(table).rows_where(where, list(params), limit=1))
    if not rows:
        return None
    row = dict(rows[0])
    for key in json_columns:
        row[key] = json.loads(row[key]) if row.get(key) else None
    return row


def record_event(db: sqlite_utils.Database, kind: str, detail: str) -> None:
    """Store something the next backup must report (and alert) once."""
    db.table("state_events").insert(
        {"at": now_iso(), "kind": kind, "detail": detail,
         "reported": 0}, alter=True)


def take_events(db: sqlite_utils.Database) -> list[str]:
    """Events not yet reported (each returned once)."""
    if "state_events" not in db.table_names():
        return []
    rows = list(db.table("state_events").rows_where("reported = 0", order_by="rowid"))
    if rows:
        db.execute("update state_events set reported = 1 where reported = 0")
        db.conn.commit()
    return [f"{row['detail']} ({row['at']})" for row in rows]


def storage_error(exc: BaseException, state_dir: Path | None = None) -> StorageError | None:
    """A StorageError with its fix for a failing disk or directory (full, read-only, not
    writable); None for anything else."""
    where = f"the state directory {state_dir}" if state_dir else "the local disk"
    if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
        name = exc.filename or state_dir or "a local file"
        fix = {errno.ENOSPC: "free space on that disk (or move [state] dir to a larger one)",
               errno.EDQUOT: "raise the disk quota or free space",
               errno.EFBIG: "free space or raise the file-size limit (ulimit -f)",
               errno.EROFS: "the file system is read-only: remount it read-write or move "
                            "[state] dir"}.get(
            exc.errno or 0, "make it writable by this user (and check the disk), or move "
                            "[state] dir")
        return StorageError(f"cannot write {name}: {exc.strerror}", fix)
    if isinstance(exc, sqlite3.OperationalError) and \
            any(m in str(exc).lower() for m in _STORAGE_SQLITE):
        return StorageError(f"the state database in {where} cannot be written ({exc})",
                            "free space there and make it writable by this user, or move "
                            "[state] dir")
    return None
