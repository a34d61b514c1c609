"""Read-only queries on a mirror for ``restore``: which records to put back, their raw JSON and
their relations. The mirror's contract is in db/mirror.py (``id``, ``_archived``, ``_raw``,
``rel_<from>__<to>`` with ``from_id``/``to_id``/``type``).
"""
# Table names come from the mirror's own manifest and go through quote(); the user's --where
# is their own SQL against their own read-only copy.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from vaultkeeper.db.mirror import INFO_TABLE, open_mirror, quote
from vaultkeeper.errors import UsageError

CHUNK = 500


class MirrorReader:
    """One read-only connection to a mirror file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = open_mirror(path)
        self.info = dict(self.conn.execute(f"SELECT key, value FROM {INFO_TABLE}").fetchall())
        self.manifest: dict[str, Any] = orjson.loads(self.info.get("manifest") or "{}")

    @property
    def connector(self) -> str:
        """The vendor the snapshot was exported from (``hubspot`` | ``salesforce`` …)."""
        return str((self.manifest.get("connector") or {}).get("name", ""))

    @property
    def objects(self) -> list[str]:
        """Objects in the snapshot, in export order."""
        return list(self.manifest.get("objects") or {})

    @property
    def relation_stems(self) -> list[str]:
        """Relation files in the snapshot: ``<from>__<to>``."""
        return list(self.manifest.get("relations") or {})

    def check_object(self, obj: str) -> None:
        """Raise a usage error naming the objects when ``obj`` is not in the snapshot."""
        if obj not in self.objects:
            raise UsageError(f"the snapshot has no object {obj!r}",
                             f"use one of: {', '.join(self.objects)}")

    def live_ids(self, obj: str) -> list[str]:
        """Ids of the records that were live (not archived/deleted) in the snapshot."""
        return [r[0] for r in self.conn.execute(
            f"SELECT id FROM {quote(obj)} WHERE _archived = 0 ORDER BY id")]

    def where_ids(self, obj: str, where: str) -> list[str]:
        """Ids of live records matching an SQL condition on the object's mirror table."""
        try:
            return [str(r[0]) for r in self.conn.execute(
                f"SELECT id FROM {quote(obj)} WHERE _archived = 0 AND ({where}) ORDER BY id")]
        except sqlite3.Error as exc:
            raise UsageError(f"--where: {exc}", f"check the SQL; `vaultkeeper mirror query "
                             f"\"select * from {obj} limit 1\"` shows the columns") from None

    def existing(self, obj: str, ids: Sequence[str]) -> dict[str, bool]:
        """Of ``ids``, those in the snapshot: id → archived there."""
        found: dict[str, bool] = {}
        for part in _chunks(ids):
            marks = ", ".join("?" for _ in part)
            for rid, archived in self.conn.execute(
                    f"SELECT id, _archived FROM {quote(obj)} WHERE id IN ({marks})", part):
                found[rid] = bool(archived)
        return found

    def raw(self, obj: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The records as exported (the vendor's JSON), by id."""
        out: dict[str, dict[str, Any]] = {}
        for part in _chunks(ids):
            marks = ", ".join("?" for _ in part)
            for rid, raw in self.conn.execute(
                    f"SELECT id, _raw FROM {quote(obj)} WHERE id IN ({marks})", part):
                out[rid] = orjson.loads(raw)
        return out

    def relations_of(self, stem: str, ids: Iterable[str], side: str,
                     ) -> Iterator[tuple[str, str, str]]:
        """Rows (from_id, to_id, type) of a relation whose ``side`` (from_id|to_id) is in
        ``ids``."""
        assert side in ("from_id", "to_id")
        table = quote(f"rel_{stem}")
        for part in _chunks(list(ids)):
            marks = ", ".join("?" for _ in part)
            yield from self.conn.execute(
                f"SELECT from_id, to_id, coalesce(type, '') FROM {table} WHERE {side} IN "
                f"({marks})", part)

    def all_relations(self, stem: str) -> Iterator[tuple[str, str, str]]:
        """Every row (from_id, to_id, type) of a relation."""
        yield from self.conn.execute(
            f"SELECT from_id, to_id, coalesce(type, '') FROM {quote('rel_' + stem)}")

    def relation_kinds(self, stem: str) -> set[str]:
        """The distinct relation types of a relation (Salesforce: the lookup field names)."""
        return {str(r[0]) for r in self.conn.execute(
            f"SELECT DISTINCT type FROM {quote('rel_' + stem)} WHERE type IS NOT NULL")}

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def _chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start:start + CHUNK])
