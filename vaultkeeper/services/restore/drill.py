"""``vaultkeeper drill --into-crm TARGET``: the restore test the migration guides ask for.

Restore a snapshot (or a sample closed under relations) into a separate CRM target through the
restore engine, export that target back with the normal exporter, and reconcile record by
record (through the id map, writable fields only: the vendor computes the rest) and relation
by relation with the snapshot. A target that silently drops a property fails the drill (exit 4)
naming the object and the field. The result is a row of drill history (location
``crm:<target>``), shown by ``status`` and judged by ``processes check``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from vaultkeeper.config import Settings
from vaultkeeper.db import drills as drilldb
from vaultkeeper.db import restores as journal
from vaultkeeper.db.selection import MirrorReader
from vaultkeeper.errors import ExitCode, VaultkeeperError
from vaultkeeper.exportfmt import iter_lines
from vaultkeeper.privatefs import run_lock
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.drill_run import DrillRun
from vaultkeeper.services.export import run_export
from vaultkeeper.services.restore.apply import Applier
from vaultkeeper.services.restore.plan import compare_fields
from vaultkeeper.services.restore.records import differing, properties_of
from vaultkeeper.services.restore.report import RestoreReport
from vaultkeeper.services.restore.run import RestoreOptions, execute, fingerprint
from vaultkeeper.services.restore.selection import Choice, relations_within
from vaultkeeper.services.restore.source import open_source
from vaultkeeper.services.restore.target import Target, open_target

LOCK = "drill.lock"
STAGING = "crm-drill-staging"
PREFIX = "crm:"


@dataclass
class CrmDrillReport(DrillRun):
    """What a drill into a CRM found (stored whole in drill history)."""

    kind: str = "into-crm"
    target: str = ""
    sample: int | None = None
    restore_run: int = 0
    restore_status: str = ""
    relations: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    exit_code: int = 0

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape (also what drill history keeps)."""
        return {"ok": self.exit_code == 0, **asdict(self)}

    def summary(self) -> str:
        """One line naming the first failed object (and field)."""
        if not self.failures:
            return (f"CRM drill into {self.target}: snapshot {self.short_id} restored, exported "
                    f"back and reconciled ({self.records} records)")
        first = self.failures[0]
        more = f" (and {len(self.failures) - 1} more)" if len(self.failures) > 1 else ""
        return f"CRM drill into {self.target} failed: {first['object']}: {first['problem']}{more}"


def run_crm_drill(given: Settings | CommandContext, target: str, *, snapshot: str | None = None,
                  location: str | None = None, sample: int | None = None) -> CrmDrillReport:
    """Restore → export back → reconcile; recorded in drill history."""
    ctx = CommandContext.of(given)
    with run_lock(ctx.state_dir, LOCK, "drill"):
        db = ctx.db
        drilldb.abandon_unfinished(db)
        report = CrmDrillReport(drill_id=drilldb.start_drill(db, PREFIX + target),
                                location=PREFIX + target, target=target, sample=sample,
                                started_at=datetime.now(UTC).isoformat(timespec="seconds"))
        began = time.monotonic()
        try:
            _drill(ctx, db, report, snapshot, location, sample)
            report.result = "failed" if report.failures else "verified"
            report.exit_code = int(ExitCode.VERIFICATION) if report.failures else 0
        except VaultkeeperError as exc:
            report.result, report.error = "error", exc.one_line()
            report.exit_code = int(exc.exit_code)
        report.durations["total_s"] = round(time.monotonic() - began, 3)
        report.finish(db)
    return report


