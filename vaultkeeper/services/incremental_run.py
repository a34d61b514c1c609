"""A backup's export, full or incremental (``[schedule] full_every``), within the API budget.

Incremental: the newest complete snapshot (the *base*) is restored into the private staging
folder, its signature checked, and the run's changes merged into it (services/incremental.py).
Full: due every ``full_every`` (a duration or a number of runs, counted in the manifests), when
there is no usable base, or while the chain is distrusted. A full run with a base also builds
the synthetic export the chain would have given and compares them object by object (count and
content digest, relations too): a mismatch makes the run partial (an alert) and every backup a
full one until a full run compares clean again (db/incremental.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vaultkeeper.connectors.base import Connector
from vaultkeeper.crypto import SIGNATURE_TAG, signature_matches
from vaultkeeper.db import incremental as incdb
from vaultkeeper.errors import StorageError, VaultkeeperError
from vaultkeeper.exportfmt import ExportFolder, find_export_root, write_manifest
from vaultkeeper.filelimits import FileLimits
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.export import ExportObserver, run_export
from vaultkeeper.services.export_files import FileReuse
from vaultkeeper.services.file_reuse import SnapshotReuse
from vaultkeeper.services.incremental import (
    OVERLAP,
    SyntheticConnector,
    feed_for,
    high_water,
    iso,
    parse_iso,
)
from vaultkeeper.services.privacy.status import backup_interval
from vaultkeeper.services.processes import object_cadences
from vaultkeeper.storage.locations import preflight


@dataclass
class ExportOutcome:
    """What kind of export a backup made and what the comparison found."""

    mode: str = "full"
    reason: str = ""
    base_snapshot: str = ""
    problems: list[str] = field(default_factory=list)
    requests: int = 0


@dataclass
class Base:
    """The previous snapshot's export, restored."""

    folder: ExportFolder | None
    snapshot_id: str = ""
    why_not: str = ""


def restore_base(ctx: CommandContext, target: Path, source: str) -> Base:
    """Restore the newest complete, signed snapshot of ``source`` from the first location
    that has one (``why_not`` says why there is none)."""
    why = "no complete snapshot yet"
    for location in ctx.locations():
        check = preflight(location)
        if not check.present or check.reachable is False:
            continue
        restic = ctx.restic(location)
        try:
            snaps = [s for s in restic.snapshots(tags=["vaultkeeper"])
                     if "export:complete" in s.tags and f"source:{source}" in s.tags
                     and "scope:priority" not in s.tags]
        except StorageError as exc:
            why = exc.one_line()
            continue
        if not snaps:
            continue
        snap = max(snaps, key=lambda s: s.time)
        try:
            restic.restore(snap.id, target)
        except StorageError as exc:
            why = f"restoring {snap.short_id} failed: {exc.one_line()}"
            continue
        root = find_export_root(target, with_objects=True)
        if root is None:
            return Base(None, snap.id, f"snapshot {snap.short_id} holds no export")
        folder = ExportFolder(root)
        signed = [t[len(SIGNATURE_TAG):] for t in snap.tags if t.startswith(SIGNATURE_TAG)]
        if not signed or not signature_matches(ctx.password.reveal(), folder.manifest.data,
                                                signed[0]):
            return Base(None, snap.id, f"snapshot {snap.short_id} is not signed by this "
                        "repository's password")
        return Base(folder, snap.id)
    return Base(None, "", why)


def full_due(previous: dict[str, Any], every: timedelta | int, now: datetime) -> str:
    """Why this run must be a real full export ('' when an incremental one may run)."""
    block = previous.get("incremental")
    block = block if isinstance(block, dict) else {}
    last = parse_iso(block.get("last_full"))
    if last is None:
        return "the base snapshot records no full export"
    if isinstance(every, int):
        runs = int(block.get("runs_since_full") or 0) + 1
        return f"a full export every {every} run(s)" if runs >= every else ""
    if now - last >= every:
        return f"a full export every {_days(every)}; the last was {iso(last)}"
    return ""


def not_due(previous: dict[str, Any], cadences: dict[str, timedelta], now: datetime,
            interval: timedelta) -> frozenset[str]:
    """Objects whose own cadence (the tightest RPO of the processes that need them, see
    ``processes list``) has not come round since they were last read: carried unchanged.
    Objects no process names, and objects whose cadence is no longer than the backup job's
    ``interval``, are due every run. A tenth of the cadence is allowed early, so a weekly
    object is not pushed a day by minutes of drift."""
    out = set()
    for name, cadence in cadences.items():
        mark = high_water(previous, name)
        if cadence > interval and mark is not None and now - mark < cadence * 0.9:
            out.add(name)
    return frozenset(out)


def _days(every: timedelta) -> str:
    hours = every.total_seconds() / 3600
    return f"{hours / 24:g}d" if hours >= 24 else f"{hours:g}h"


