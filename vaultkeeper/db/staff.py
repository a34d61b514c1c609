"""The staff view of a mirror: one small SQLite file with the canonical entities (person,
organisation, membership, donation, activity) that ``mirror serve`` shows people.

The mirror keeps every object as the vendor shaped it (hundreds of columns, ``_raw`` JSON); a
membership secretary needs "find Jan de Vries, see his membership, gifts and notes". This module
reads the mirror (attached read-only) through the canonical mapping the emergency package uses
and writes plain tables with foreign keys (so Datasette links a person to their organisation and
lists their memberships, donations and notes) and a full-text index on people. Only live records
are shown; the raw mirror keeps the archived ones. ``fields`` narrows the columns a role may see:
a column not written here cannot be read over HTTP.
"""
# Identifiers come from the canonical mapping and the mirror's own catalogue and go through
# quote() (or are fixed names); every value is a bound parameter or an escaped literal.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vaultkeeper.canonical import ENTITIES, ENTITY_ORDER, CanonicalMapping, EntityMapping
from vaultkeeper.db.mirror import INFO_TABLE, quote

SNAPSHOT_TABLE = "_snapshot"
PERSON_EXTRA = ("name", "member_number", "organisation")
"""Columns the view adds to person: the full name, the membership number, the organisation."""


@dataclass
class StaffView:
    """What was written: rows per entity, and the masked columns per entity."""

    path: Path
    rows: dict[str, int] = field(default_factory=dict)
    masked: dict[str, list[str]] = field(default_factory=dict)
    snapshot: dict[str, str] = field(default_factory=dict)


def build_staff_view(mirror: Path, target: Path, mapping: CanonicalMapping, *,
                     fields: Mapping[str, Collection[str]] | None = None) -> StaffView:
    """Write the staff view of ``mirror`` into ``target`` (created; 0600 by the caller's
    umask-free private folder). ``fields``: entity → canonical fields the role may read (every
    field when None; ids and links are always kept so pages still link up)."""
    view = StaffView(target)
    conn = sqlite3.connect(f"file:{target}?mode=rwc", uri=True)
    try:
        conn.execute("ATTACH DATABASE ? AS m", (f"file:{mirror}?mode=ro",))
        built = [e for name in ENTITY_ORDER if (e := mapping.entity(name)) is not None
                 and _has_table(conn, e.object)]
        for entity in built:
            allowed = None if fields is None else set(fields.get(entity.entity, ()))
            view.masked[entity.entity] = _create(conn, entity, {e.entity for e in built},
                                                 allowed)
        if any(e.entity == "person" for e in built):
            _person_extras(conn, {e.entity for e in built}, fields)
        for entity in built:
            view.rows[entity.entity] = int(conn.execute(
                f"SELECT count(*) FROM {quote(entity.entity)}").fetchone()[0])
        view.snapshot = _snapshot(conn)
        conn.commit()
    finally:
        conn.close()
    return view


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM m.sqlite_master WHERE type = 'table' AND name = ?",
                        (name,)).fetchone() is not None


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA m.table_info({quote(table)})")}


def _source_sql(conn: sqlite3.Connection, entity: EntityMapping, name: str,
                columns: set[str]) -> str:
    """SQL for canonical field ``name`` of one record ``t`` of the entity's object."""
    source = entity.fields.get(name)
    if source is None:
        return "NULL"
    if source.kind == "id":
        return "t.id"
    if source.kind == "field":
        return f"t.{quote(source.name)}" if source.name in columns else "NULL"
    rel = f"rel_{source.name}"
    if not _has_table(conn, rel):
        return "NULL"
    first, _, second = source.name.partition("__")
    mine, other = ("from_id", "to_id") if first == entity.object else ("to_id", "from_id")
    if entity.object not in (first, second):
        return "NULL"
    return (f"(SELECT r.{other} FROM m.{quote(rel)} r WHERE r.{mine} = t.id "
            f"ORDER BY r.{other} LIMIT 1)")


