"""Backup: export into a private staging folder → check the manifest → ``restic backup`` into the
first reachable location → ``restic copy`` into every other → record the run → remove staging.

One location failing makes the run *partial*; the others still get the snapshot, and because each
copy asks restic for every snapshot the destination lacks, the next run fills the gap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultkeeper.config import Settings
from vaultkeeper.connectors import open_connector
from vaultkeeper.crypto import SIGNATURE_TAG, manifest_signature
from vaultkeeper.db import runs as rundb
from vaultkeeper.db import storage_error, take_events
from vaultkeeper.db.incremental import add_usage
from vaultkeeper.db.risk import record_export_health
from vaultkeeper.db.runs import LocationResult
from vaultkeeper.errors import (
    AuthError,
    ConnectorError,
    ExportError,
    QuotaError,
    StorageError,
    VaultkeeperError,
)
from vaultkeeper.exportfmt import Manifest
from vaultkeeper.exportfmt_files import files_summary
from vaultkeeper.privatefs import private_staging, run_lock
from vaultkeeper.restic import Restic
from vaultkeeper.services.budget import budget_check
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.diff import compare_counts
from vaultkeeper.services.export import ExportObserver, run_export
from vaultkeeper.services.file_reuse import SnapshotReuse, previous_snapshot
from vaultkeeper.services.incremental_run import (
    ExportOutcome,
    export_for_backup,
    requests_sent,
)
from vaultkeeper.services.privacy.register import write_register_file
from vaultkeeper.services.processes import priority_order
from vaultkeeper.storage.locations import Location, preflight

STAGING = "staging"


@dataclass
class BackupReport:
    """What a backup run did, per location."""

    run_id: int
    status: str = "failed"                    # ok | partial | failed
    export_status: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    unverified: list[str] = field(default_factory=list)
    """Objects whose count the source did not report (no completeness check possible)."""
    problems: list[str] = field(default_factory=list)
    locations: list[LocationResult] = field(default_factory=list)
    flagged: bool = False
    flag_reason: str = ""
    snapshot_id: str = ""
    manifest_sha256: str = ""
    stale_locks: list[str] = field(default_factory=list)
    files: dict[str, Any] | None = None
    """The files part of the export (exportfmt_files.files_summary); None without files."""
    export_mode: str = ""                     # full | incremental (services/incremental_run)

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"run_id": self.run_id, "status": self.status, "snapshot_id": self.snapshot_id,
                "manifest_sha256": self.manifest_sha256, "export_status": self.export_status,
                "counts": self.counts, "unverified_counts": self.unverified,
                "problems": self.problems, "flagged": self.flagged,
                "flag_reason": self.flag_reason, "stale_locks_removed": self.stale_locks,
                "export_mode": self.export_mode,
                "locations": [r.__dict__ for r in self.locations], "files": self.files}


class BackupObserver(ExportObserver):
    """Progress for the CLI: export progress plus one event per location."""

    def location_started(self, name: str, role: str) -> None:
        """A location's backup or copy starts."""

    def location_finished(self, result: LocationResult) -> None:
        """A location's backup or copy ended."""


def mass_deletion(previous: dict[str, int] | None, current: dict[str, int],
                  threshold: float) -> str:
    """Why the new counts look like a mass deletion ('' when they do not)."""
    if not previous:
        return ""
    drops = [f"{c.name} {c.before} → {c.after} (-{c.drop:.0%})"
             for c in compare_counts(previous, current) if c.drop > threshold]
    return "" if not drops else (
        f"record counts fell by more than {threshold:.0%} since the last backup: "
        + ", ".join(drops))


