"""Locations by URL scheme: what restic gets (URL, environment, options), what people see
(credentials stripped), and a quick preflight that never hangs on a dead endpoint."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from vaultkeeper.config import LocationSettings, Secret, Settings
from vaultkeeper.tomlcheck import redact_url

KINDS = ("local", "s3", "sftp", "rest", "rclone")


def kind_of(url: str) -> str:
    """The backend kind from a restic repository URL."""
    for kind in ("s3", "sftp", "rest", "rclone"):
        if url.startswith(f"{kind}:"):
            return kind
    return "local"


@dataclass(frozen=True, repr=False)
class Location:
    """A configured restic repository, ready to use. ``repr`` never shows credentials."""

    name: str
    kind: str
    display_url: str
    offline: bool = False
    append_only: bool = False
    immutable: bool = False
    country: str | None = None
    url: str = ""
    access_key: Secret | None = field(default=None, compare=False)
    secret_key: Secret | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"Location({self.name!r}, {self.display_url!r})"

    def restic_env(self) -> dict[str, str]:
        """Environment for restic: the repository and backend credentials, resolved now."""
        url = self.url
        env: dict[str, str] = {}
        if self.kind == "s3" and self.access_key and self.secret_key:
            env["AWS_ACCESS_KEY_ID"] = self.access_key.reveal()
            env["AWS_SECRET_ACCESS_KEY"] = self.secret_key.reveal()
        if self.kind == "rest" and self.access_key and self.secret_key:
            # restic 0.14 takes REST credentials only inside the URL.
            parts = urlsplit(url[len("rest:"):])
            user = quote(self.access_key.reveal(), safe="")
            password = quote(self.secret_key.reveal(), safe="")
            url = f"rest:{parts.scheme}://{user}:{password}@{parts.netloc}{parts.path}"
        env["RESTIC_REPOSITORY"] = url
        return env

    def restic_options(self) -> list[str]:
        """Extended options: path-style S3 works with AWS, MinIO, Ceph, rclone and moto alike."""
        return ["-o", "s3.bucket-lookup=path"] if self.kind == "s3" else []

    def endpoint(self) -> tuple[str, int] | None:
        """Host and port to probe for network backends."""
        if self.kind in ("s3", "rest"):
            parts = urlsplit(self.url.split(":", 1)[1])
            default = 443 if parts.scheme == "https" else 80
            return (parts.hostname or "", parts.port or default)
        if self.kind == "sftp":
            target = self.url[len("sftp:"):]
            host = target.split(":", 1)[0].split("@")[-1].lstrip("/")
            return (host, 22)
        return None


def resolve_locations(settings: Settings) -> list[Location]:
    """Every configured location, in configuration order."""
    return [resolve_location(loc) for loc in settings.locations]


def resolve_location(loc: LocationSettings) -> Location:
    """One location from its settings."""
    return Location(name=loc.name, kind=kind_of(loc.url), display_url=redact_url(loc.url),
                    offline=loc.offline, append_only=loc.append_only, immutable=loc.immutable,
                    country=loc.country, url=loc.url, access_key=loc.access_key,
                    secret_key=loc.secret_key)


@dataclass
class Preflight:
    """What a quick look at a location found."""

    present: bool = True
    reachable: bool | None = None
    credentials_ok: bool | None = None
    initialised: bool | None = None
    versioning: str | None = None
    object_lock: str | None = None
    lock_days: int | None = None
    """S3 Object Lock default retention in days (years × 365), when one is set."""
    notes: list[str] = field(default_factory=list)


def preflight(location: Location, *, timeout: float = 5.0) -> Preflight:
    """Check presence/reachability without restic (restic retries a dead backend for minutes)."""
    result = Preflight()
    if location.kind == "local":
        return _local_preflight(Path(location.url), location.offline, result)
    endpoint = location.endpoint()
    if endpoint is not None:
        try:
            socket.create_connection(endpoint, timeout=timeout).close()
            result.reachable = True
        except OSError as exc:
            result.reachable = False
            result.present = not location.offline
            result.notes.append(f"cannot connect to {endpoint[0]}:{endpoint[1]}: "
                                f"{exc.strerror or exc}")
            return result
    if location.kind == "s3":
        # Lazy: boto3 (~0.3 s of imports) only when an S3 location is checked.
        from vaultkeeper.storage.s3 import s3_preflight

        s3_preflight(location, result, timeout=timeout)
    return result


MOUNT_ROOTS = (Path("/mnt"), Path("/media"), Path("/run/media"))
"""Folders under which a location is a mounted share or disk, never a folder of this disk."""
MARKER = ".vaultkeeper-location"
"""Written by ``locations init`` beside the repository: an offline disk is present only with it."""


def unmounted(path: Path) -> Path | None:
    """For a path under /mnt, /media or /run/media: the folder that should be a mount point
    (``/mnt/nas``, ``/media/backup-disk``, ``/run/media/USER/disk``) when nothing is mounted
    there, else None. Creating the location then would silently fill the local disk."""
    path = path.absolute()
    for root in MOUNT_ROOTS:
        if path == root or root not in path.parents:
            continue
        depth = len(root.parts) + (2 if root == Path("/run/media") else 1)
        if len(path.parts) < depth:
            return None
        mount = Path(*path.parts[:depth])
        probe = mount
        while probe != root:   # the share may be mounted at a deeper folder: any mount counts
            if os.path.ismount(probe):
                return None
            probe = probe.parent
        deeper = [p for p in path.parents if mount in p.parents or p == mount]
        if any(os.path.ismount(p) for p in [path, *deeper]):
            return None
        return mount
    return None


def _local_preflight(path: Path, offline: bool, result: Preflight) -> Preflight:
    result.initialised = (path / "config").exists()
    missing_mount = unmounted(path)
    if missing_mount is not None:
        result.present = False
        result.notes.append(f"{missing_mount} is not mounted (the share or disk is missing): "
                            "mount it; vaultkeeper never creates a location on the local disk "
                            "in its place")
    elif offline:
        # An empty mount point is not the disk: only the repository or its marker proves it.
        result.present = result.initialised or (path / MARKER).exists() \
            or _is_mount_below(path)
        if not result.present:
            result.notes.append(f"offline disk not present: {path} holds no vaultkeeper "
                                "repository (plug the disk in and mount it)")
    result.reachable = result.present
    return result


def _is_mount_below(path: Path) -> bool:
    """A disk freshly mounted at (or above) ``path``, other than the root filesystem."""
    return any(os.path.ismount(p) and p != Path("/") for p in [path, *path.parents]
               if p.exists())


def mark_local(location: Location) -> None:
    """Leave the marker that proves a removable disk is this location (``locations init``)."""
    marker = Path(location.url) / MARKER
    if not marker.exists():
        marker.write_text(f"vaultkeeper location {location.name}: a restic repository "
                          "(do not delete this file)\n", encoding="utf-8")