def _where(entity: EntityMapping, columns: set[str]) -> str:
    parts = ["coalesce(t._archived, 0) = 0"] if "_archived" in columns else []
    for name, allowed in entity.when.items():
        if name not in columns:
            return "0"      # the filter's field is not in this mirror: nothing matches
        col = f"t.{quote(name)}"
        if allowed:
            parts.append(f"{col} IN ({', '.join(_literal(v) for v in allowed)})")
        else:
            parts.append(f"coalesce({col}, '') != ''")
    return " AND ".join(parts) or "1"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _create(conn: sqlite3.Connection, entity: EntityMapping, present: set[str],
            allowed: set[str] | None) -> list[str]:
    """Create and fill one entity table; returns the fields masked for the role."""
    columns = _columns(conn, entity.object)
    spec = ENTITIES[entity.entity]
    keep = [f for f in spec if allowed is None or f in allowed or spec[f][0].startswith("ref:")]
    masked = [f for f in spec if f not in keep]
    refs = [(f, spec[f][0][4:]) for f in keep if spec[f][0].startswith("ref:")
            and spec[f][0][4:] in present]
    # People lists read best with the name and member number first (filled by _person_extras).
    extras = PERSON_EXTRA if entity.entity == "person" else ()
    ddl = ", ".join(["id TEXT PRIMARY KEY", *(f"{e} TEXT" for e in extras),
                     *(f"{quote(f)} TEXT" for f in keep),
                     *(f"FOREIGN KEY ({quote(f)}) REFERENCES {quote(t)}(id)" for f, t in refs)])
    conn.execute(f"CREATE TABLE {quote(entity.entity)} ({ddl})")
    select = ", ".join(["t.id", *("NULL" for _ in extras),
                        *(_source_sql(conn, entity, f, columns) for f in keep)])
    conn.execute(f"INSERT OR IGNORE INTO {quote(entity.entity)} SELECT {select} "
                 f"FROM m.{quote(entity.object)} t WHERE {_where(entity, columns)}")
    for f, _ in refs:
        conn.execute(f"CREATE INDEX {quote(entity.entity + '_' + f)} "
                     f"ON {quote(entity.entity)}({quote(f)})")
    return masked


def _person_extras(conn: sqlite3.Connection, present: set[str],
                   fields: Mapping[str, Collection[str]] | None) -> None:
    """Full name, membership number and organisation name on person, and its search index."""
    cols = {r[1] for r in conn.execute("PRAGMA main.table_info(person)")}
    name = ("trim(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))"
            if {"first_name", "last_name"} <= cols else "NULL")
    number = ("(SELECT number FROM membership WHERE membership.person_id = person.id "
              "AND number IS NOT NULL LIMIT 1)"
              if "membership" in present and (fields is None or "number" in
                                              fields.get("membership", ())) else "NULL")
    org = ("(SELECT name FROM organisation WHERE organisation.id = person.organisation_id)"
           if "organisation" in present and "organisation_id" in cols else "NULL")
    conn.execute(f"UPDATE person SET name = {name}, member_number = {number}, "
                 f"organisation = {org}")
    searchable = [c for c in ("name", "email", "city", "postcode", "member_number",
                              "organisation") if c in cols]
    conn.execute(f"CREATE VIRTUAL TABLE person_fts USING fts5({', '.join(searchable)}, "
                 "content='person', tokenize='unicode61 remove_diacritics 2')")
    conn.execute(f"INSERT INTO person_fts (rowid, {', '.join(searchable)}) "
                 f"SELECT rowid, {', '.join(searchable)} FROM person")


def _snapshot(conn: sqlite3.Connection) -> dict[str, str]:
    """The mirror's facts staff need on every page: which snapshot, taken when, from where."""
    facts: dict[str, str] = {}
    if conn.execute("SELECT 1 FROM m.sqlite_master WHERE name = ?",
                    (INFO_TABLE,)).fetchone():
        facts = dict(conn.execute(f"SELECT key, value FROM m.{quote(INFO_TABLE)} WHERE key IN "
                                  "('snapshot_time', 'snapshot_id', 'location', 'loaded_at')"))
    conn.execute(f"CREATE TABLE {SNAPSHOT_TABLE} (key TEXT PRIMARY KEY, value TEXT)")
    conn.executemany(f"INSERT INTO {SNAPSHOT_TABLE} VALUES (?, ?)", sorted(facts.items()))
    return facts