def _drill(ctx: CommandContext, db: Any, report: CrmDrillReport, snapshot: str | None,
           location: str | None, sample: int | None) -> None:
    with open_source(ctx, snapshot=snapshot, location=location, from_mirror=False,
                     staging=STAGING) as src, open_target(ctx.settings, report.target) as target:
        report.snapshot_id, report.short_id = src.snapshot_id, src.snapshot_id[:8]
        reader = src.reader
        opts = RestoreOptions(into=report.target, yes=True, max_records=10**12)
        choice = Choice(everything=sample is None, sample=sample)
        fp = fingerprint(target.name, src.snapshot_id, opts) + f":drill:{sample}"
        began = time.monotonic()
        restored = execute(db, reader, target, opts, run_id=journal.unfinished(db, fp),
                           fingerprint=fp, snapshot_id=src.snapshot_id, source=src.description,
                           choice=choice, kind="drill")
        report.durations["restore_s"] = round(time.monotonic() - began, 3)
        report.restore_run, report.restore_status = restored.run_id, restored.status
        if restored.error:
            report.warnings.append(f"restore: {restored.error}")
        for record in restored.failed()[:20]:
            report.failures.append({"object": record["object"], "field": "",
                                    "problem": f"record {record['id']} was refused by the "
                                    f"target: {record['reason']}"})
        began = time.monotonic()
        back = src.reader.path.parent / "exported-back"
        with target.reader() as conn:
            run_export(conn, back, objects=reader.objects, overwrite=True)
        report.durations["export_s"] = round(time.monotonic() - began, 3)
        began = time.monotonic()
        _reconcile(db, reader, target, restored, back, report)
        report.durations["reconcile_s"] = round(time.monotonic() - began, 3)


def _exported(folder: Any, obj: str) -> dict[str, dict[str, Any]]:
    path = folder / "objects" / f"{obj}.ndjson"
    out: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in iter_lines(path):
            rec = orjson.loads(line)
            out[str(rec.get("id") or rec.get("Id"))] = rec
    return out


def _exported_relations(folder: Any) -> set[tuple[str, str, str]]:
    out: set[tuple[str, str, str]] = set()
    for path in sorted((folder / "relations").glob("*.ndjson")):
        for line in iter_lines(path):
            rel = orjson.loads(line)
            out.add((path.stem, str(rel["from_id"]), str(rel["to_id"])))
    return out


def _reconcile(db: Any, reader: MirrorReader, target: Target, restored: RestoreReport,
               back: Any, report: CrmDrillReport) -> None:
    """Every restored record and relation, through the id map, against the export."""
    applier = Applier(db, restored.run_id, reader, target.writer)
    items = [r for r in journal.items(db, restored.run_id) if r["action"] != "anchor"]
    id_map = journal.id_map(db, restored.run_id)
    connector = reader.connector
    selection: dict[str, list[str]] = {}
    for r in items:
        selection.setdefault(r["object"], []).append(r["old_id"])
    for obj, olds in selection.items():
        exported = _exported(back, obj)
        raws = reader.raw(obj, olds)
        writable = set(compare_fields(reader, target.writer, obj, ()))
        row: dict[str, Any] = {"object": obj, "expected": len(olds), "found": 0,
                               "missing": 0, "fields_differing": {}}
        for old in olds:
            new = id_map.get((obj, old))
            rec = exported.get(new or "")
            live = rec is not None and not (rec.get("archived") or rec.get("IsDeleted"))
            if not live:
                row["missing"] += 1
                continue
            row["found"] += 1
            snap = properties_of(connector, raws[old])
            sent = applier.create_values(obj, snap)
            names = [k for k in sent if k in writable]
            assert rec is not None
            for name in differing(sent, properties_of(connector, rec), names):
                row["fields_differing"][name] = row["fields_differing"].get(name, 0) + 1
        report.records += row["found"]
        report.objects.append(row)
        if row["missing"]:
            report.failures.append({"object": obj, "field": "", "problem":
                                    f"{row['missing']} of {len(olds)} record(s) are not in the "
                                    "target's export"})
        for name, count in sorted(row["fields_differing"].items()):
            report.failures.append({"object": obj, "field": name, "problem":
                                    f"{name} differs from the snapshot in {count} record(s) "
                                    "(the target did not keep what was written)"})
    wanted = relations_within(reader, selection)
    got = _exported_relations(back)
    stems = {(a, b): f"{a}__{b}" for a, _f, b, _t, _k in wanted}
    missing: dict[str, int] = {}
    for a, f, b, t, _k in wanted:
        key = (stems[(a, b)], id_map.get((a, f), ""), id_map.get((b, t), ""))
        if key not in got:
            missing[stems[(a, b)]] = missing.get(stems[(a, b)], 0) + 1
    report.relations = {"expected": len(wanted), "missing": sum(missing.values())}
    for stem, count in sorted(missing.items()):
        report.failures.append({"object": f"relations {stem}", "field": "", "problem":
                                f"{count} relation(s) of the snapshot are not in the target"})