def export_for_backup(ctx: CommandContext, connector: Connector, staging: Path, run_id: int, *,
                      objects: tuple[str, ...], exclude: tuple[str, ...],
                      observer: ExportObserver, priority: list[str],
                      budget: Any = None, cadence: bool = False,
                      files: FileLimits | None = None,
                      reuse: FileReuse | None = None) -> ExportOutcome:
    """Export into ``staging/export``: full, or incremental onto the restored base (with
    ``cadence``, objects not due are carried from it unchanged). ``files``/``reuse``: the
    source's files, listed in full every run (unchanged ones come from ``reuse``); the
    comparison export of a full run leaves them out."""
    settings = ctx.settings
    every = settings.full_every
    out = staging / "export"
    started = datetime.now(UTC)
    feed = feed_for(connector) if every is not None or budget is not None else None

    def export(conn: Connector, target: Path, *, quiet: bool = False,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return run_export(conn, target, objects=objects, exclude=exclude, priority=priority,
                          observer=None if quiet else observer, extra=extra,
                          files=None if quiet else files, reuse=None if quiet else reuse)

    if feed is None:
        export(connector, out)
        return ExportOutcome("full", "incremental exports are off",
                             requests=requests_sent(connector))
    if every is None:   # the budget only
        wrapped = SyntheticConnector(connector, feed, None, started, budget=budget)
        export(wrapped, out)
        return ExportOutcome("full", "incremental exports are off",
                             requests=requests_sent(connector))
    db = ctx.db
    base = restore_base(ctx, staging / "base", connector.name)
    if base.folder is not None and isinstance(reuse, SnapshotReuse):
        reuse.use_restored(base.folder.root)   # the base's files/: no second restore
    forced = incdb.forced_full(db, connector.name)
    block: dict[str, Any] = {"high_water": iso(started), "overlap_s": OVERLAP.total_seconds(),
                             "objects": {}}
    if base.folder is None:
        reason = base.why_not
    elif forced is not None:
        reason = f"the synthetic chain is distrusted since {forced['forced_since']}"
    else:
        reason = full_due(dict(base.folder.manifest.raw), every, started)
    previous_block = dict(base.folder.manifest.raw.get("incremental") or {}) \
        if base.folder is not None else {}
    if not reason and base.folder is not None:
        interval = backup_interval(settings.schedule.get("backup", "every day"))
        carried = not_due(dict(base.folder.manifest.raw),
                          object_cadences(ctx.policies.processes), started, interval) \
            if cadence else frozenset()
        block |= {"mode": "incremental", "base_snapshot": base.snapshot_id,
                  "base_manifest_sha256": base.folder.manifest.sha256,
                  "last_full": previous_block.get("last_full"),
                  "runs_since_full": int(previous_block.get("runs_since_full") or 0) + 1}
        synthetic = SyntheticConnector(connector, feed, base.folder, started, carried,
                                       budget, block["objects"])
        export(synthetic, out, extra={"incremental": block})
        return ExportOutcome("incremental", "", base.snapshot_id, requests=requests_sent(connector))
    outcome = ExportOutcome("full", reason, base.snapshot_id)
    block |= {"mode": "full", "reason": reason, "last_full": iso(started), "runs_since_full": 0}
    wrapped = SyntheticConnector(connector, feed, None, started, budget=budget,
                                 summary_into=block["objects"])
    manifest = export(wrapped, out, extra={"incremental": block})
    synthetic_manifest: dict[str, Any] | None = None
    if base.folder is not None:   # what the chain would have given, to compare
        try:
            synthetic_manifest = export(
                SyntheticConnector(connector, feed, base.folder, started),
                staging / "synthetic", quiet=True)
        except VaultkeeperError as exc:
            block["compare"] = {"skipped": exc.one_line()}
            manifest["incremental"] = block
            write_manifest(out, manifest)
    if synthetic_manifest is not None:
        differences = compare_exports(synthetic_manifest, manifest)
        block["compare"] = {"base_snapshot": base.snapshot_id, "differences": differences}
        manifest["incremental"] = block
        write_manifest(out, manifest)
        if differences:
            incdb.force_full(db, connector.name, "; ".join(differences)[:500], run_id)
            outcome.problems.append(
                "the synthetic chain disagrees with the full export ("
                + "; ".join(differences[:5]) + "): every backup is a full one until a full "
                "run compares clean (docs/incremental.md)")
        else:
            incdb.clear_forced(db, connector.name)
    outcome.requests = requests_sent(connector)
    return outcome


def compare_exports(synthetic: dict[str, Any], full: dict[str, Any]) -> list[str]:
    """Objects and relations whose count or content digest differ between two manifests."""
    found = []
    for kind in ("objects", "relations"):
        mine, theirs = synthetic.get(kind) or {}, full.get(kind) or {}
        for name in sorted(set(mine) | set(theirs)):
            a, b = mine.get(name) or {}, theirs.get(name) or {}
            if a.get("count") != b.get("count"):
                found.append(f"{name}: {a.get('count')} records in the chain, "
                             f"{b.get('count')} in the full export")
            elif a.get("content_digest") != b.get("content_digest"):
                found.append(f"{name}: same count ({b.get('count')}), different content")
    return found


def requests_sent(connector: Connector) -> int:
    """Requests the connector has sent (retries included)."""
    value = connector.request_stats().get("requests", 0)
    return int(value) if isinstance(value, int) else 0
