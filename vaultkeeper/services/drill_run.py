"""A row of drill history: what every drill records, whatever it drilled (a location's
snapshot, or a CRM it restored into). ``DrillReport`` and ``CrmDrillReport`` add their own."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from vaultkeeper.db import drills as drilldb


@dataclass(kw_only=True)
class DrillRun:
    """The part of a drill's report that every drill fills and drill history lists."""

    drill_id: int
    location: str
    """The location drilled (``crm:<target>`` for a drill into a CRM)."""
    snapshot_id: str = ""
    short_id: str = ""
    result: str = "error"
    """verified | failed | error"""
    records: int = 0
    objects: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)
    started_at: str = ""
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        """The whole report, as drill history keeps it."""
        return asdict(self)

    def finish(self, db: Any, **columns: Any) -> None:
        """Close this drill's row of history: the common columns, the drill's own
        ``columns`` and the whole report."""
        times = self.durations
        drilldb.finish_drill(db, self.drill_id, {
            "location": self.location, "snapshot_id": self.snapshot_id,
            "short_id": self.short_id, "result": self.result, "records": self.records,
            "error": self.error, "restore_s": times.get("restore_s"),
            "total_s": times.get("total_s"), **columns}, self.as_json())
