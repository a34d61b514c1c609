"""The restore journal in the state database: runs, the planned action and outcome of every
record (which is also the id map old → new), and the relations to re-link.

Journal-before-write: an item is marked ``pending`` (with the batch it goes in) *before* its
write request is sent, and ``done``/``failed`` when the answer is in. After a crash, ``pending``
items are the only ones whose outcome is unknown; the restore service reconciles them against
the target before anything is sent again. No record values are stored here (only ids, field
names, outcomes and the vendor's messages): plaintext CRM data stays in private work folders.

Tables: ``restore_runs`` (one row per run), ``restore_items`` (run, object, old_id → action,
state, outcome, new_id, reason), ``restore_links`` (run, relation endpoints by old id, state).
"""

# Table names are module constants; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlite_utils

from vaultkeeper.db import create_table, json_row, now_iso

RUNS = "restore_runs"
ITEMS = "restore_items"
LINKS = "restore_links"
FILES = "restore_files"
UNFINISHED = ("planning", "applying")


def ensure(db: sqlite_utils.Database) -> None:
    """Create the journal tables if missing (idempotent)."""
    create_table(db, RUNS, {
        "id": int, "started_at": str, "finished_at": str, "status": str,
        "fingerprint": str, "target": str, "connector": str, "snapshot_id": str,
        "source": str, "options": str, "plan": str, "report": str, "exit_code": int,
        "kind": str,
    }, pk="id", not_null={"started_at", "status"}, indexes=[["fingerprint", "status"]])
    create_table(db, ITEMS, {
        "run_id": int, "object": str, "old_id": str, "action": str, "fields": str,
        "state": str, "outcome": str, "new_id": str, "reason": str, "code": str,
        "batch": int, "seq": int,
    }, pk=("run_id", "object", "old_id"), not_null={"run_id", "object", "old_id"},
    indexes=[["run_id", "state"], ["new_id"]])
    create_table(db, LINKS, {
        "run_id": int, "seq": int, "from_object": str, "from_id": str, "to_object": str,
        "to_id": str, "kind": str, "state": str, "reason": str,
    }, pk=("run_id", "seq"), not_null={"run_id", "seq"})
    create_table(db, FILES, {
        "run_id": int, "kind": str, "file_id": str, "name": str, "size": int, "action": str,
        "state": str, "new_id": str, "records": str, "reason": str,
    }, pk=("run_id", "kind", "file_id"), not_null={"run_id", "kind", "file_id"})


def start_run(db: sqlite_utils.Database, fields: dict[str, Any]) -> int:
    """A new run in state ``planning``; returns its id."""
    ensure(db)
    table = db.table(RUNS)
    table.insert({"started_at": now_iso(), "status": "planning", **fields})
    return int(table.last_pk or 0)


def get_run(db: sqlite_utils.Database, run_id: int) -> dict[str, Any] | None:
    """One run (options/plan/report parsed), or None."""
    ensure(db)
    return json_row(db, RUNS, "id = ?", [run_id], ["options", "plan", "report"])


def unfinished(db: sqlite_utils.Database, fingerprint: str) -> int | None:
    """The newest unfinished run with this fingerprint (the same command, killed), if any."""
    ensure(db)
    rows = list(db.query(f"select id from {RUNS} where fingerprint = ? and status in "
                         "('planning', 'applying') order by id desc limit 1", [fingerprint]))
    return int(rows[0]["id"]) if rows else None


def set_status(db: sqlite_utils.Database, run_id: int, status: str, **fields: Any) -> None:
    """Move a run to ``status`` (``applying``, ``done``, ``failed``, ``planned``…)."""
    extra = {k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
             for k, v in fields.items()}
    if status not in UNFINISHED:
        extra["finished_at"] = now_iso()
    db.table(RUNS).update(run_id, {"status": status, **extra})


