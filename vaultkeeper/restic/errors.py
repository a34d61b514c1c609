"""restic's failures as vaultkeeper errors: one class per cause, and the table that tells them
apart from restic 0.14's stderr (most failures exit 1, so the text decides; ``LANG=C``)."""

from __future__ import annotations

import re

from vaultkeeper.errors import StorageError


class WrongPassword(StorageError):
    """The repository password does not open the repository."""


class RepositoryMissing(StorageError):
    """There is no restic repository at the location."""


class RepositoryLocked(StorageError):
    """Another restic process (or a stale lock) holds the repository."""


class Unreachable(StorageError):
    """The backend cannot be reached."""


class CredentialsRefused(Unreachable):
    """The backend refused the location's credentials (wrong key or secret, no permission)."""


class RepositoryCorrupt(StorageError):
    """``restic check`` found errors."""


class OutOfSpace(StorageError):
    """The backend or local disk is full."""


class NotWritable(StorageError):
    """The location refuses writes: a read-only mount, or folders owned by someone else."""


class ResticFailed(StorageError):
    """Any other restic failure."""


class IdNotFound(StorageError):
    """No key (or snapshot) matches the id given."""


class KeyInUse(StorageError):
    """restic refuses to remove the key the command itself opened the repository with."""


# Exact restic 0.14 stderr texts (LANG=C), most specific first.
_CLASSES: list[tuple[re.Pattern[str], type[StorageError], str]] = [
    (re.compile(r"wrong password or no key found"), WrongPassword,
     "check [repository] password: it must be the key this repository was created with"),
    (re.compile(r"no space left on device|NoSpace|QuotaExceeded|EntityTooLarge"), OutOfSpace,
     "free space at the location or move it to a larger disk/bucket"),
    (re.compile(r"read-only file system|permission denied", re.I), NotWritable,
     "the location cannot be written: remount it read-write, or give this user the folder "
     "(chown/chmod), then run `vaultkeeper locations init` again"),
    (re.compile(r"connection refused|no such host|i/o timeout|network is unreachable|"
                r"context deadline exceeded|dial tcp|connection reset|TLS handshake"),
     Unreachable, "check the location's URL, network and that the server is running"),
    # Before "unable to open config file": a refused key must not read as "no repository".
    (re.compile(r"Access Denied|AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|"
                r"signature we calculated does not match|Access Key Id you provided does not "
                r"exist|403 Forbidden|401 Unauthorized"), CredentialsRefused,
     "check the location's access_key/secret_key (the secret must belong to the key) and "
     "their permissions on the bucket"),
    (re.compile(r"unable to open config file|Is there a repository at the following location"),
     RepositoryMissing, "run `vaultkeeper locations init`"),
    (re.compile(r"repository is already locked|unable to create lock"), RepositoryLocked,
     "wait for the other restic process; a lock whose process is gone (or older than 30 "
     "minutes) is removed before the next operation on the location (restic unlock)"),
    (re.compile(r"refusing to remove key currently used"), KeyInUse,
     "this is the key vaultkeeper itself uses; remove another key"),
    (re.compile(r"no matching ID found"), IdNotFound,
     "list the ids with `vaultkeeper escrow key list` (or `vaultkeeper snapshots`)"),
    (re.compile(r"repository contains errors|Fatal: There were \d+ errors"), RepositoryCorrupt,
     "restore from another location; run `restic check` there and rebuild this repository"),
]


def classify(command: str, returncode: int, stderr: str, where: str) -> StorageError:
    """The error for a failed restic ``command``: the first matching stderr line names the
    cause (prefixed by ``where``); anything unknown is ResticFailed with restic's last line."""
    for pattern, cls, fix in _CLASSES:
        if pattern.search(stderr):
            line = next((ln for ln in stderr.splitlines() if pattern.search(ln)), "")
            return cls(f"{where}: {line.strip()[:300]}", fix)
    last = [ln for ln in stderr.strip().splitlines() if ln.strip()][-1:] or ["(no output)"]
    return ResticFailed(f"{where}: restic {command} failed with exit {returncode}: "
                        f"{last[0][:300]}", "run `vaultkeeper locations check` for details")
