"""The SQLite mirror: an export folder loaded into an ordinary SQLite file anyone can open.

Contract (other modules and users rely on it):

* ``<state_dir>/mirror/mirror.db`` is the latest drilled snapshot;
* one table per object, named as in the manifest; ``id`` TEXT primary key (the CRM id),
  ``_archived`` 0/1, ``_raw`` the record's canonical JSON kept whole, then typed columns
  flattened from the schema (see vaultkeeper/shapes.py);
* ``rel_<stem>`` per relation file with indexed ``from_id``, ``to_id`` and ``type``;
* ``search``: FTS5 over people and organisations (``name``, ``email``, ``city``);
* ``_mirror_info``: key/value facts (snapshot, location, loaded_at, manifest JSON).

sqlite-utils creates the tables and indexes; rows go through ``executemany`` in batches (a plain
``insert_all`` measured ~5× slower). The load writes a new file and atomically renames it over
the old one, so re-loading is idempotent and a crash never leaves a half-loaded mirror in place.
While loading, each line's bytes are hashed into the object's content digest (digest.py, the
same function as the export) — those exact bytes are what ``_raw`` stores.
"""
# Table and column names come from export manifests: every identifier goes through quote(),
# every value is a bound parameter.
# ruff: noqa: S608


from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from vaultkeeper.db import mirror_files
from vaultkeeper.digest import ContentDigest
from vaultkeeper.errors import UsageError, VerificationError
from vaultkeeper.exportfmt import Manifest, first_record
from vaultkeeper.privatefs import open_private
from vaultkeeper.shapes import ObjectShape, search_columns, shape_for

MIRROR_DIR = "mirror"
MIRROR_FILE = "mirror.db"
BATCH = 2000
CHUNK = 1 << 22
SAMPLE = 10
INFO_TABLE = "_mirror_info"
SEARCH_TABLE = "search"


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


# Nested JSON values (Salesforce addresses, anything a vendor nests) are stored as JSON text.
# Adapters are consulted only for non-native types, so str/int/float/None rows pay nothing.
sqlite3.register_adapter(dict, _json_text)
sqlite3.register_adapter(list, _json_text)


def mirror_path(state_dir: Path) -> Path:
    """Where the latest drilled mirror lives."""
    return state_dir / MIRROR_DIR / MIRROR_FILE


def quote(name: str) -> str:
    """An SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


@dataclass
class ObjectLoad:
    """What loading one object's file found."""

    name: str
    lines: int = 0
    rows: int = 0
    archived: int = 0
    content_digest: str = ""
    file_sha256: str = ""
    schema_sha256: str | None = None
    columns: list[str] = field(default_factory=list)
    duplicates: int = 0
    duplicate_ids: list[str] = field(default_factory=list)
    unparsable: int = 0
    missing_file: bool = False


@dataclass
class RelationLoad:
    """What loading one relation file found, including endpoints missing from the mirror."""

    stem: str
    from_object: str
    to_object: str
    lines: int = 0
    content_digest: str = ""
    file_sha256: str = ""
    missing_file: bool = False
    checked: bool = True
    dangling_from: int = 0
    dangling_to: int = 0
    dangling_samples: list[str] = field(default_factory=list)


@dataclass
class LoadResult:
    """The loaded mirror and the facts the drill reconciles against the manifest."""

    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    objects: dict[str, ObjectLoad]
    relations: dict[str, RelationLoad]
    seconds: float
    bytes: int


Progress = Callable[[str, int], None]


def read_lines(path: Path, sha: Any) -> Iterator[bytes]:
    """Non-empty lines of an NDJSON file (no newline), feeding every byte to ``sha``."""
    with path.open("rb") as handle:
        tail = b""
        while chunk := handle.read(CHUNK):
            sha.update(chunk)
            parts = (tail + chunk).split(b"\n") if tail else chunk.split(b"\n")
            tail = parts.pop()
            yield from (p for p in parts if p)
        if tail:
            yield tail