def run_backup(settings: Settings | CommandContext, *, observer: BackupObserver | None = None,
               only: list[str] | None = None,
               per_object_cadence: bool = False) -> BackupReport:
    """Run one backup; never raises for a failing location (the report says), only for
    problems that stop everything (lock, export failure, no location reachable).

    ``only`` limits the export to these objects (the risk-driven backup of the top-priority
    objects): the snapshot is tagged ``scope:priority`` and the mass-deletion guard compares
    only those objects. ``per_object_cadence`` (scheduled runs): with incremental exports,
    objects whose own cadence has not come round are carried from the previous snapshot."""
    observer = observer or BackupObserver()
    ctx = CommandContext.of(settings)
    ctx.password  # noqa: B018 - the guard: no password, no backup
    locations = ctx.locations()
    if not locations:
        raise StorageError("no [[locations]] configured",
                           "add at least one [[locations]] entry and run `vaultkeeper locations "
                           "init`")
    policies = ctx.policies
    with run_lock(ctx.state_dir):
        db = ctx.db
        rundb.abandon_unfinished(db)
        report = BackupReport(run_id=rundb.start_run(db, "priority" if only else "full"))
        events = take_events(db)   # e.g. a corrupt state database replaced: say so, alert
        try:
            with private_staging(ctx.state_dir, STAGING) as staging:
                _backup(ctx, staging, locations, report, observer, db,
                        policies.retention.mass_deletion_threshold,
                        priority_order(policies.processes), only, per_object_cadence)
            if events:
                report.problems.extend(events)
                report.status = "partial" if report.status == "ok" else report.status
        except BaseException as exc:
            mapped = storage_error(exc, ctx.state_dir)
            message = exc.one_line() if isinstance(exc, VaultkeeperError) else \
                mapped.one_line() if mapped else type(exc).__name__
            # The source's own failures (not a refused token: that is our configuration) make
            # the export "failed"; the vendor's risk score counts those and nothing else.
            source = isinstance(exc, ConnectorError) and \
                not isinstance(exc, AuthError | QuotaError)
            rundb.finish_run(db, report.run_id, status="failed", error=message,
                             export_status="failed" if source else report.export_status,
                             counts=report.counts, problems=report.problems)
            raise
        rundb.finish_run(db, report.run_id, status=report.status,
                         export_status=report.export_status, counts=report.counts,
                         problems=report.problems, flagged=report.flagged,
                         flag_reason=report.flag_reason,
                         manifest_sha256=report.manifest_sha256, unverified=report.unverified)
    return report