def history(db: sqlite_utils.Database, limit: int = 20) -> list[dict[str, Any]]:
    """Recent runs, newest first (without plan and report)."""
    ensure(db)
    return [{k: v for k, v in row.items() if k not in ("plan", "report", "options")}
            for row in db.table(RUNS).rows_where(order_by="id desc", limit=limit)]


# -- items ----------------------------------------------------------------------------------
def clear_items(db: sqlite_utils.Database, run_id: int) -> None:
    """Forget a run's plan (a run killed while planning is planned again)."""
    db.execute(f"delete from {ITEMS} where run_id = ?", [run_id])
    db.execute(f"delete from {LINKS} where run_id = ?", [run_id])


def add_items(db: sqlite_utils.Database, run_id: int,
              rows: Iterable[tuple[str, str, str, Sequence[str], str, str, str]]) -> None:
    """Journal planned items: (object, old_id, action, fields, target id or '', outcome,
    reason). Items with an outcome already (Skipped) or none to reach (anchors) start done."""
    batch = []
    for i, (obj, old, action, fields, target, outcome, reason) in enumerate(rows):
        settled = bool(outcome) or action in ("skip", "anchor")
        batch.append({"run_id": run_id, "object": obj, "old_id": old, "action": action,
                      "fields": json.dumps(list(fields)), "state": "done" if settled else
                      "planned", "outcome": outcome or None, "reason": reason or None,
                      "new_id": target or None, "seq": i})
    with db.conn:
        db.table(ITEMS).insert_all(batch, batch_size=2000)


def items(db: sqlite_utils.Database, run_id: int, *, obj: str | None = None,
          state: str | None = None) -> list[dict[str, Any]]:
    """A run's items in plan order, optionally only one object / one state."""
    where, params = "run_id = ?", list[Any]([run_id])
    if obj is not None:
        where, params = where + " and object = ?", [*params, obj]
    if state is not None:
        where, params = where + " and state = ?", [*params, state]
    rows = []
    for row in db.table(ITEMS).rows_where(where, params, order_by="seq"):
        row = dict(row)
        row["fields"] = json.loads(row["fields"] or "[]")
        rows.append(row)
    return rows


def mark_pending(db: sqlite_utils.Database, run_id: int, obj: str, old_ids: Sequence[str],
                 batch: int) -> None:
    """Before the write request leaves: these items' outcome becomes unknown until answered."""
    with db.conn:
        db.conn.executemany(
            f"update {ITEMS} set state = 'pending', batch = ? where run_id = ? and object = ? "
            "and old_id = ?", [(batch, run_id, obj, old) for old in old_ids])


def record_outcomes(db: sqlite_utils.Database, run_id: int, obj: str,
                    outcomes: Iterable[tuple[str, str, str | None, str, str]]) -> None:
    """Answers in: (old_id, outcome, new_id, reason, code); failed outcomes end ``failed``."""
    rows = [("failed" if outcome == "Failed" else "done", outcome, new_id, reason or None,
             code or None, run_id, obj, old) for old, outcome, new_id, reason, code in outcomes]
    with db.conn:
        db.conn.executemany(
            f"update {ITEMS} set state = ?, outcome = ?, new_id = coalesce(?, new_id), "
            "reason = ?, code = ? where run_id = ? and object = ? and old_id = ?", rows)


def replan(db: sqlite_utils.Database, run_id: int, obj: str, old_ids: Sequence[str]) -> None:
    """Pending items whose write is to be sent again go back to ``planned``."""
    with db.conn:
        db.conn.executemany(f"update {ITEMS} set state = 'planned' where run_id = ? and "
                            "object = ? and old_id = ?", [(run_id, obj, old) for old in old_ids])


def id_map(db: sqlite_utils.Database, run_id: int) -> dict[tuple[str, str], str]:
    """(object, old id) → id in the target, for every item whose target id is known."""
    return {(r[0], r[1]): r[2] for r in db.execute(
        f"select object, old_id, new_id from {ITEMS} where run_id = ? and new_id is not null",
        [run_id]).fetchall()}


