"""Blocking keys for duplicate detection, in files of their own.

Every process that writes persons (the build, or each process of a split pass) writes its
``(key, record number)`` rows into a *key part*: an SQLite file only it writes, the blocks in
``SLICES`` slices by a hash of their key (:func:`key_slice`), a table each. Nothing is copied
afterwards: a part is adopted by the scratch store with the offset its record numbers need,
and the search of a slice reads that slice of every part in one sorted ``GROUP BY``
(:class:`BlockScan`) in whichever process searches it, so that no process waits for an index
of every key and two processes can share the slices as they go. Memory stays flat: SQLite
sorts on disk past its cache.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, islice
from pathlib import Path

from vaultkeeper.privatefs import touch_private

_ROWS = 200
"""Rows per multi-row INSERT (at most 3 columns: 600 variables, far below SQLite's limit)."""

SLICES = 64
"""Slices of the blocks (a power of two): enough that two processes sharing them finish
within a small slice of each other (at 1M persons a slice is about 2.5 s of search)."""

MAX_PARTS = 8
"""Key parts one scan attaches at most (SQLite attaches at most 10 databases); more are
merged into the store's own part on adoption."""

_SORT_CACHE_KB = 32 * 1024
"""Cache (and so the sorter's memory before it spills to disk) of a scan's connection."""


def key_slice(key: str) -> int:
    """Which slice of the blocks ``key`` belongs to (the same in every process and run)."""
    return zlib.crc32(key.encode()) & (SLICES - 1)


def insert_rows(db: sqlite3.Connection, sql: str, rows: Iterable[Sequence[object]]) -> None:
    """Run ``sql`` (``INSERT … VALUES (?, …)``) for every row, in order, inside the caller's
    transaction: ``_ROWS`` rows per statement (one multi-row VALUES: a fraction of the
    per-row statement steps of executemany), the rest by executemany; the rows are read as
    they go (an iterator is never held whole)."""
    head, _, one = sql.rpartition(" VALUES ")
    multi = f"{head} VALUES {', '.join([one] * _ROWS)}"
    it = iter(rows)
    while batch := list(islice(it, _ROWS)):
        if len(batch) == _ROWS:
            db.execute(multi, list(chain.from_iterable(batch)))
        else:
            db.executemany(sql, batch)


def insert_many(db: sqlite3.Connection, sql: str, rows: Iterable[Sequence[object]]) -> None:
    """``insert_rows`` in one transaction of its own."""
    db.execute("BEGIN")
    try:
        insert_rows(db, sql, rows)
    finally:
        db.execute("COMMIT")


def private_db(path: Path) -> sqlite3.Connection:
    """A new throw-away SQLite file at ``path`` in a private folder: 0600 before SQLite
    creates it (names, e-mails, phone numbers), no journal and no syncing (nothing in it must
    survive a crash: it is deleted with its folder)."""
    touch_private(path)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    return db


class KeyPart:
    """The blocking keys one process writes, in a file of its own."""

    def __init__(self, path: Path) -> None:
        """Create the part at ``path`` (in a private folder)."""
        self.path = path
        self._db = private_db(path)
        self._db.executescript("".join(
            f"CREATE TABLE k{n} (key TEXT NOT NULL, idx INTEGER NOT NULL);"
            for n in range(SLICES)))
        # Rows wait per slice until a multi-row INSERT's worth is there (a batch of keys
        # spread over the slices would leave each a few rows: one statement per row).
        self._pending: list[list[tuple[str, int]]] = [[] for _ in range(SLICES)]
        self._sql = [f"INSERT INTO k{n} VALUES (?, ?)" for n in range(SLICES)]  # noqa: S608

    def add(self, items: Iterable[tuple[str, int]]) -> None:
        """Put record ``idx`` into the block ``key`` (in the table of the key's slice)."""
        pending, crc32, mask = self._pending, zlib.crc32, SLICES - 1
        for item in items:
            pending[crc32(item[0].encode()) & mask].append(item)
        full = [n for n, rows in enumerate(pending) if len(rows) >= _ROWS]
        if not full:
            return
        self._db.execute("BEGIN")
        try:
            for n in full:
                rows = pending[n]
                whole = len(rows) - len(rows) % _ROWS   # whole statements' worth only
                insert_rows(self._db, self._sql[n], rows[:whole])
                pending[n] = rows[whole:]
        finally:
            self._db.execute("COMMIT")

    def flush(self) -> None:
        """Write the rows still waiting (before the part is read)."""
        for n, rows in enumerate(self._pending):
            if rows:
                insert_many(self._db, self._sql[n], rows)
                self._pending[n] = []

    def absorb(self, path: Path, offset: int) -> None:
        """Copy another part's rows in, record numbers shifted by ``offset``."""
        self._db.execute("ATTACH DATABASE ? AS other", (str(path),))
        try:
            self._db.execute("BEGIN")
            for n in range(SLICES):
                self._db.execute(f"INSERT INTO k{n} SELECT key, idx + ? "  # noqa: S608
                                 f"FROM other.k{n}", (offset,))
            self._db.execute("COMMIT")
        finally:
            self._db.execute("DETACH DATABASE other")

    def close(self) -> None:
        """Write the rest and close the file (it stays, for the scans)."""
        self.flush()
        self._db.close()


class BlockScan:
    """The blocks of some slices, from every key part, in key order (a connection of its
    own: no store is opened)."""

    def __init__(self, parts: Sequence[tuple[Path, int]], slices: Iterable[int],
                 min_size: int = 2) -> None:
        """``parts``: the key part files with the offset of their record numbers."""
        self._db = sqlite3.connect(":memory:", isolation_level=None)
        self._db.execute(f"PRAGMA cache_size=-{_SORT_CACHE_KB}")
        self._db.execute("PRAGMA temp_store=FILE")
        selects = []
        for n, (path, offset) in enumerate(parts):
            self._db.execute(f"ATTACH DATABASE ? AS p{n}", (str(path),))
            selects += [f"SELECT key, idx + {int(offset)} AS idx "  # noqa: S608
                        f"FROM p{n}.k{s}" for s in slices]
        self._sql = ("SELECT key, group_concat(idx) FROM ("   # noqa: S608
                     + " UNION ALL ".join(selects)
                     + ") GROUP BY key HAVING min(idx) < max(idx)") if selects else ""
        self._min = min_size

    def __iter__(self) -> Iterator[tuple[str, list[int]]]:
        """Every block (key, record numbers ascending) with at least ``min_size`` records."""
        if not self._sql:
            return
        for key, members in self._db.execute(self._sql):
            # a record twice under one key (two phones alike) counts once
            idxs = sorted(set(map(int, members.split(","))))
            if len(idxs) >= self._min:
                yield key, idxs

    def close(self) -> None:
        """Close the connection."""
        self._db.close()
