"""``vaultkeeper emergency``: pick the data (drilled snapshot, newest snapshot, or a fresh
export), restore it into a private folder, build the package, optionally encrypt it with age.

Plaintext CRM data only ever lives in a 0700 work folder under the state directory that is
removed when the run ends, SIGTERM and Ctrl-C included; leftovers of a killed run are removed
by the next one.
"""

from __future__ import annotations

import contextlib
import shutil
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaultkeeper import crypto, privatefs
from vaultkeeper.canonical import MAPPINGS_DIR
from vaultkeeper.config import Settings
from vaultkeeper.connectors import open_connector
from vaultkeeper.db.emergency import latest_verified_drill
from vaultkeeper.errors import StorageError, UsageError, VaultkeeperError
from vaultkeeper.exportfmt import find_export_root
from vaultkeeper.restic import Restic, Snapshot
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.emergency.files import write_text
from vaultkeeper.services.emergency.infer import infer
from vaultkeeper.services.emergency.package import build_package
from vaultkeeper.services.emergency.result import (
    PUBLIC_KEY,
    BuildObserver,
    PackageResult,
    Provenance,
    prepare_out,
)
from vaultkeeper.services.emergency.source import open_export
from vaultkeeper.services.export import ExportObserver, run_export
from vaultkeeper.services.privacy.suppress import erased_ids, filter_export
from vaultkeeper.storage.locations import Location

WORK_LABEL = "emergency-run"
ARCHIVE_NAME = "emergency-package.tar.gz.age"


class EmergencyObserver(BuildObserver):
    """Progress of the whole run: notes (which data is used), export and build progress."""

    def note(self, text: str, *, loud: bool = False) -> None:
        """Something the person running the command must read (``loud``: a warning)."""


class _ExportStages(ExportObserver):
    """A fresh export's progress shown as build stages (one bar per object)."""

    def __init__(self, observer: EmergencyObserver) -> None:
        self.observer = observer

    def object_started(self, name: str, expected: int | None) -> None:
        self.observer.stage(f"export {name}", expected)

    def advance(self, name: str, records: int) -> None:
        self.observer.advance(records)


@contextlib.contextmanager
def private_workdir(state_dir: Path) -> Iterator[Path]:
    """A 0700 work folder for plaintext data (see ``privatefs.private_workdir``)."""
    with privatefs.private_workdir(state_dir, WORK_LABEL) as path:
        yield path


@dataclass(frozen=True)
class FoundSnapshot:
    """A snapshot and the location (and restic on it) where it was found."""

    location: Location
    restic: Restic
    snapshot: Snapshot


def run_emergency(settings: Settings, out: Path, *, source: str = "latest-verified",
                  fresh: bool = False, target: str | None = None,
                  encrypt_to: Sequence[str] = (),
                  observer: EmergencyObserver | None = None,
                  register_keys: Sequence[bytes] = ()) -> PackageResult:
    """Build the emergency package into ``out`` (see the module docstring). ``register_keys``:
    erasure register keys besides the configured password's (escrow release)."""
    observer = observer or EmergencyObserver()
    target = target or settings.emergency.target
    recipients = crypto.age_recipients(encrypt_to) if encrypt_to else []
    prepare_out(out)
    with private_workdir(settings.state_dir) as work:
        export_dir, provenance = _obtain(settings, work, source=source, fresh=fresh,
                                         observer=observer)
        _suppress(settings, export_dir, provenance, observer, register_keys)
        build_dir = work / "package" if recipients else out
        result = build_package(export_dir, build_dir, settings, target=target,
                               provenance=provenance, observer=observer)
        if recipients:
            result.archive = _encrypt(build_dir, out, recipients, work)
            result.out = out
    return result


