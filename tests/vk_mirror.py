"""Build a drilled mirror and a drill record by the drill contract, for readiness tests.

The real `vaultkeeper drill` restores a snapshot and loads it; here the export directory is
loaded directly, following the same contract: ``<state_dir>/mirror/mirror.db`` with one table
per object (PK ``id``, ``_archived`` 0/1, ``_raw`` JSON, HubSpot ``properties.X`` as column
``X``), and the state DB table ``drills``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlite_utils

from vaultkeeper.db import open_state_db
from vaultkeeper.db import runs as rundb


def build_mirror(export_dir: Path, mirror: Path) -> dict[str, int]:
    """Load every object of an export into a fresh mirror; returns the counts."""
    mirror.parent.mkdir(parents=True, exist_ok=True)
    mirror.unlink(missing_ok=True)
    db = sqlite_utils.Database(mirror)
    counts = {}
    for path in sorted((export_dir / "objects").glob("*.ndjson")):
        rows = []
        columns: dict[str, type] = {"id": str, "_archived": int, "_raw": str}
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            props = record.get("properties") or {}
            for key in props:
                columns.setdefault(key, str)
            rows.append({"id": str(record["id"]), "_archived": int(bool(record.get("archived"))),
                         "_raw": line, **props})
        table = db.table(path.stem)
        table.create(columns, pk="id")
        table.insert_all(rows, batch_size=500)
        counts[path.stem] = len(rows)
    db.close()
    return counts


def record_backup(state_dir: Path, counts: dict[str, int], *, status: str = "ok",
                  age: timedelta = timedelta(hours=1), problems: list[str] | None = None) -> int:
    """A finished backup run with these counts, ``age`` ago."""
    db = open_state_db(state_dir)
    run_id = rundb.start_run(db)
    rundb.finish_run(db, run_id, status=status, export_status="complete", counts=counts,
                     problems=problems)
    when = (datetime.now(UTC) - age).isoformat(timespec="seconds")
    db.table("backup_runs").update(run_id, {"finished_at": when, "started_at": when})
    return run_id


def record_drill(state_dir: Path, mirror: Path, *, result: str = "verified",
                 total_s: float = 42.0) -> int:
    """A drill row as `vaultkeeper drill` writes it."""
    db = open_state_db(state_dir)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    table = db.table("drills")
    table.insert({"started_at": now, "finished_at": now, "location": "nas",
                  "snapshot_id": "0123456789abcdef", "result": result,
                  "restore_s": total_s * 0.6, "load_s": total_s * 0.4, "total_s": total_s,
                  "mirror_path": str(mirror), "report": "{}"}, pk="id", alter=True)
    return int(table.last_pk or 0)
