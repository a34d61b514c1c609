"""Restore drills: ``restic check`` (structure + a sampled read of the data) → restore a snapshot
into a private 0700 folder → load it into the SQLite mirror → reconcile with the manifest →
report, recorded in the state database.

A drill *fails* (result ``failed``, exit 4) when the data is missing, changed or corrupt; it is
an *error* (exit 1/7) when it could not run (location unreachable, wrong password, lock held).
The caller passes ``alert`` to be told about both (the scheduler wires alerts there).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from vaultkeeper.config import Settings
from vaultkeeper.connectors import open_connector
from vaultkeeper.db import drills as drilldb
from vaultkeeper.db import mirror as mirrordb
from vaultkeeper.errors import (
    ExportError,
    StorageError,
    UsageError,
    VaultkeeperError,
    VerificationError,
)
from vaultkeeper.exportfmt import Manifest, find_export_root
from vaultkeeper.privatefs import private_staging, run_lock
from vaultkeeper.restic import RepositoryCorrupt, select_snapshot
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.diff import compare_counts
from vaultkeeper.services.drill_checks import (
    DrillReport,
    Failure,
    check_manifest_tag,
    check_signature,
    reconcile,
)
from vaultkeeper.services.drill_files import check_files, report_files
from vaultkeeper.services.privacy.suppress import Suppression, erased_ids
from vaultkeeper.services.processes import by_priority, run_acceptance_checks
from vaultkeeper.storage.locations import Location, preflight

STAGING = "drill-staging"
LOCK = "drill.lock"
ROLLING_PARTS = 10
CANDIDATE = "candidate.db"
FAILED = "failed.db"


class DrillObserver:
    """Progress for the CLI; the default does nothing."""

    def stage(self, name: str, detail: str = "") -> None:
        """A stage starts: check, restore, load, reconcile, source."""

    def loading(self, obj: str, total: int) -> None:
        """An object's load starts with ``total`` records expected."""

    def advance(self, obj: str, records: int) -> None:
        """``records`` more records of ``obj`` are in the mirror."""


Alert = Callable[[DrillReport], None]


def _now() -> datetime:
    return datetime.now(UTC)


def run_drill(settings: Settings | CommandContext, location: str | None = None,
              snapshot: str = "latest", read_data_subset: str | None = None,
              against_source: bool = False, *, observer: DrillObserver | None = None,
              alert: Alert | None = None, accept_unsigned: bool = False,
              foreign_signature: bool = False) -> DrillReport:
    """Drill one snapshot of one location (default: the location drilled least recently).

    Only snapshots whose manifest carries vaultkeeper's signature (``sig:`` tag) are verified;
    ``accept_unsigned`` lets an unsigned one (plain restic, or made before manifests were
    signed) through with a warning. A wrong signature fails, unless ``foreign_signature``: the
    escrow agent's drill, whose password (the escrow key) cannot check the organisation's."""
    observer = observer or DrillObserver()
    ctx = CommandContext.of(settings)
    ctx.password  # noqa: B018 - the guard: no password, no drill
    locations = ctx.locations()
    if not locations:
        raise StorageError("no [[locations]] configured", "add a [[locations]] entry")
    with run_lock(ctx.state_dir, LOCK, "drill"):
        db = ctx.db
        drilldb.abandon_unfinished(db)
        chosen = pick_location(locations, drilldb.last_drilled(db), location)
        subset = read_data_subset or rolling_subset(drilldb.count_at(db, chosen.name))
        report = DrillReport(drill_id=drilldb.start_drill(db, chosen.name), location=chosen.name,
                             location_url=chosen.display_url,
                             started_at=_now().isoformat(timespec="seconds"))
        report.read_data_subset = subset
        began = time.monotonic()
        try:
            _drill(ctx, chosen, snapshot, subset, against_source, report, observer,
                   (accept_unsigned, foreign_signature))
        except BaseException as exc:
            report.result = "error"
            report.error = (exc.one_line() if isinstance(exc, VaultkeeperError)
                            else type(exc).__name__)
            report.durations["total_s"] = round(time.monotonic() - began, 3)
            _finish(db, report)
            if alert is not None and isinstance(exc, VaultkeeperError):
                alert(report)
            raise
        report.durations["total_s"] = round(time.monotonic() - began, 3)
        report.result = "failed" if report.failures else "verified"
        _finish(db, report)
    if report.result != "verified" and alert is not None:
        alert(report)
    return report


def rolling_subset(previous_drills: int) -> str:
    """``k/10`` rotating with each drill of a location: every pack is read every 10 drills."""
    return f"{previous_drills % ROLLING_PARTS + 1}/{ROLLING_PARTS}"


