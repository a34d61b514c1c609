"""Vendor risk signals and per-run export health in the state database.

``risk_signals``: one row per observation (signal, value as text, date, source, note,
recorded_at). ``export_health``: what each backup's export saw of the vendor's API (requests,
429s, latency, schema property names, deprecation notices), for `vaultkeeper risk collect`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlite_utils

from vaultkeeper.db import create_table, now_iso
from vaultkeeper.exportfmt import Manifest

SIGNALS = "risk_signals"
HEALTH = "export_health"


def ensure_risk(db: sqlite_utils.Database) -> None:
    """Create the tables if missing (idempotent)."""
    create_table(db, SIGNALS, {
        "id": int, "signal": str, "value": str, "date": str, "source": str, "note": str,
        "recorded_at": str,
    }, pk="id", not_null={"signal", "value", "date", "recorded_at"},
    indexes=[["signal", "date"]])
    create_table(db, HEALTH, {
        "run_id": int, "recorded_at": str, "requests": int, "retries": int,
        "rate_limited": int, "waited_s": float, "elapsed_s": float, "duration_s": float,
        "records": int, "properties": str, "deprecations": str,
    }, pk="run_id")


def add_signal(db: sqlite_utils.Database, signal: str, value: str, date: str, *,
               source: str = "", note: str = "", same_day_replaces: bool = False) -> int:
    """Store one observation; ``same_day_replaces`` keeps one row per signal, day and source
    (collectors run often; hand-recorded values are always kept)."""
    ensure_risk(db)
    table = db.table(SIGNALS)
    row = {"signal": signal, "value": value, "date": date, "source": source, "note": note,
           "recorded_at": now_iso()}
    if same_day_replaces:
        old = list(table.rows_where("signal = ? and date = ? and source = ?",
                                    [signal, date, source], limit=1))
        if old:
            table.update(old[0]["id"], row)
            return int(old[0]["id"])
    table.insert(row)
    return int(table.last_pk or 0)


def signal_rows(db: sqlite_utils.Database, signal: str | None = None) -> list[dict[str, Any]]:
    """Every observation (of one signal), oldest first by date, then by when it was recorded."""
    ensure_risk(db)
    where, args = ("signal = ?", [signal]) if signal else (None, [])
    return list(db.table(SIGNALS).rows_where(where, args, order_by="date, id"))


def record_export_health(db: sqlite_utils.Database, run_id: int,
                         export: Manifest | Mapping[str, Any]) -> None:
    """Keep what an export saw of the vendor's API (from its manifest) for the risk collector."""
    ensure_risk(db)
    manifest = export.raw if isinstance(export, Manifest) else export
    stats = manifest.get("requests") or {}
    causes = stats.get("retries_by_cause") or {}
    objects = manifest.get("objects") or {}
    properties = {name: (entry.get("schema") or {}).get("property_names")
                  for name, entry in objects.items()}
    db.table(HEALTH).upsert({
        "run_id": run_id, "recorded_at": now_iso(),
        "requests": int(stats.get("requests") or 0), "retries": int(stats.get("retries") or 0),
        "rate_limited": sum(int(n) for cause, n in causes.items() if "429" in str(cause)),
        "waited_s": float(stats.get("waited_s") or 0.0),
        "elapsed_s": float(stats.get("elapsed_s") or 0.0),
        "duration_s": float(manifest.get("duration_s") or 0.0),
        "records": sum(int(e.get("count") or 0) for e in objects.values()),
        "properties": json.dumps({k: v for k, v in properties.items() if v is not None}),
        "deprecations": json.dumps(stats.get("deprecations") or {}),
    }, pk="run_id")


def export_health(db: sqlite_utils.Database, limit: int = 10) -> list[dict[str, Any]]:
    """The most recent export health rows, newest first, with JSON columns decoded."""
    ensure_risk(db)
    rows = list(db.table(HEALTH).rows_where(order_by="run_id desc", limit=limit))
    for row in rows:
        row["properties"] = json.loads(row["properties"] or "{}")
        row["deprecations"] = json.loads(row["deprecations"] or "{}")
    return rows
