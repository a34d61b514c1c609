"""Escrow state: share sets handed to trustees and escrow restic keys per location.

Never a secret: a share set is its SLIP-39 set id and scheme; an escrow key is restic's key id
and the *reference* to its password (``file:…``, ``env:…``).
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from vaultkeeper.db import create_table, now_iso


def ensure_escrow(db: sqlite_utils.Database) -> None:
    """Create the tables if missing (idempotent)."""
    create_table(db, "escrow_share_sets", {
        "set_id": str, "created_at": str, "threshold": int, "shares": int,
        "format": str, "organisation": str, "out_dir": str,
    }, pk="set_id", not_null={"created_at", "threshold", "shares"})
    create_table(db, "escrow_keys", {
        "location": str, "key_id": str, "label": str, "password_ref": str,
        "added_at": str, "revoked_at": str,
    }, pk=("location", "key_id"), not_null={"added_at"})


def record_share_set(db: sqlite_utils.Database, *, set_id: str, threshold: int, shares: int,
                     fmt: str, organisation: str, out_dir: str) -> None:
    """Remember a split (the newest set is the one trustees should hold)."""
    ensure_escrow(db)
    db.table("escrow_share_sets").upsert({
        "set_id": set_id, "created_at": now_iso(), "threshold": threshold, "shares": shares,
        "format": fmt, "organisation": organisation, "out_dir": out_dir}, pk="set_id")


def share_sets(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every recorded split, newest first."""
    ensure_escrow(db)
    return list(db.table("escrow_share_sets").rows_where(order_by="created_at desc, rowid desc"))


def record_key(db: sqlite_utils.Database, location: str, key_id: str, *, label: str,
               password_ref: str) -> None:
    """An escrow key now opens ``location`` (re-adding clears an earlier revocation)."""
    ensure_escrow(db)
    db.table("escrow_keys").upsert({
        "location": location, "key_id": key_id, "label": label, "password_ref": password_ref,
        "added_at": now_iso(), "revoked_at": None}, pk=("location", "key_id"))


def revoke_key(db: sqlite_utils.Database, location: str, key_id: str) -> None:
    """The key was removed from the location's repository."""
    ensure_escrow(db)
    rows = list(db.table("escrow_keys").rows_where(
        "location = ? and revoked_at is null and (key_id = ? or key_id like ?)",
        [location, key_id, key_id + "%"]))
    for row in rows:
        db.table("escrow_keys").update((row["location"], row["key_id"]),
                                       {"revoked_at": now_iso()})


def active_keys(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Escrow keys added and not revoked, by location."""
    ensure_escrow(db)
    return list(db.table("escrow_keys").rows_where("revoked_at is null",
                                                   order_by="location, added_at"))


def all_keys(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every escrow key ever recorded, revoked ones included."""
    ensure_escrow(db)
    return list(db.table("escrow_keys").rows_where(order_by="location, added_at"))


# ------------------------------------------------------------------------ deposits, verifications
def ensure_deposits(db: sqlite_utils.Database) -> None:
    """Create the deposit and verification tables if missing (idempotent)."""
    ensure_escrow(db)
    create_table(db, "escrow_deposits", {
        "id": int, "created_at": str, "snapshot_id": str, "escrow_snapshot_id": str,
        "drill_id": int, "repository": str, "kit": str, "files": int,
        "inventory_sha256": str, "fingerprint": str, "release_conditions": str,
    }, pk="id", not_null={"created_at", "snapshot_id"})
    create_table(db, "escrow_verifications", {
        "id": int, "at": str, "level": int, "result": str, "deposit_id": int,
        "snapshot_id": str, "report": str,
    }, pk="id", not_null={"at", "level", "result"})


def record_deposit(db: sqlite_utils.Database, fields: dict[str, Any]) -> int:
    """A deposit was made (fields: the table's columns but id and created_at)."""
    ensure_deposits(db)
    table = db.table("escrow_deposits")
    table.insert({"created_at": now_iso(), **fields})
    return int(table.last_pk or 0)


def last_deposit(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The newest deposit, or None."""
    ensure_deposits(db)
    rows = list(db.table("escrow_deposits").rows_where(order_by="id desc", limit=1))
    return dict(rows[0]) if rows else None


def record_verification(db: sqlite_utils.Database, *, level: int, result: str,
                        deposit_id: int | None, snapshot_id: str, report: str) -> int:
    """A verification ran (report: its JSON text)."""
    ensure_deposits(db)
    table = db.table("escrow_verifications")
    table.insert({"at": now_iso(), "level": level, "result": result, "deposit_id": deposit_id,
                  "snapshot_id": snapshot_id, "report": report})
    return int(table.last_pk or 0)


def verifications(db: sqlite_utils.Database, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent verifications, newest first."""
    ensure_deposits(db)
    return list(db.table("escrow_verifications").rows_where(order_by="id desc", limit=limit))
