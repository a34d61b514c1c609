"""The escrow repository: its location, the escrow key's password, restic on it, and the
kit's file names (shared by deposit, verify and release)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from vaultkeeper.config import LocationSettings, Secret, Settings
from vaultkeeper.errors import ConfigError
from vaultkeeper.restic import Restic, Snapshot
from vaultkeeper.services.context import CommandContext
from vaultkeeper.storage.locations import Location, resolve_location

INVENTORY = "inventory.json"
SIGNATURE = "inventory.sig"
PUBLIC_KEY = "signing-key.pub.pem"
SUMS = "SHA256SUMS"
FORMAT = "vaultkeeper-escrow-deposit/1"
ESCROW_USER, ESCROW_HOST = "escrow", "escrow-agent"
LOCATION_NAME = "escrow"
Progress = Callable[[str], None]


def no_progress(_: str) -> None:
    """A progress callback that shows nothing."""
    return None


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


# ------------------------------------------------------------------------------- settings
def escrow_location(settings: Settings) -> Location:
    """The escrow repository as a Location (credentials from ``[escrow]``)."""
    esc = settings.escrow
    if esc.url is None:
        raise ConfigError("no escrow repository is configured",
                          'add [escrow] url = "s3:https://…/bucket/escrow" (or a local path) '
                          "with access_key/secret_key or credentials_from",
                          file=str(settings.config_file) if settings.config_file else None,
                          key="[escrow] url")
    return resolve_location(location_settings(settings))


def location_settings(settings: Settings) -> LocationSettings:
    """``[escrow]`` as the settings of a location named ``escrow``."""
    esc = settings.escrow
    assert esc.url is not None
    return LocationSettings(name=LOCATION_NAME, url=esc.url, access_key=esc.access_key,
                            secret_key=esc.secret_key)


def escrow_password(settings: Settings) -> Secret:
    """``[escrow] escrow_password`` (a reference; read by restic from a file only)."""
    if settings.escrow.escrow_password is None:
        raise ConfigError("no escrow key password is configured",
                          'add [escrow] escrow_password = { file = "/secure/escrow.key" } '
                          "(create one with `vaultkeeper escrow key add --out FILE`)",
                          file=str(settings.config_file) if settings.config_file else None,
                          key="[escrow] escrow_password")
    return settings.escrow.escrow_password


def escrow_restic(settings: Settings | CommandContext, location: Location,
                  password: Secret) -> Restic:
    """Restic on the escrow repository, opened with ``password``."""
    return CommandContext.of(settings).restic(location, password=password, timeout=1800)


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def escrow_snapshot(snaps: list[Snapshot], snapshot_id: str) -> Snapshot | None:
    """The newest copy of ``snapshot_id`` among the escrow repository's snapshots."""
    matching = [s for s in snaps if snapshot_id in (s.id, s.original)]
    return max(matching, key=lambda s: s.time) if matching else None
