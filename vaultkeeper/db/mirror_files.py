"""The mirror's files: ``_files`` (one row per exported file) and ``_file_links`` (file → record).

``_files``: kind, id, name, size, modified, sha256, path (the blob inside the snapshot);
``_file_links``: kind, file_id, object, record_id, property (the record's file property that
names the file, HubSpot; else empty), indexed both ways. ``unresolved_links`` names
the links whose record is missing from the object's table (objects the mirror does not hold
are reported apart: they cannot be checked).
"""
# Table names are constants or come from sqlite_master; values are bound parameters.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from vaultkeeper.exportfmt_files import FileRecord

FILES_TABLE = "_files"
LINKS_TABLE = "_file_links"


@dataclass
class LinkCheck:
    """What ``unresolved_links`` found."""

    checked: int = 0
    unresolved: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(file kind, file id, object, record id) of links to a record the mirror lacks."""
    unchecked_objects: dict[str, int] = field(default_factory=dict)
    """Objects the links name that the mirror does not hold, with how many links."""


def load_files(path: Path, records: Iterable[FileRecord]) -> int:
    """(Re)create the two tables in the mirror at ``path``; return the files loaded."""
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"DROP TABLE IF EXISTS {FILES_TABLE}")
        conn.execute(f"DROP TABLE IF EXISTS {LINKS_TABLE}")
        conn.execute(f"CREATE TABLE {FILES_TABLE} (kind TEXT, id TEXT, name TEXT, size INTEGER,"
                     " modified TEXT, sha256 TEXT, path TEXT, PRIMARY KEY (kind, id))")
        conn.execute(f"CREATE TABLE {LINKS_TABLE} (kind TEXT, file_id TEXT, object TEXT, "
                     "record_id TEXT, property TEXT NOT NULL DEFAULT '')")
        count = 0
        for rec in records:
            conn.execute(f"INSERT OR REPLACE INTO {FILES_TABLE} VALUES (?,?,?,?,?,?,?)",
                         (rec.kind, rec.id, rec.name, rec.size, rec.modified, rec.sha256,
                          rec.path))
            conn.executemany(f"INSERT INTO {LINKS_TABLE} VALUES (?,?,?,?,?)",
                             [(rec.kind, rec.id, obj, rid, via) for (obj, rid), via
                              in zip(rec.links, rec.link_properties(), strict=True)])
            count += 1
        conn.execute(f"CREATE INDEX {LINKS_TABLE}_record ON {LINKS_TABLE} (object, record_id)")
        conn.execute(f"CREATE INDEX {LINKS_TABLE}_file ON {LINKS_TABLE} (kind, file_id)")
        conn.commit()
        return count
    finally:
        conn.close()


def unresolved_links(path: Path) -> LinkCheck:
    """Check every link of ``_file_links`` against the object tables of the mirror."""
    result = LinkCheck()
    conn = sqlite3.connect(path)
    try:
        tables = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        for (obj, count) in conn.execute(
                f"SELECT object, COUNT(*) FROM {LINKS_TABLE} GROUP BY object").fetchall():
            if obj not in tables or obj.startswith("_"):
                result.unchecked_objects[obj] = count
                continue
            quoted = '"' + obj.replace('"', '""') + '"'
            result.checked += count
            result.unresolved += conn.execute(
                f"SELECT l.kind, l.file_id, l.object, l.record_id FROM {LINKS_TABLE} l "
                f"LEFT JOIN {quoted} o ON o.id = l.record_id WHERE l.object = ? "
                "AND o.id IS NULL ORDER BY l.file_id", (obj,)).fetchall()
        return result
    finally:
        conn.close()


def files_with_links(path: Path) -> list[tuple[str, str, str, str, str]]:
    """(kind, file id, name, object, record id) for every link, for reports and tests."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            f"SELECT f.kind, f.id, f.name, l.object, l.record_id FROM {FILES_TABLE} f "
            f"JOIN {LINKS_TABLE} l ON l.kind = f.kind AND l.file_id = f.id "
            "ORDER BY f.kind, f.id, l.object, l.record_id").fetchall()
    finally:
        conn.close()


def file_records(path: Path) -> list[FileRecord]:
    """``_files`` with their ``_file_links`` as index records (none without those tables)."""
    conn = sqlite3.connect(path)
    try:
        tables = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if FILES_TABLE not in tables or LINKS_TABLE not in tables:
            return []
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({LINKS_TABLE})")}
        via = "property" if "property" in columns else "''"   # mirrors from before it
        links: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        for kind, file_id, obj, rid, prop in conn.execute(
                f"SELECT kind, file_id, object, record_id, {via} FROM {LINKS_TABLE}"):
            links.setdefault((kind, file_id), []).append((str(obj), str(rid), str(prop or "")))
        return [FileRecord(kind, fid, name, int(size or 0), modified or "", sha or "",
                           rel or "", tuple((o, r) for o, r, _ in links.get((kind, fid), ())),
                           via=tuple(p for _, _, p in links.get((kind, fid), ())))
                for kind, fid, name, size, modified, sha, rel in conn.execute(
                    f"SELECT kind, id, name, size, modified, sha256, path FROM {FILES_TABLE}")]
    finally:
        conn.close()


def delete_file_rows(conn: sqlite3.Connection, files: Iterable[tuple[str, str]]) -> int:
    """In an open write transaction with the temp table ``_gone`` (object, id) of deleted
    records: drop the links to those records and the files (kind, id) with all their links;
    returns the files deleted."""
    tables = {row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    if FILES_TABLE not in tables or LINKS_TABLE not in tables:
        return 0
    conn.execute(f"DELETE FROM {LINKS_TABLE} WHERE EXISTS (SELECT 1 FROM _gone g WHERE "
                 f"g.object = {LINKS_TABLE}.object AND g.id = {LINKS_TABLE}.record_id)")
    deleted = 0
    for kind, file_id in files:
        conn.execute(f"DELETE FROM {LINKS_TABLE} WHERE kind = ? AND file_id = ?",
                     (kind, file_id))
        deleted += conn.execute(f"DELETE FROM {FILES_TABLE} WHERE kind = ? AND id = ?",
                                (kind, file_id)).rowcount
    return deleted