def load_export(export_dir: Path, target: Path, *, info: dict[str, Any] | None = None,
                progress: Progress | None = None) -> LoadResult:
    """Load ``export_dir`` into a new SQLite file and atomically replace ``target`` with it.

    The caller holds the drill lock: leftovers of a crashed load next to ``target`` are removed.
    """
    began = time.monotonic()
    found = Manifest.load(export_dir)
    if found is None:
        raise VerificationError(f"the snapshot has no manifest.json ({export_dir.name})",
                                "drill another snapshot; this one is not a complete export")
    manifest: dict[str, Any] = dict(found.raw)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    for leftover in target.parent.glob(f".{target.name}.*.tmp*"):
        leftover.unlink(missing_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    # Private before SQLite writes a byte: the mirror is plaintext CRM data.
    open_private(tmp).close()
    try:
        result = _load(export_dir, tmp, manifest, info or {}, progress)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    result.path = target
    result.manifest_sha256 = found.sha256
    result.seconds = round(time.monotonic() - began, 3)
    result.bytes = target.stat().st_size
    return result


def connect_for_load(path: Path) -> sqlite3.Connection:
    """A connection tuned for a one-shot bulk load into a file nobody else sees yet."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA page_size=16384")
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA temp_store=FILE")
    return conn


def _load(export_dir: Path, tmp: Path, manifest: dict[str, Any], info: dict[str, Any],
          progress: Progress | None) -> LoadResult:
    conn = connect_for_load(tmp)
    db = sqlite_utils.Database(conn)
    connector = str((manifest.get("connector") or {}).get("name", ""))
    objects: dict[str, ObjectLoad] = {}
    relations: dict[str, RelationLoad] = {}
    try:
        conn.execute("BEGIN")
        search_sources: list[tuple[str, dict[str, list[str]]]] = []
        for name, entry in (manifest.get("objects") or {}).items():
            load, shape = _load_object(db, conn, export_dir, connector, name, entry, progress)
            objects[name] = load
            found = search_columns(name, [c.name for c in shape.columns])
            if found is not None:
                search_sources.append((name, found))
        for stem, entry in (manifest.get("relations") or {}).items():
            relations[stem] = _load_relation(db, conn, export_dir, stem, entry, objects)
        _build_search(db, conn, search_sources)
        _write_info(db, manifest, info)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return LoadResult(tmp, manifest, "", objects, relations, 0.0, 0)


def _schema(export_dir: Path, entry: dict[str, Any]) -> tuple[Any, str | None]:
    rel = (entry.get("schema") or {}).get("file")
    if not rel or not (export_dir / rel).exists():
        return None, None
    data = (export_dir / rel).read_bytes()
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        doc = None
    return doc, hashlib.sha256(data).hexdigest()


def _load_object(db: sqlite_utils.Database, conn: sqlite3.Connection, export_dir: Path,
                 connector: str, name: str, entry: dict[str, Any],
                 progress: Progress | None) -> tuple[ObjectLoad, ObjectShape]:
    path = export_dir / str(entry.get("file") or f"objects/{name}.ndjson")
    schema, schema_sha = _schema(export_dir, entry)
    shape = shape_for(connector, name, entry, schema, first_record(path))
    result = ObjectLoad(name, schema_sha256=schema_sha)
    columns: dict[str, Any] = {"id": str, "_archived": int, "_raw": str}
    columns.update({c.name: c.type for c in shape.columns})
    db.table(name).create(columns, pk="id", not_null={"id", "_archived", "_raw"})
    result.columns = list(columns)
    sql = (f"INSERT INTO {quote(name)} VALUES ({', '.join('?' * len(columns))})")
    if not path.exists():
        result.missing_file = True
        return result, shape
    digest = ContentDigest()
    sha = hashlib.sha256()
    add = digest.add_canonical
    loads = orjson.loads
    extract, archived, id_field = shape.extract, shape.archived, shape.id_field
    batch: list[tuple[Any, ...]] = []
    for line in read_lines(path, sha):
        add(line)
        result.lines += 1
        try:
            record = loads(line)
        except orjson.JSONDecodeError:
            record = None
        if not isinstance(record, dict):
            # Counted and digested (so the mismatch is visible), kept raw under a line id.
            result.unparsable += 1
            batch.append((f"#{result.lines}", 0, line.decode("utf-8", "replace"),
                          *(None,) * len(shape.columns)))
        else:
            rid = record.get(id_field) if id_field is not None else None
            if rid is None or rid == "":
                rid = f"#{result.lines}"
            flag = archived(record)
            result.archived += flag
            batch.append((rid if type(rid) is str else str(rid), flag, line.decode(),
                           *extract(record)))
        if len(batch) >= BATCH:
            _insert(conn, sql, name, batch, result)
            if progress is not None:
                progress(name, len(batch))
            batch = []
    if batch:
        _insert(conn, sql, name, batch, result)
        if progress is not None:
            progress(name, len(batch))
    result.content_digest = digest.hexdigest()
    result.file_sha256 = sha.hexdigest()
    result.rows = int(conn.execute(f"SELECT count(*) FROM {quote(name)}").fetchone()[0])
    return result, shape


def _insert(conn: sqlite3.Connection, sql: str, name: str, rows: list[tuple[Any, ...]],
            result: ObjectLoad) -> None:
    """executemany; a duplicate id makes the later line replace the earlier one, counted."""
    while rows:
        before = conn.total_changes
        try:
            conn.executemany(sql, rows)
            return
        except sqlite3.IntegrityError:
            done = conn.total_changes - before
            duplicate = rows[done]
            result.duplicates += 1
            if len(result.duplicate_ids) < SAMPLE:
                result.duplicate_ids.append(str(duplicate[0]))
            conn.execute(sql.replace("INSERT INTO", "INSERT OR REPLACE INTO", 1), duplicate)
            rows = rows[done + 1:]


def _load_relation(db: sqlite_utils.Database, conn: sqlite3.Connection, export_dir: Path,
                   stem: str, entry: dict[str, Any],
                   objects: dict[str, ObjectLoad]) -> RelationLoad:
    from_object, _, to_object = stem.partition("__")
    result = RelationLoad(stem, from_object, to_object)
    table = f"rel_{stem}"
    db.table(table).create({"from_id": str, "to_id": str, "type": str})
    path = export_dir / str(entry.get("path") or f"relations/{stem}.ndjson")
    if not path.exists():
        result.missing_file = True
    else:
        digest = ContentDigest()
        sha = hashlib.sha256()
        sql = f"INSERT INTO {quote(table)} VALUES (?, ?, ?)"
        batch: list[tuple[Any, ...]] = []
        for line in read_lines(path, sha):
            digest.add_canonical(line)
            result.lines += 1
            try:
                rel = orjson.loads(line)
            except orjson.JSONDecodeError:
                rel = None
            if isinstance(rel, dict):
                batch.append((_text(rel.get("from_id")), _text(rel.get("to_id")),
                              _text(rel.get("type"))))
            if len(batch) >= BATCH * 5:
                conn.executemany(sql, batch)
                batch = []
        conn.executemany(sql, batch)
        result.content_digest = digest.hexdigest()
        result.file_sha256 = sha.hexdigest()
    db.table(table).create_index(["from_id"])
    db.table(table).create_index(["to_id"])
    if from_object in objects and to_object in objects:
        _dangling(conn, result)
    else:
        result.checked = False
    return result


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _dangling(conn: sqlite3.Connection, result: RelationLoad) -> None:
    table = quote(f"rel_{result.stem}")
    for side, obj in (("from_id", result.from_object), ("to_id", result.to_object)):
        where = (f"FROM {table} r WHERE NOT EXISTS "
                 f"(SELECT 1 FROM {quote(obj)} t WHERE t.id = r.{side})")
        count = int(conn.execute(f"SELECT count(*) {where}").fetchone()[0])
        if side == "from_id":
            result.dangling_from = count
        else:
            result.dangling_to = count
        if count:
            for (value,) in conn.execute(f"SELECT DISTINCT r.{side} {where} LIMIT {SAMPLE}"):
                result.dangling_samples.append(f"{obj} {value}")


def _build_search(db: sqlite_utils.Database, conn: sqlite3.Connection,
                  sources: list[tuple[str, dict[str, list[str]]]]) -> None:
    conn.execute(f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5(object UNINDEXED, "
                 "record_id UNINDEXED, name, email, city, "
                 "tokenize = 'unicode61 remove_diacritics 2')")

    def expr(cols: list[str]) -> str:
        if not cols:
            return "NULL"
        return "trim(" + " || ' ' || ".join(f"coalesce({quote(c)}, '')" for c in cols) + ")"

    for name, cols in sources:
        conn.execute(f"INSERT INTO {SEARCH_TABLE} (object, record_id, name, email, city) "
                     f"SELECT ?, id, {expr(cols['name'])}, {expr(cols['email'])}, "
                     f"{expr(cols['city'])} FROM {quote(name)}", (name,))


def _write_info(db: sqlite_utils.Database, manifest: dict[str, Any],
                info: dict[str, Any]) -> None:
    facts = {"format": "vaultkeeper-mirror/1", "manifest": _json_text(manifest),
             **{k: v if isinstance(v, str) else _json_text(v) for k, v in info.items()}}
    db.table(INFO_TABLE).create({"key": str, "value": str}, pk="key")
    db.execute(f"INSERT INTO {INFO_TABLE} VALUES " + ", ".join("(?, ?)" for _ in facts),
               [x for kv in facts.items() for x in kv])


# -- reading the mirror ---------------------------------------------------------------------
def open_mirror(path: Path, *, write: bool = False) -> sqlite3.Connection:
    """Open the mirror (read-only unless ``write``); raises when there is none yet."""
    if not path.exists():
        raise FileNotFoundError(path)
    mode = "rw" if write else "ro"
    return sqlite3.connect(f"file:{path}?mode={mode}", uri=True)


def query(path: Path, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[str],
                                                                       list[tuple[Any, ...]]]:
    """Run one SQL statement read-only; returns column names and rows."""
    conn = open_mirror(path)
    try:
        cursor = conn.execute(sql, params)
        names = [d[0] for d in cursor.description or ()]
        return names, cursor.fetchall()
    finally:
        conn.close()


def user_query(path: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """``query`` for a statement a person typed (`mirror query`): an SQL error is a usage error."""
    try:
        return query(path, sql)
    except sqlite3.Error as exc:
        raise UsageError(f"SQL error: {exc}", "check the statement; `select name from "
                         "sqlite_master` lists the tables") from None


def info(path: Path) -> dict[str, str]:
    """The ``_mirror_info`` facts of a mirror."""
    conn = open_mirror(path)
    try:
        return dict(conn.execute(f"SELECT key, value FROM {INFO_TABLE}").fetchall())
    finally:
        conn.close()


def connector_of(path: Path) -> str | None:
    """The connector whose export made this mirror (from its manifest), None for a SQLite
    file that is not a drilled mirror."""
    try:
        manifest = orjson.loads(info(path).get("manifest") or "{}")
    except (OSError, sqlite3.Error, orjson.JSONDecodeError):
        return None
    connector = manifest.get("connector") if isinstance(manifest, dict) else None
    name = connector.get("name") if isinstance(connector, dict) else connector
    return str(name) if name else None


def recompute_digest(path: Path, table: str) -> tuple[int, str]:
    """Count and content digest of a table recomputed from its ``_raw`` column."""
    conn = open_mirror(path)
    try:
        digest = ContentDigest()
        for (raw,) in conn.execute(f"SELECT _raw FROM {quote(table)}"):
            digest.add_canonical(raw.encode())
        return digest.count, digest.hexdigest()
    finally:
        conn.close()


def delete_records(path: Path, ids: dict[str, set[str]],
                   files: Iterable[tuple[str, str]] = ()) -> dict[str, int]:
    """Delete records (per table) from a mirror, with their relation rows, search entries and
    file links, and the files (kind, id) given, then VACUUM so no deleted page keeps them;
    returns rows deleted per table (``_files``: files deleted)."""
    conn = open_mirror(path, write=True)
    deleted: dict[str, int] = {}
    try:
        conn.execute("PRAGMA secure_delete = ON")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        conn.execute("CREATE TEMP TABLE _gone (object TEXT, id TEXT, PRIMARY KEY (object, id))")
        conn.executemany("INSERT OR IGNORE INTO _gone VALUES (?, ?)",
                         [(obj, rid) for obj, rids in ids.items() for rid in rids])
        for obj in ids:
            if obj not in tables:
                continue
            cur = conn.execute(f"DELETE FROM {quote(obj)} WHERE id IN "
                               "(SELECT id FROM _gone WHERE object = ?)", (obj,))
            deleted[obj] = cur.rowcount
        for table in sorted(t for t in tables if t.startswith("rel_")):
            first, _, second = table[4:].partition("__")
            conn.execute(f"DELETE FROM {quote(table)} WHERE from_id IN (SELECT id FROM _gone "
                         "WHERE object = ?) OR to_id IN (SELECT id FROM _gone WHERE object = ?)",
                         (first, second))
        if SEARCH_TABLE in tables:
            conn.execute(f"DELETE FROM {SEARCH_TABLE} WHERE rowid IN (SELECT s.rowid FROM "
                         f"{SEARCH_TABLE} s JOIN _gone g ON g.object = s.object "
                         "AND g.id = s.record_id)")
        gone_files = mirror_files.delete_file_rows(conn, files)
        if gone_files:
            deleted[mirror_files.FILES_TABLE] = gone_files
        conn.commit()
        conn.execute("VACUUM")
    finally:
        conn.close()
    return deleted


def count_rows(path: Path, table: str) -> int:
    """Rows of one mirror table."""
    _, rows = query(path, f"SELECT count(*) FROM {quote(table)}")
    return int(rows[0][0])
