"""A disk-backed scratch store for work that needs a global view of millions of records.

The emergency package joins records with their relations, picks a sample closed under relations
and groups contacts into blocks for duplicate detection. Holding those ids in Python sets and dicts
would grow with the CRM; a throw-away SQLite file in the caller's private work folder keeps memory
flat (SQLite's page cache is bounded) and does the sorting and joining on disk.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
from pathlib import Path

import orjson

from vaultkeeper.db.blockkeys import (
    MAX_PARTS,
    SLICES,
    BlockScan,
    KeyPart,
    insert_many,
    private_db,
)

_BEST = ("ON CONFLICT (a, b) DO UPDATE SET score = excluded.score, reason = excluded.reason "
         "WHERE excluded.score > score OR (excluded.score = score AND excluded.reason < reason)")
_ADD_PAIR = f"INSERT INTO pairs VALUES (?, ?, ?, ?, ?) {_BEST}"  # noqa: S608
"""One candidate pair in: the best score is kept (on a tie, the first reason in sort order)."""
_PAIRS = """CREATE TABLE pairs (a INTEGER NOT NULL, b INTEGER NOT NULL, score REAL NOT NULL,
    reason TEXT NOT NULL, shown TEXT NOT NULL, PRIMARY KEY (a, b)) WITHOUT ROWID"""
"""Candidate pairs: record numbers (a < b), score, reasons, and what the list shows of the two
(opaque here)."""


class Scratch:
    """Id sets, relation links, per-record values, features and candidate pairs in one temporary
    SQLite file; blocking keys in key parts beside it (``blockkeys.py``)."""

    def __init__(self, path: Path, *, cache_mb: int = 16, reader: bool = False) -> None:
        """Create the store at ``path``; ``reader``: open an existing one read-only (a
        worker process's own connection, see ``ready_for_readers``). ``cache_mb``: SQLite's
        page cache per connection; the file's pages stay in the kernel's cache anyway (16 MB:
        at 1M contacts the build's peak was 224 MB against 275 MB with 64 MB, its time the
        same within the machine's noise)."""
        self.path = path
        # The blocking keys live in key parts beside the store (see blockkeys.py): this
        # store's own, and those of the processes of split passes, with their offsets.
        self.key_parts: list[tuple[Path, int]] = []
        self._own_keys: KeyPart | None = None
        # Answers fetched ahead for a chunk of records (see ``prefetch``): one query per
        # chunk instead of one per record; bounded by the chunk, so memory stays flat.
        self._ahead: dict[tuple[str, str], tuple[set[str], dict[str, str | None]]] = {}
        self._links_indexed = reader
        if reader:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
            self._db.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")
            return
        self._db = private_db(path)
        self._db.execute("PRAGMA temp_store=FILE")
        self._db.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")
        self._db.executescript("""
            CREATE TABLE ids (name TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (name, id))
                WITHOUT ROWID;
            CREATE TABLE links (rel TEXT NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL);
            CREATE TABLE vals (name TEXT NOT NULL, id TEXT NOT NULL, value TEXT,
                PRIMARY KEY (name, id)) WITHOUT ROWID;
            CREATE TABLE feats (idx INTEGER PRIMARY KEY, data BLOB NOT NULL);
        """)
        self._db.execute(_PAIRS)

    def close(self) -> None:
        """Close the file (the caller removes its folder)."""
        self._db.close()
        if self._own_keys is not None:
            self._own_keys.close()

    # -- id sets -----------------------------------------------------------------------
    def add_ids(self, name: str, ids: Iterable[str]) -> None:
        """Add ids to the set ``name`` (duplicates are ignored)."""
        self._many("INSERT OR IGNORE INTO ids VALUES (?, ?)", zip(repeat(name), ids))

    def has(self, name: str, id_: str) -> bool:
        """Whether ``id_`` is in the set ``name``."""
        ahead = self._ahead.get(("ids", name))
        if ahead is not None and id_ in ahead[0]:
            return id_ in ahead[1]
        return self._db.execute("SELECT 1 FROM ids WHERE name = ? AND id = ?",
                                (name, id_)).fetchone() is not None

    def count_ids(self, name: str) -> int:
        """How many ids the set holds."""
        return int(self._db.execute("SELECT count(*) FROM ids WHERE name = ?",
                                    (name,)).fetchone()[0])

    # -- relation links ----------------------------------------------------------------
    def add_links(self, rel: str, pairs: Iterable[tuple[str, str]]) -> None:
        """Store the (from id, to id) pairs of relation ``rel``."""
        self._many("INSERT INTO links VALUES (?, ?, ?)", ((rel, a, b) for a, b in pairs))
        self._links_indexed = False

    def ready_for_readers(self) -> None:
        """Build what reads create lazily (the link indexes) and write the blocking keys
        still waiting, so that other connections can read while this one writes nothing."""
        self._index_links()
        if self._own_keys is not None:
            self._own_keys.flush()

    def _index_links(self) -> None:
        if not self._links_indexed:
            self._db.execute("CREATE INDEX IF NOT EXISTS links_a ON links (rel, a)")
            self._db.execute("CREATE INDEX IF NOT EXISTS links_b ON links (rel, b)")
            self._db.execute("ANALYZE")
            self._links_indexed = True

    def first_link(self, rel: str, id_: str, *, reverse: bool = False) -> str | None:
        """The first related id of ``id_`` in ``rel`` (``reverse``: look up by the to side)."""
        ahead = self._ahead.get(("rev" if reverse else "link", rel))
        if ahead is not None and id_ in ahead[0]:
            return ahead[1].get(id_)
        self._index_links()
        sql = ("SELECT a FROM links WHERE rel = ? AND b = ? ORDER BY rowid LIMIT 1" if reverse
               else "SELECT b FROM links WHERE rel = ? AND a = ? ORDER BY rowid LIMIT 1")
        row = self._db.execute(sql, (rel, id_)).fetchone()
        return None if row is None else str(row[0])

    def close_over(self, target: str, source: str, rel: str, *, reverse: bool = False) -> int:
        """Add to set ``target`` every id related through ``rel`` to an id of set ``source``.

        ``reverse`` False: ``source`` holds from-side ids and the to side is added.
        Returns the number of ids added.
        """
        self._index_links()
        near, far = ("b", "a") if reverse else ("a", "b")
        before = self.count_ids(target)
        self._db.execute(
            f"INSERT OR IGNORE INTO ids SELECT ?, l.{far} FROM links l "  # noqa: S608
            f"JOIN ids s ON s.name = ? AND s.id = l.{near} WHERE l.rel = ?",
            (target, source, rel))
        return self.count_ids(target) - before

    # -- per-record values -------------------------------------------------------------
    def put_values(self, name: str, items: Iterable[tuple[str, str | None]]) -> None:
        """Store one value per id under ``name`` (an e-mail per contact id, a domain per …)."""
        self._many("INSERT OR REPLACE INTO vals VALUES (?, ?, ?)",
                   ((name, i, v) for i, v in items))

    def value(self, name: str, id_: str) -> str | None:
        """The value stored for ``id_`` under ``name``."""
        ahead = self._ahead.get(("vals", name))
        if ahead is not None and id_ in ahead[0]:
            return ahead[1].get(id_)
        row = self._db.execute("SELECT value FROM vals WHERE name = ? AND id = ?",
                               (name, id_)).fetchone()
        return None if row is None else row[0]

    # -- answers fetched ahead ---------------------------------------------------------
    def prefetch(self, kind: str, name: str, ids: Iterable[str]) -> None:
        """Fetch ahead the answers of ``has`` (kind ``ids``), ``first_link`` (``link``, or
        ``rev`` for reverse) or ``value`` (``vals``) about ``name`` for these ids.

        Only for data that no longer changes; later calls for these ids answer from memory
        until ``forget``; other ids still query the file.
        """
        wanted = set(ids)
        found: dict[str, str | None] = {}
        if kind == "ids":
            sql = "SELECT id, NULL FROM ids WHERE name = ? AND id IN ({})"
        elif kind == "vals":
            sql = "SELECT id, value FROM vals WHERE name = ? AND id IN ({})"
        else:
            self._index_links()
            near, far = ("b", "a") if kind == "rev" else ("a", "b")
            sql = (f"SELECT {near}, {far} FROM links WHERE rel = ? "  # noqa: S608
                   f"AND {near} IN ({{}}) ORDER BY rowid")
        todo = list(wanted)
        for start in range(0, len(todo), 500):
            chunk = todo[start:start + 500]
            for key, value in self._db.execute(sql.format(",".join("?" * len(chunk))),
                                               [name, *chunk]):
                if key not in found:      # the first link in file order, as first_link
                    found[key] = None if value is None else str(value)
        self._ahead[(kind, name)] = (wanted, found)

    def forget(self) -> None:
        """Drop every answer fetched ahead."""
        self._ahead.clear()

    # -- duplicate detection: features, blocking keys, candidate pairs ----------------
    def put_features(self, items: Iterable[tuple[int, bytes]]) -> None:
        """Store the comparison features of record number ``idx``."""
        self._many("INSERT OR REPLACE INTO feats VALUES (?, ?)", items)

    def features(self, idxs: Iterable[int]) -> dict[int, bytes]:
        """Features of the given record numbers (read in record order: neighbouring rows
        share pages)."""
        wanted = sorted(idxs)
        try:
            return dict(self._db.execute(
                "SELECT f.idx, f.data FROM json_each(?) j JOIN feats f ON f.idx = j.value",
                (orjson.dumps(wanted),)))
        except sqlite3.OperationalError:   # an SQLite built without JSON functions
            out: dict[int, bytes] = {}
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                marks = ",".join("?" * len(chunk))
                out.update(self._db.execute(
                    f"SELECT idx, data FROM feats WHERE idx IN ({marks})", chunk))  # noqa: S608
            return out

    def count_features(self) -> int:
        """How many records have comparison features."""
        return int(self._db.execute("SELECT count(*) FROM feats").fetchone()[0])

    def add_keys(self, items: Iterable[tuple[str, int]]) -> None:
        """Put record ``idx`` into the block ``key`` (into this store's own key part)."""
        self._keys().add(items)

    def _keys(self) -> KeyPart:
        if self._own_keys is None:
            self._own_keys = KeyPart(self.path.with_name(f"{self.path.name}-keys"))
            self.key_parts.insert(0, (self._own_keys.path, 0))
        return self._own_keys

    def adopt_keys(self, path: Path, offset: int) -> None:
        """Take in the key part another process wrote, its record numbers shifted by
        ``offset`` (past ``MAX_PARTS`` parts, its rows are copied into this store's own)."""
        if len(self.key_parts) < MAX_PARTS:
            self.key_parts.append((path, offset))
        else:
            self._keys().absorb(path, offset)
            path.unlink()

    def blocks(self, *, min_size: int = 2, slices: Iterable[int] = range(SLICES)
               ) -> Iterator[tuple[str, list[int]]]:
        """Every block (key, record numbers ascending) of these slices with at least
        ``min_size`` records, in key order within each slice."""
        if self._own_keys is not None:
            self._own_keys.flush()
        for n in slices:
            scan = BlockScan(self.key_parts, (n,), min_size)
            try:
                yield from scan
            finally:
                scan.close()

    def add_pair(self, a: int, b: int, score: float, reason: str, shown: str) -> None:
        """Record a candidate pair, keeping the best score seen for it (on a tie, the first
        reason in sort order: the result does not depend on the order of the calls);
        ``shown``: what the list of candidates shows of the two records, ``a`` first."""
        if a > b:
            raise ValueError("a pair's first record number must be the smaller")
        self._db.execute(_ADD_PAIR, (a, b, score, reason, shown))

    def merge_pairs(self, path: Path) -> None:
        """Add the pairs of a ``PairFile``, keeping the best score of each as ``add_pair``."""
        self._db.execute("ATTACH DATABASE ? AS other", (str(path),))
        try:
            self._db.execute("INSERT INTO pairs SELECT a, b, score, reason, shown "  # noqa: S608
                             f"FROM other.pairs WHERE true {_BEST}")
        finally:
            self._db.execute("DETACH DATABASE other")

    def pairs(self) -> Iterator[tuple[int, int, float, str]]:
        """Candidate pairs, best score first."""
        yield from self._db.execute("SELECT a, b, score, reason FROM pairs "
                                    "ORDER BY score DESC, a, b")

    def pairs_shown(self) -> Iterator[tuple[float, str, str]]:
        """Score, reasons and what is shown of the two records of every candidate pair, in
        the order of ``pairs``: through an index of that order (sorting only its small
        keys, not the rows with what they show, which would take the sorter's whole memory)."""
        self._db.execute("CREATE INDEX IF NOT EXISTS pairs_order ON pairs (score DESC, a, b)")
        yield from self._db.execute("SELECT score, reason, shown FROM pairs "
                                    "ORDER BY score DESC, a, b")

    def count_pairs(self) -> int:
        """How many candidate pairs were kept."""
        return int(self._db.execute("SELECT count(*) FROM pairs").fetchone()[0])

    def _many(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """``insert_many`` on this store."""
        insert_many(self._db, sql, rows)


class PairFile:
    """Candidate pairs one process finds, in a private file of their own (the store is not
    written while processes search it), for ``Scratch.merge_pairs``."""

    def __init__(self, path: Path) -> None:
        """Create the file at ``path`` (in a private folder)."""
        self.path = path
        self._db = private_db(path)
        self._db.execute(_PAIRS)
        self._batch: list[tuple[int, int, float, str, str]] = []

    def add(self, a: int, b: int, score: float, reason: str, shown: str) -> None:
        """As ``Scratch.add_pair`` (written in batches)."""
        self._batch.append((a, b, score, reason, shown))
        if len(self._batch) >= 2000:
            self.flush()

    def flush(self) -> None:
        """Write the pending batch."""
        if self._batch:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(_ADD_PAIR, self._batch)
            finally:
                self._db.execute("COMMIT")
            self._batch = []

    def close(self) -> None:
        """Write the rest and close the file."""
        self.flush()
        self._db.close()