def pick_location(locations: list[Location], last: dict[str, int],
                  name: str | None) -> Location:
    """The named location, or the one drilled least recently (never drilled first)."""
    if name is not None:
        for loc in locations:
            if loc.name == name:
                return loc
        raise UsageError(f"no location named {name!r}",
                         f"use one of: {', '.join(loc.name for loc in locations)}")
    present = [loc for loc in locations if not (loc.offline and not preflight(loc).present)]
    if not present:
        raise StorageError("no location is present (offline disks not connected)",
                           "connect an offline disk or name a location with --location")
    order = {loc.name: i for i, loc in enumerate(locations)}
    return min(present, key=lambda loc: (last.get(loc.name, 0), order[loc.name]))


def _finish(db: Any, report: DrillReport) -> None:
    d = report.durations
    report.finish(db, location_snapshot_id=report.location_snapshot_id,
                  snapshot_time=report.snapshot_time, read_data_subset=report.read_data_subset,
                  check_s=d.get("check_s"), load_s=d.get("load_s"),
                  reconcile_s=d.get("reconcile_s"), mirror_path=report.mirror_path)


def _drill(ctx: CommandContext, location: Location, ref: str, subset: str,
           against_source: bool, report: DrillReport, observer: DrillObserver,
           accept: tuple[bool, bool] = (False, False)) -> None:
    settings = ctx.settings
    check = preflight(location)
    if location.offline and not check.present:
        raise StorageError(f"location {location.name} is offline (not connected)",
                           "connect the disk, or drill another location")
    if check.reachable is False:
        raise StorageError(f"location {location.name} ({location.display_url}) unreachable: "
                           + "; ".join(check.notes),
                           "check the network and that the server is running")
    restic = ctx.restic(location)
    snap = select_snapshot(restic.snapshots(), ref, f"location {location.name}")
    report.snapshot_id = snap.original or snap.id
    report.location_snapshot_id = snap.id
    report.short_id = report.snapshot_id[:8]
    report.snapshot_time = snap.time.isoformat()
    report.age_s = int((_now() - snap.time).total_seconds())
    name = location.name

    observer.stage("check", subset)
    began = time.monotonic()
    try:
        restic.check(read_data_subset=None if subset == "none" else subset)
    except RepositoryCorrupt as exc:
        report.failures.append(Failure(name, "repository", f"restic check: {exc.message}",
                                       exc.fix or ""))
    report.durations["check_s"] = round(time.monotonic() - began, 3)

    with private_staging(settings.state_dir, STAGING) as staging:
        observer.stage("restore", report.short_id)
        began = time.monotonic()
        try:
            restic.restore(snap.id, staging)
        except RepositoryCorrupt as exc:
            report.failures.append(Failure(
                name, f"snapshot {report.short_id}", f"restore failed: {exc.message}",
                "restore from another location; then rebuild this repository "
                "(`restic check --read-data` shows the damaged packs)"))
            report.durations["restore_s"] = round(time.monotonic() - began, 3)
            return
        report.durations["restore_s"] = round(time.monotonic() - began, 3)
        root = find_export_root(staging)
        if root is None:
            report.failures.append(Failure(name, f"snapshot {report.short_id}",
                                           "the snapshot holds no manifest.json",
                                           "drill another snapshot; this one is not an export"))
            return
        check_manifest_tag(snap, root, report)
        if not check_signature(snap, root, report, ctx.password.reveal(), *accept):
            return   # not made by vaultkeeper: never becomes the mirror
        observer.stage("load", str(root))
        mirror_dir = settings.state_dir / mirrordb.MIRROR_DIR
        candidate = mirror_dir / CANDIDATE
        began = time.monotonic()
        loaded = mirrordb.load_export(root, candidate, info={
            "snapshot_id": report.snapshot_id, "location": name,
            "location_snapshot_id": snap.id, "snapshot_time": report.snapshot_time,
            "loaded_at": _now().isoformat(timespec="seconds"), "drill_id": str(report.drill_id)},
            progress=_Progress(observer, root))
        report.durations["load_s"] = round(time.monotonic() - began, 3)
        files = check_files(root, candidate)   # the files are in staging: checked now
        try:
            suppression = erased_ids(ctx, root)
        except (ExportError, VerificationError, KeyError, ValueError) as exc:
            suppression = Suppression()
            report.failures.append(Failure(
                name, "erasure register", f"could not apply it to this snapshot: {exc}",
                "drill another snapshot; erased persons must not come back in the mirror"))
    report.durations["rto_s"] = round(report.durations["restore_s"]
                                      + report.durations["load_s"], 3)
    observer.stage("reconcile", "")
    began = time.monotonic()
    reconcile(loaded, name, report)
    report_files(files, name, report)
    suppress_mirror(candidate, suppression, report)
    report.durations["reconcile_s"] = round(time.monotonic() - began, 3)
    final = mirror_dir / (FAILED if report.failures else mirrordb.MIRROR_FILE)
    os.replace(candidate, final)
    report.mirror_path = str(final)
    if report.failures:
        report.warnings.append(f"the mirror of this failed drill is kept in {final} for "
                               f"investigation; {mirrordb.MIRROR_FILE} still holds the last "
                               "verified one")
    if not report.failures:
        acceptance_checks(ctx, final, report)
    if against_source:
        observer.stage("source", "")
        report.against_source = compare_with_source(settings, loaded.manifest, report)


