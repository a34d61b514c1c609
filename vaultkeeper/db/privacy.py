"""The erasure register: one row per erasure request, identifiers only as keyed hashes.

Never a plain identifier: ``hashes`` holds HMAC-SHA256 values (services/privacy/register.py
derives the key from the repository password), ``holdings`` the snapshots that still held the
person when the request was registered (snapshot ids, times, locations — no personal data).
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from vaultkeeper.db import create_table, now_iso

TABLE = "erasure_requests"


def ensure_privacy(db: sqlite_utils.Database) -> None:
    """Create the table if missing (idempotent)."""
    create_table(db, TABLE, {
        "ref": str, "registered_at": str, "hashes": str, "kinds": str, "found": int,
        "holdings": str, "checked_at": str,
    }, pk="ref", not_null={"registered_at", "hashes"})


def record_request(db: sqlite_utils.Database, ref: str, hashes: list[str], kinds: list[str],
                   *, found: int, holdings: list[dict[str, Any]]) -> dict[str, Any]:
    """Register (or extend) request ``ref``: hashes are merged, holdings replaced."""
    ensure_privacy(db)
    old = get_request(db, ref)
    merged = sorted(set(hashes) | set(old["hashes"] if old else []))
    row = {"ref": ref, "registered_at": old["registered_at"] if old else now_iso(),
           "hashes": json.dumps(merged), "kinds": json.dumps(sorted(set(kinds) | set(
               old["kinds"] if old else []))), "found": found,
           "holdings": json.dumps(holdings), "checked_at": now_iso()}
    db.table(TABLE).upsert(row, pk="ref")
    return _decode(row)


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"hashes": json.loads(row["hashes"]), "kinds": json.loads(row["kinds"] or "[]"),
                  "holdings": json.loads(row["holdings"] or "[]")}


def get_request(db: sqlite_utils.Database, ref: str) -> dict[str, Any] | None:
    """One request by reference, decoded."""
    ensure_privacy(db)
    rows = list(db.table(TABLE).rows_where("ref = ?", [ref]))
    return _decode(rows[0]) if rows else None


def requests(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every request, oldest first, decoded."""
    ensure_privacy(db)
    return [_decode(r) for r in db.table(TABLE).rows_where(order_by="registered_at, ref")]


def all_hashes(db: sqlite_utils.Database) -> set[str]:
    """Every registered identifier hash."""
    return {h for r in requests(db) for h in r["hashes"]}


def merge_requests(db: sqlite_utils.Database, rows: list[dict[str, Any]]) -> int:
    """Merge requests read from a backed-up register file; returns how many were new."""
    ensure_privacy(db)
    new = 0
    for row in rows:
        old = get_request(db, str(row["ref"]))
        if old is None:
            new += 1
        hashes = sorted(set(row.get("hashes", [])) | set(old["hashes"] if old else []))
        db.table(TABLE).upsert({
            "ref": str(row["ref"]),
            "registered_at": old["registered_at"] if old else str(row.get("registered_at")),
            "hashes": json.dumps(hashes), "kinds": json.dumps(row.get("kinds", [])),
            "found": int(row.get("found") or 0),
            "holdings": json.dumps(old["holdings"] if old else row.get("holdings", [])),
            "checked_at": old["checked_at"] if old else row.get("checked_at")}, pk="ref")
    return new
