"""After the writes: read every written record back and compare the values that were written
with the snapshot (read-only fields are never compared: the vendor computes them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vaultkeeper.db import restores as journal
from vaultkeeper.services.restore.apply import Applier
from vaultkeeper.services.restore.plan import compare_fields
from vaultkeeper.services.restore.records import differing, properties_of, update_values

CHUNK = 500
WRITTEN = ("Created", "Updated", "Undeleted")


def verify(db: Any, run_id: int, applier: Applier,
           only_fields: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Mismatches (object, id, target id, field): values the target does not hold as in the
    snapshot. Re-created records: every value sent; updated and undeleted ones: every
    writable field (only ``--fields`` in a field-level rollback)."""
    rows = [r for r in journal.items(db, run_id) if r.get("outcome") in WRITTEN]
    by_obj: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_obj.setdefault(row["object"], []).append(row)
    connector = applier.connector
    out: list[dict[str, Any]] = []
    for obj, items in by_obj.items():
        every = compare_fields(applier.reader, applier.writer, obj, only_fields)
        for start in range(0, len(items), CHUNK):
            part = items[start:start + CHUNK]
            raws = applier.reader.raw(obj, [r["old_id"] for r in part])
            expected: dict[str, dict[str, Any]] = {}
            for r in part:
                snap = properties_of(connector, raws[r["old_id"]])
                expected[r["old_id"]] = (applier.create_values(obj, snap)
                                         if r["outcome"] == "Created"
                                         else update_values(connector, snap, [
                                             f for f in every if f in snap]))
            names = sorted({k for values in expected.values() for k in values})
            live = applier.writer.fetch(obj, [r["new_id"] for r in part], properties=names)
            for r in part:
                rec = live.get(r["new_id"])
                if rec is None or rec.archived:
                    out.append({"object": obj, "id": r["old_id"], "target_id": r["new_id"],
                                "field": "(the record is not live in the target)"})
                    continue
                values = expected[r["old_id"]]
                for name in differing(values, rec.properties, list(values)):
                    out.append({"object": obj, "id": r["old_id"], "target_id": r["new_id"],
                                "field": name})
    return out