def acceptance_checks(settings: Settings | CommandContext, mirror: Path,
                      report: DrillReport) -> None:
    """The business processes' acceptance checks on the verified mirror. A failing check does
    not fail the drill (the data came back as exported); it is reported per process and
    `vaultkeeper processes check` turns that process red."""
    for process in by_priority(CommandContext.of(settings).policies.processes):
        for result in run_acceptance_checks(mirror, process):
            report.acceptance.append(result.as_json() | {"process": process.name})
            if not result.passed:
                report.warnings.append(f"process {process.name}: {result.reason}")


class _Progress:
    def __init__(self, observer: DrillObserver, root: Path) -> None:
        self.observer = observer
        self.current = ""
        try:
            manifest = Manifest.load(root)
            self.totals = manifest.counts if manifest is not None else {}
        except (orjson.JSONDecodeError, ExportError):
            self.totals = {}

    def __call__(self, obj: str, records: int) -> None:
        if obj != self.current:
            self.current = obj
            self.observer.loading(obj, self.totals.get(obj, 0))
        self.observer.advance(obj, records)


def suppress_mirror(mirror: Path, suppression: Suppression, report: DrillReport) -> None:
    """Delete the erased persons (and what is theirs alone) from the reconciled mirror; each
    object must then hold exactly the manifest's count minus the suppressed records."""
    report.suppressed = suppression.as_json()
    if not suppression.records:
        return
    deleted = mirrordb.delete_records(mirror, suppression.ids, files=suppression.files)
    if report.files:
        report.files["suppressed"] = len(suppression.files)
        report.files["after_suppression"] = report.files.get("files", 0) - deleted.get(
            "_files", 0)
    for row in report.objects:
        name = row["object"]
        gone = deleted.get(name, 0)
        row["suppressed"] = gone
        if not gone or row.get("mirror_rows") is None:
            continue
        expected = int(row["mirror_rows"]) - len(suppression.ids.get(name, ()))
        row["expected_after_suppression"] = expected
        row["mirror_rows"] = mirrordb.count_rows(mirror, name)
        if row["mirror_rows"] != expected:
            report.failures.append(Failure(
                report.location, name, f"{row['mirror_rows']} rows after suppressing erased "
                f"persons, expected {expected} (manifest − suppressed)",
                "report this: the suppression did not remove what it found"))
            row["ok"] = False
    report.warnings.append(f"{suppression.summary()}: erasure requests in force "
                           "(docs/privacy.md)")


def compare_with_source(settings: Settings, manifest: dict[str, Any],
                        report: DrillReport) -> list[dict[str, Any]]:
    """Live counts now vs in the snapshot: new records are reported, never a failure."""
    snapshot_live = {name: int(e.get("live", e.get("count", 0)))
                     for name, e in (manifest.get("objects") or {}).items()}
    live: dict[str, int] = {}
    try:
        with open_connector(settings.source) as connector:
            for spec in connector.discover():
                if spec.name in snapshot_live:
                    count = connector.source_count(spec)
                    if count is not None and count.live is not None:
                        live[spec.name] = count.live
    except VaultkeeperError as exc:
        report.warnings.append(f"--against-source: the CRM could not be asked: {exc.one_line()}")
        return []
    rows = []
    for change in compare_counts(snapshot_live, live):
        if change.name not in live:
            continue
        rows.append({"object": change.name, "snapshot_live": change.before,
                     "source_live": change.after, "new_since": max(0, change.delta),
                     "gone_since": max(0, -change.delta)})
        if change.delta > 0:
            report.warnings.append(f"{change.name}: {change.delta} record(s) created in the CRM "
                                   "since the snapshot (not in this backup yet)")
        elif change.delta < 0:
            report.warnings.append(f"{change.name}: {-change.delta} record(s) fewer in the CRM "
                                   "than in the snapshot (deleted since)")
    return rows
