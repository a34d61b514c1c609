"""A throw-away SQLite index for ``diff``: per object and side, record id → content hash and the
line's byte offset, so two snapshots of millions of records compare in SQL, not in memory."""
# Table and column names come from export manifests: every identifier goes through quote(),
# every value is a bound parameter.
# ruff: noqa: S608


from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vaultkeeper.db.mirror import connect_for_load, quote

SIDES = ("a", "b")


class RecordIndex:
    """Lives in a private staging folder and goes with it."""

    def __init__(self, path: Path) -> None:
        self.conn: sqlite3.Connection = connect_for_load(path)
        self.conn.execute("BEGIN")
        self._tables: set[str] = set()

    def _table(self, side: str, obj: str) -> str:
        table = quote(f"{side}:{obj}")
        if table not in self._tables:
            self.conn.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, h BLOB, off INTEGER)")
            self._tables.add(table)
        return table

    def add(self, side: str, obj: str, rows: Iterable[tuple[str, bytes, int]]) -> None:
        """Add (id, sha256, byte offset) rows; a repeated id keeps the later line."""
        self.conn.executemany(f"INSERT OR REPLACE INTO {self._table(side, obj)} VALUES (?, ?, ?)",
                              rows)

    def compare(self, obj: str, sample: int) -> dict[str, Any]:
        """Counts of added/removed/changed ids and a sample of each with offsets."""
        a, b = self._table("a", obj), self._table("b", obj)
        q = self.conn.execute
        added = f"FROM {b} y WHERE NOT EXISTS (SELECT 1 FROM {a} x WHERE x.id = y.id)"
        removed = f"FROM {a} x WHERE NOT EXISTS (SELECT 1 FROM {b} y WHERE y.id = x.id)"
        changed = f"FROM {a} x JOIN {b} y ON x.id = y.id WHERE x.h != y.h"
        return {
            "added": q(f"SELECT count(*) {added}").fetchone()[0],
            "removed": q(f"SELECT count(*) {removed}").fetchone()[0],
            "changed": q(f"SELECT count(*) {changed}").fetchone()[0],
            "unchanged": q(f"SELECT count(*) FROM {a} x JOIN {b} y ON x.id = y.id "
                           "WHERE x.h = y.h").fetchone()[0],
            "added_ids": [r[0] for r in q(f"SELECT y.id {added} ORDER BY y.id LIMIT ?",
                                          (sample,))],
            "removed_ids": [r[0] for r in q(f"SELECT x.id {removed} ORDER BY x.id LIMIT ?",
                                            (sample,))],
            "changed_offsets": q(f"SELECT x.id, x.off, y.off {changed} ORDER BY x.id LIMIT ?",
                                 (sample,)).fetchall(),
        }

    def close(self) -> None:
        """Close (the file goes with the staging folder)."""
        self.conn.close()