def _backup(ctx: CommandContext, staging: Path, locations: list[Location], report: BackupReport,
            observer: BackupObserver, db: Any, threshold: float,
            priority: list[str], only: list[str] | None = None,
            per_object_cadence: bool = False) -> None:
    settings = ctx.settings
    export_dir = staging / "export"
    open_repositories(ctx, locations)   # a wrong password fails now, not after the export
    reuse = None
    if settings.source.files is not None:   # unchanged files come from the last snapshot
        found = previous_snapshot([ctx.restic(location) for location in locations])
        reuse = SnapshotReuse(*found, staging / "previous") if found else None
    with open_connector(settings.source) as connector:
        objects = tuple(only or settings.source.objects)
        if only:   # the risk-driven priority backup stays a plain full export
            run_export(connector, export_dir, objects=objects, exclude=settings.source.exclude,
                       observer=observer, priority=priority, files=settings.source.files,
                       reuse=reuse)
            outcome = ExportOutcome(requests=requests_sent(connector))
        else:   # full or incremental ([schedule] full_every), within the API budget
            reserve = settings.source.api_reserve
            outcome = export_for_backup(
                ctx, connector, staging, report.run_id, objects=objects,
                exclude=settings.source.exclude, observer=observer, priority=priority,
                budget=None if reserve is None else budget_check(reserve, priority),
                cadence=per_object_cadence, files=settings.source.files, reuse=reuse)
        add_usage(db, connector.name, outcome.requests)
    report.export_mode = outcome.mode
    report.problems.extend(outcome.problems)
    # Trust nothing we did not just check: the manifest must exist and list its objects.
    manifest = Manifest.load(export_dir)
    if manifest is None:
        raise ExportError("the export finished without a manifest", "run the backup again")
    record_export_health(db, report.run_id, manifest)   # for `vaultkeeper risk collect`
    write_register_file(ctx, export_dir)   # the erasure register travels with the snapshot
    report.manifest_sha256 = manifest.sha256
    report.export_status = manifest.status
    report.counts = manifest.counts
    report.unverified = manifest.unverified
    report.files = files_summary(manifest.files)
    report.problems.extend(manifest.problems)
    previous = rundb.previous_counts(db)
    if only and previous:
        previous = {k: v for k, v in previous.items() if k in report.counts}
    report.flag_reason = mass_deletion(previous, report.counts, threshold)
    report.flagged = bool(report.flag_reason)
    # Signed, so a drill only ever verifies what vaultkeeper itself made (crypto.py).
    signature = manifest_signature(ctx.password.reveal(), manifest.data)
    tags = ["vaultkeeper", f"source:{manifest.connector}",
            f"manifest:{report.manifest_sha256[:16]}", f"{SIGNATURE_TAG}{signature}"]
    if only:
        tags.append("scope:priority")
    if manifest.status == "complete":
        tags.append("export:complete")   # retention never removes the newest of these
    primary: Restic | None = None
    pending: list[tuple[Location, Restic]] = []
    for location in locations:
        restic = ctx.restic(location)
        check = preflight(location)
        if location.offline and not check.present:
            result = LocationResult(location.name, "skipped", "skipped",
                                    error="offline location not present")
            _record(db, report, observer, result)
            continue
        if check.reachable is False:
            # restic would retry a dead endpoint for many minutes; fail this location now.
            _record(db, report, observer, LocationResult(
                location.name, "primary" if primary is None else "copy", "failed",
                error=f"{location.display_url} unreachable: {'; '.join(check.notes)}"))
            continue
        if primary is None:
            observer.location_started(location.name, "primary")
            began = time.monotonic()
            try:
                done = restic.backup(export_dir, tags=tags)
            except StorageError as exc:
                _record(db, report, observer, LocationResult(
                    location.name, "primary", "failed", error=exc.one_line(),
                    duration_s=round(time.monotonic() - began, 3)))
                continue
            primary = restic
            report.snapshot_id = done.snapshot_id
            _record(db, report, observer, LocationResult(
                location.name, "primary", "ok", done.snapshot_id, done.short_id,
                done.data_added, round(time.monotonic() - began, 3)))
        else:
            pending.append((location, restic))
    if primary is None:
        raise StorageError("no location accepted the backup: "
                           + "; ".join(r.error for r in report.locations if r.error),
                           "run `vaultkeeper locations check` and fix the first location")
    for location, restic in pending:
        observer.location_started(location.name, "copy")
        began = time.monotonic()
        try:
            restic.copy_from(primary, missing_snapshots(primary, restic))
            copied = [s for s in restic.snapshots() if report.snapshot_id in
                      (s.id, s.original)]
            if not copied:
                raise StorageError(f"{location.display_url}: the copied snapshot is missing",
                                   "run `vaultkeeper locations check`")
            _record(db, report, observer, LocationResult(
                location.name, "copy", "ok", copied[0].id, copied[0].short_id, 0,
                round(time.monotonic() - began, 3)))
        except StorageError as exc:
            _record(db, report, observer, LocationResult(
                location.name, "copy", "failed", error=exc.one_line(),
                duration_s=round(time.monotonic() - began, 3)))
    for restic in [primary, *(r for _, r in pending)]:
        report.stale_locks.extend(restic.locks_removed)
    failed = [r for r in report.locations if r.result == "failed"]
    if failed or report.export_status != "complete" or report.flagged or outcome.problems:
        report.status = "partial"
        report.problems.extend(f"{r.location}: {r.error}" for r in failed)
        if report.flagged:
            report.problems.append(report.flag_reason)
    else:
        report.status = "ok"


def open_repositories(ctx: CommandContext, locations: list[Location]) -> None:
    """Before exporting the whole CRM, make sure at least one location's repository opens with
    the password; otherwise stop now with every location's reason (locations that fail here
    fail again, with the same reason, when the snapshot is written)."""
    reasons = []
    for location in locations:
        check = preflight(location)
        if not check.present or check.reachable is False:
            reasons.append(f"{location.name}: {'; '.join(check.notes) or 'not present'}")
            continue
        try:
            if ctx.restic(location).is_initialised():
                return
            reasons.append(f"{location.name}: no repository")
        except StorageError as exc:
            reasons.append(exc.one_line())
    raise StorageError("no location's repository opens, so nothing was exported: "
                       + "; ".join(reasons),
                       "fix the password or run `vaultkeeper locations init`, then "
                       "`vaultkeeper locations check`")


def missing_snapshots(source: Restic, destination: Restic) -> list[str]:
    """Snapshots of ``source`` newer than the destination's newest (copies keep their time).

    This fills the gap left by runs when the destination was down, without re-copying old
    snapshots that the destination's own retention already removed.
    """
    have = destination.snapshots()
    newest = max((s.time for s in have), default=None)
    copied = {s.original or s.id for s in have}
    return [s.id for s in source.snapshots()
            if (newest is None or s.time > newest) and s.id not in copied]


def _record(db: Any, report: BackupReport, observer: BackupObserver,
            result: LocationResult) -> None:
    rundb.record_location(db, report.run_id, result)
    report.locations.append(result)
    observer.location_finished(result)