def _suppress(settings: Settings, export_dir: Path, provenance: Provenance,
              observer: EmergencyObserver, keys: Sequence[bytes]) -> None:
    """Drop erased persons (and what is theirs alone) from the export before anything is built
    from it; the export's manifest then counts what remains, so the package balances."""
    suppression = erased_ids(settings, export_dir, keys=keys)
    provenance.suppressed = suppression.as_json()
    if suppression.records:
        filter_export(export_dir, suppression)
        provenance.notes.append(f"{suppression.summary()}: erasure requests in force "
                                "(see docs/privacy.md); they are not in this package.")
        observer.note(suppression.summary())


def _obtain(settings: Settings, work: Path, *, source: str, fresh: bool,
            observer: EmergencyObserver) -> tuple[Path, Provenance]:
    if fresh:
        export_dir = work / "fresh-export"
        try:
            with open_connector(settings.source) as connector:
                manifest = run_export(connector, export_dir, objects=settings.source.objects,
                                      exclude=settings.source.exclude,
                                      observer=_ExportStages(observer),
                                      files=settings.source.files)
        except VaultkeeperError as exc:
            shutil.rmtree(export_dir, ignore_errors=True)
            observer.note(f"the fresh export failed ({exc.one_line()}); using the backup "
                          "snapshot instead", loud=True)
            export_dir, provenance = _from_snapshot(settings, work, source, observer)
            provenance.notes.insert(0, f"A fresh export was tried first and failed: "
                                       f"{exc.one_line()}")
            return export_dir, provenance
        provenance = Provenance(kind="fresh-export")
        provenance.notes.append("Built from a fresh export of the live CRM (made now), not "
                                "from a backup snapshot.")
        if manifest["status"] != "complete":
            provenance.warnings.append("the fresh export is INCOMPLETE: "
                                       + "; ".join(manifest["problems"][:3]))
        observer.note("using a fresh export of the live CRM")
        return export_dir, provenance
    return _from_snapshot(settings, work, source, observer)


def _resticks(ctx: CommandContext) -> list[tuple[Location, Restic]]:
    ctx.password  # noqa: B018 - the guard: no password, no snapshot
    locations = ctx.locations()
    if not locations:
        raise StorageError("no [[locations]] configured, so there is no snapshot to use",
                           "configure locations, or pass --fresh to export the live CRM")
    return [(loc, ctx.restic(loc)) for loc in locations]


def find_snapshot(settings: Settings | CommandContext, wanted: str | None,
                  prefer: str = "") -> tuple[FoundSnapshot | None, list[str]]:
    """The snapshot ``wanted`` (id or prefix; None: the newest) at the first location with it
    (``prefer``: the location tried first); with the errors of locations that failed."""
    errors: list[str] = []
    best: FoundSnapshot | None = None
    pairs = _resticks(CommandContext.of(settings))
    pairs.sort(key=lambda p: p[0].name != prefer)
    for location, restic in pairs:
        try:
            snaps = restic.snapshots()
        except StorageError as exc:
            errors.append(exc.one_line())
            continue
        for snap in snaps:
            ids = {snap.id, snap.short_id, snap.original or ""}
            if wanted is not None and not any(i and i.startswith(wanted) for i in ids):
                continue
            if best is None or snap.time > best.snapshot.time:
                best = FoundSnapshot(location, restic, snap)
        if wanted is not None and best is not None:
            break
    return best, errors


