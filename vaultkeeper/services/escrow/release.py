"""``escrow release``: open the deposit with the recovered password and build the emergency
package from it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from vaultkeeper import privatefs
from vaultkeeper.config import Secret, Settings
from vaultkeeper.db import escrow as escrowdb
from vaultkeeper.errors import StorageError, UsageError, VerificationError
from vaultkeeper.restic import WrongPassword
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.emergency.result import PackageResult
from vaultkeeper.services.emergency.runner import EmergencyObserver, private_workdir, run_emergency
from vaultkeeper.services.escrow.repository import (
    Progress,
    escrow_location,
    escrow_restic,
    location_settings,
    no_progress,
    utc_now,
)
from vaultkeeper.services.escrow.verify import VerifyReport, verify_kit
from vaultkeeper.services.privacy.register import configured_keys
from vaultkeeper.storage.kit import get_kit
from vaultkeeper.storage.locations import Location


# -------------------------------------------------------------------------------- release
@contextmanager
def _password_secret(password: str, state_dir: Path) -> Iterator[Secret]:
    with privatefs.private_workdir(state_dir, "vk-release") as folder:
        path = folder / "password"
        privatefs.write_private(path, password + "\n", exclusive=True)
        yield Secret(kind="file", ref=str(path), setting="release password")


def release(settings: Settings | CommandContext, out: Path, *, password: str | None = None,
            secret: Secret | None = None, target: str | None = None,
            observer: EmergencyObserver | None = None,
            progress: Progress = no_progress) -> tuple[PackageResult, VerifyReport]:
    """Restore the deposit with ``password`` (recovered from trustee shares) or ``secret`` (the
    escrow key's password) and build the emergency package into ``out``."""
    ctx = CommandContext.of(settings)
    settings = ctx.settings
    location = escrow_location(settings)
    # The erasure register's hashes are keyed by the repository password, not the escrow key's.
    register_keys = configured_keys(CommandContext(settings))
    with private_workdir(settings.state_dir) as work:
        report = VerifyReport(level=1, started_at=utc_now().isoformat(timespec="seconds"))
        kit = work / "kit"
        kit.mkdir()
        try:
            get_kit(location, kit)
            verify_kit(kit, report, escrowdb.last_deposit(ctx.db))
        except StorageError as exc:
            report.add(1, "kit", False, exc.one_line())
    for problem in report.problems:
        progress(f"warning: {problem}")
    with _maybe_password(password, secret, settings.state_dir) as key:
        opened = replace(settings, locations=(location_settings(settings),),
                         repository_password=key)
        try:
            escrow_restic(ctx, location, key).current_key_id()
        except WrongPassword:
            raise VerificationError("the given password (or shares) does not open the escrow "
                                    "repository", "check the shares or the escrow key "
                                    "password") from None
        source = report.snapshot_id or _newest(settings, location, key)
        progress(f"restoring snapshot {source[:12]} from the escrow repository")
        result = run_emergency(opened, out, source=source, target=target, observer=observer,
                               register_keys=register_keys)
    return result, report


@contextmanager
def _maybe_password(password: str | None, secret: Secret | None,
                    state_dir: Path) -> Iterator[Secret]:
    if secret is not None:
        yield secret
        return
    if password is None:
        raise UsageError("no key given", "give trustee shares or --password file:PATH")
    with _password_secret(password, state_dir) as made:
        yield made


def _newest(settings: Settings, location: Location, key: Secret) -> str:
    snaps = escrow_restic(settings, location, key).snapshots()
    if not snaps:
        raise StorageError("the escrow repository holds no snapshot",
                           "run `vaultkeeper escrow deposit`")
    newest = max(snaps, key=lambda s: s.time)
    return newest.id