def previous_id_map(db: sqlite_utils.Database, target: str,
                    exclude_run: int) -> dict[tuple[str, str], str]:
    """Records earlier runs re-created in ``target``: (object, old id) → new id (the newest
    run wins), so a later restore updates them instead of creating them again."""
    ensure(db)
    found: dict[tuple[str, str], str] = {}
    for obj, old, new in db.execute(
            f"select i.object, i.old_id, i.new_id from {ITEMS} i join {RUNS} r on r.id = i.run_id "
            "where r.target = ? and r.id != ? and i.outcome = 'Created' and i.new_id is not null "
            "order by r.id", [target, exclude_run]).fetchall():
        found[(obj, old)] = new
    return found


# -- links ----------------------------------------------------------------------------------
def add_links(db: sqlite_utils.Database, run_id: int,
              rows: Iterable[tuple[str, str, str, str, str]]) -> None:
    """Journal relations to re-link: (from_object, from_id, to_object, to_id, kind), old ids."""
    batch = [{"run_id": run_id, "seq": i, "from_object": a, "from_id": b, "to_object": c,
              "to_id": d, "kind": k, "state": "planned"} for i, (a, b, c, d, k) in enumerate(rows)]
    with db.conn:
        db.table(LINKS).insert_all(batch, batch_size=2000)


def links(db: sqlite_utils.Database, run_id: int,
          states: Sequence[str] = ("planned", "pending")) -> list[dict[str, Any]]:
    """A run's relations in the given states, in plan order."""
    marks = ", ".join("?" for _ in states)
    return [dict(r) for r in db.table(LINKS).rows_where(
        f"run_id = ? and state in ({marks})", [run_id, *states], order_by="seq")]


def all_links(db: sqlite_utils.Database, run_id: int) -> list[dict[str, Any]]:
    """Every relation of a run."""
    return [dict(r) for r in db.table(LINKS).rows_where("run_id = ?", [run_id], order_by="seq")]


def mark_links(db: sqlite_utils.Database, run_id: int,
               results: Iterable[tuple[int, str, str]]) -> None:
    """(seq, state, reason) for relations: ``pending`` before sending, then done/failed."""
    with db.conn:
        db.conn.executemany(f"update {LINKS} set state = ?, reason = ? where run_id = ? and "
                            "seq = ?", [(state, reason or None, run_id, seq)
                                        for seq, state, reason in results])


# -- files ----------------------------------------------------------------------------------
def record_file(db: sqlite_utils.Database, run_id: int, row: dict[str, Any]) -> None:
    """Journal one file of a run (kind, file_id, name, size, action, state, new_id, records,
    reason): ``pending`` before its upload leaves, then ``done``/``failed``/``kept``."""
    ensure(db)
    db.table(FILES).upsert({"run_id": run_id, **row, "records": json.dumps(
        row.get("records", []))}, pk=("run_id", "kind", "file_id"))


def files(db: sqlite_utils.Database, run_id: int) -> list[dict[str, Any]]:
    """The files of one run, in order."""
    ensure(db)
    out = []
    for row in db.query(f"select * from {FILES} where run_id = ? order by kind, file_id",
                        [run_id]):
        out.append({**row, "records": json.loads(row["records"] or "[]")})
    return out


def previous_file_map(db: sqlite_utils.Database, target: str) -> dict[tuple[str, str], str]:
    """Files earlier runs uploaded into ``target``: (kind, old id) → new id (newest wins)."""
    ensure(db)
    found: dict[tuple[str, str], str] = {}
    for kind, old, new in db.execute(
            f"select f.kind, f.file_id, f.new_id from {FILES} f join {RUNS} r on "
            "r.id = f.run_id where r.target = ? and f.state = 'done' and f.new_id is not null "
            "order by r.id", [target]).fetchall():
        found[(kind, old)] = new
    return found