def _from_snapshot(settings: Settings, work: Path, source: str,
                   observer: EmergencyObserver) -> tuple[Path, Provenance]:
    ctx = CommandContext(settings)
    provenance = Provenance(kind="snapshot")
    if source == "latest-verified":
        drill = latest_verified_drill(ctx.db)
        found: FoundSnapshot | None = None
        errors: list[str] = []
        if drill is not None:
            found, errors = find_snapshot(ctx, str(drill["snapshot_id"]),
                                          prefer=str(drill.get("location") or ""))
            if found is None:
                provenance.warnings.append(
                    f"the drilled snapshot {str(drill['snapshot_id'])[:12]} is no longer in any "
                    "location; using the NEWEST snapshot, which NO RESTORE DRILL HAS VERIFIED")
            else:
                provenance.drill = {k: drill.get(k) for k in (
                    "id", "finished_at", "location", "snapshot_id", "short_id", "result")}
        else:
            provenance.warnings.append("no snapshot has passed a restore drill yet: using the "
                                       "NEWEST snapshot, which NO RESTORE DRILL HAS VERIFIED "
                                       "(run `vaultkeeper drill`)")
        if found is None:
            found, errors = find_snapshot(ctx, None)
    else:
        found, errors = find_snapshot(ctx, source)
        provenance.notes.append(f"Snapshot chosen explicitly (--from {source}).")
    if found is None:
        raise StorageError("no snapshot found" + (f" matching {source!r}" if source !=
                                                  "latest-verified" else "")
                           + (f" ({'; '.join(errors[:2])})" if errors else ""),
                           "run `vaultkeeper snapshots`, or pass --fresh to export the live CRM")
    for warning in provenance.warnings:
        observer.note(warning, loud=True)
    provenance.snapshot_id = found.snapshot.original or found.snapshot.id
    provenance.location = found.location.name
    observer.note(f"restoring snapshot {found.snapshot.short_id} "
                  f"({found.snapshot.time:%Y-%m-%d %H:%M}) from {found.location.name}")
    target = work / "restore"
    target.mkdir(mode=0o700)
    found.restic.restore(found.snapshot.id, target)
    root = find_export_root(target, with_objects=True)
    if root is None:
        raise StorageError(f"snapshot {found.snapshot.short_id} holds no export "
                           "(no manifest.json next to objects/)",
                           "choose another snapshot with --from")
    return root, provenance


def _encrypt(build_dir: Path, out: Path, recipients: list[Any], work: Path) -> Path:
    """tar.gz the package and encrypt it to the recipients; only ciphertext reaches ``out``."""
    tar_path = work / "package.tar.gz"
    with privatefs.open_private(tar_path) as raw, tarfile.open(fileobj=raw, mode="w|gz") as tar:
        tar.add(build_dir, arcname="emergency-package")
    archive = out / ARCHIVE_NAME
    with tar_path.open("rb") as source, privatefs.open_private(archive, exclusive=True) as target:
        crypto.age_encrypt(source, target, recipients)
    shutil.copyfile(build_dir / PUBLIC_KEY, out / PUBLIC_KEY)
    (out / "README.txt").write_text(
        "This folder holds the CRM emergency package, encrypted with age.\n\n"
        f"  age -d -i YOUR-KEY.txt {ARCHIVE_NAME} | tar xz\n\n"
        "then read emergency-package/RUNBOOK.md and check the package with\n"
        "`vaultkeeper emergency verify emergency-package` or `sha256sum -c SHA256SUMS`.\n",
        encoding="utf-8")
    return archive


@dataclass
class SuggestResult:
    """What ``emergency mapping suggest`` wrote."""

    file: Path
    inference: Any
    provenance: Provenance

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"file": str(self.file), "connector": self.inference.connector,
                "source": self.provenance.as_json()} | self.inference.as_json()


def suggest_mapping(settings: Settings, out: Path | None, *, source: str = "latest-verified",
                    fresh: bool = False, force: bool = False,
                    observer: EmergencyObserver | None = None) -> SuggestResult:
    """Infer the canonical mapping of the export and write it as a commented TOML file."""
    observer = observer or EmergencyObserver()
    with private_workdir(settings.state_dir) as work:
        export_dir, provenance = _obtain(settings, work, source=source, fresh=fresh,
                                         observer=observer)
        folder = open_export(export_dir)
        observer.stage("infer the canonical mapping", None)
        inference = infer(folder)
    target = out or settings.policies_dir / MAPPINGS_DIR / f"{folder.connector or 'csv'}.toml"
    if target.exists() and not force:
        raise UsageError(f"{target} exists",
                         "pass --out OTHER-FILE to compare, or --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text(target, inference.to_toml())
    return SuggestResult(target, inference, provenance)
