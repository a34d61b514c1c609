"""Where restored records come from: a snapshot from any location, restored into a private
work folder and loaded into a scratch mirror there, or the drilled mirror itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from vaultkeeper.config import Settings
from vaultkeeper.db import mirror as mirrordb
from vaultkeeper.db import readiness
from vaultkeeper.db.selection import MirrorReader
from vaultkeeper.errors import StorageError, UsageError
from vaultkeeper.privatefs import private_staging
from vaultkeeper.restic import Restic, Snapshot, select_snapshot
from vaultkeeper.services.context import CommandContext, restore_export
from vaultkeeper.services.privacy.suppress import erased_ids, filter_export
from vaultkeeper.storage.locations import Location, preflight

SCRATCH = "snapshot.db"


@dataclass
class SourceMirror:
    """The snapshot as a mirror, ready to read."""

    reader: MirrorReader
    snapshot_id: str
    description: str
    root: Path | None = None
    """The restored export in the private work folder (its ``files/``); None for a mirror."""


def parse_date(text: str) -> datetime | None:
    """``2026-11-30`` or an ISO timestamp (UTC unless given) → datetime; None otherwise."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@contextmanager
def open_source(given: Settings | CommandContext, *, snapshot: str | None, location: str | None,
                from_mirror: bool, mirror_file: Path | None = None, before: datetime | None = None,
                staging: str = "restore-staging") -> Iterator[SourceMirror]:
    """Yield the snapshot's mirror. The caller holds a run lock (the staging folder is fixed
    and removed on exit, SIGTERM included, and by the next run after a kill -9)."""
    ctx = CommandContext.of(given)
    settings = ctx.settings
    if from_mirror or mirror_file is not None:
        path = mirror_file or mirrordb.mirror_path(settings.state_dir)
        if not path.exists():
            raise UsageError(f"there is no drilled mirror yet ({path})",
                             "run `vaultkeeper drill`, or restore from a snapshot")
        reader = MirrorReader(path)
        try:
            yield SourceMirror(reader, reader.info.get("snapshot_id", ""), f"mirror {path}")
        finally:
            reader.close()
        return
    chosen, restic, snap = _find_snapshot(ctx, snapshot, location, before)
    with private_staging(settings.state_dir, staging) as folder:
        root = restore_export(restic, snap, folder / "export",
                              "restore from another snapshot; this one is not an export")
        # Erased persons (the privacy register) never come back into a CRM: their records
        # and what is theirs alone leave the export before anything is planned.
        suppression = erased_ids(settings, root)
        filter_export(root, suppression)
        scratch = folder / SCRATCH
        mirrordb.load_export(root, scratch, info={
            "snapshot_id": snap.original or snap.id, "location": chosen.name,
            "snapshot_time": snap.time.isoformat()})
        reader = MirrorReader(scratch)
        try:
            erased = (f" ({suppression.persons} erased person"
                      f"{'s' if suppression.persons != 1 else ''} suppressed)"
                      if suppression.persons else "")
            yield SourceMirror(reader, snap.original or snap.id,
                               f"snapshot {(snap.original or snap.id)[:8]} at {chosen.name}"
                               + erased, root)
        finally:
            reader.close()


def _find_snapshot(ctx: CommandContext, ref: str | None, location: str | None,
                   before: datetime | None) -> tuple[Location, Restic, Snapshot]:
    """The location and snapshot to restore: the given id, the newest at or before a date,
    or the newest verified by a drill (drills record them in the state database)."""
    ctx.password  # noqa: B018 - the guard: no password, no restore
    locations = ctx.locations()
    if not locations:
        raise StorageError("no [[locations]] configured", "add a [[locations]] entry")
    if ref is None and before is None:
        drill = readiness.latest_verified_drill(ctx.db)
        if drill is None or not drill.get("snapshot_id"):
            raise UsageError("no verified snapshot to restore from (no drill has verified one)",
                             "run `vaultkeeper drill`, or pass --snapshot ID")
        ref, location = str(drill["snapshot_id"]), location or drill.get("location")
    names = [loc.name for loc in locations]
    if location is not None and location not in names:
        raise UsageError(f"no location named {location!r}", f"use one of: {', '.join(names)}")
    ordered = sorted(locations, key=lambda loc: loc.name != location)
    problems: list[str] = []
    for loc in ordered:
        check = preflight(loc)
        if (loc.offline and not check.present) or check.reachable is False:
            problems.append(f"{loc.name}: not reachable")
            continue
        restic = ctx.restic(loc)
        snaps = restic.snapshots()
        try:
            if before is not None:
                older = [s for s in snaps if s.time <= before and "scope:priority" not in s.tags]
                if not older:
                    problems.append(f"{loc.name}: no snapshot at or before {before:%Y-%m-%d %H:%M}")
                    continue
                return loc, restic, max(older, key=lambda s: s.time)
            return loc, restic, select_snapshot(snaps, ref or "latest", f"location {loc.name}")
        except (UsageError, StorageError) as exc:
            problems.append(f"{loc.name}: {exc.message}")
    raise StorageError("no location could provide the snapshot: " + "; ".join(problems),
                       "check `vaultkeeper snapshots` and `vaultkeeper locations check`")
