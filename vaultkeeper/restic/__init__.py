"""The only place restic runs: argv and environment built explicitly, ``--json`` parsed, failures
classified into errors that name the location and the fix. ``Restic`` is the entry point;
``errors`` tells restic's failures apart, ``proc`` runs the process (signals, password pipe).

restic 0.14 is the minimum (Debian bookworm). Its quirks handled here: the backup summary holds
only the short snapshot id (resolved through ``snapshots --json``), most failures exit 1 (so
stderr text is matched, with ``LANG=C``), and a missing source is skipped with exit 0.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import socket
import subprocess  # noqa: TID251 - this module is the project's one home for running restic
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from vaultkeeper.config import Secret
from vaultkeeper.errors import StorageError, UsageError
from vaultkeeper.privatefs import pid_alive
from vaultkeeper.restic.errors import (
    CredentialsRefused,
    IdNotFound,
    KeyInUse,
    NotWritable,
    OutOfSpace,
    RepositoryCorrupt,
    RepositoryLocked,
    RepositoryMissing,
    ResticFailed,
    Unreachable,
    WrongPassword,
    classify,
)
from vaultkeeper.restic.proc import (
    ChildTimeout,
    die_with_parent,
    mkdir_private,
    password_pipe,
    run_child,
    sweep_password_leftovers,
)
from vaultkeeper.storage.locations import Location

MIN_VERSION = (0, 14, 0)
DEFAULT_TIMEOUT = 6 * 3600.0
STALE_LOCK_AGE_S = 30 * 60
"""restic 0.14 treats a lock older than this as stale (``internal/restic/lock.go``)."""
_NO_LOCK_COMMANDS = frozenset({"list", "cat", "unlock", "version", "init"})
log = logging.getLogger("vaultkeeper.restic")
__all__ = ["BackupResult", "CredentialsRefused", "ForgetResult", "IdNotFound", "KeyInUse",
           "KeyInfo", "LockInfo", "NotWritable", "OutOfSpace", "RepositoryCorrupt",
           "RepositoryLocked", "RepositoryMissing", "Restic", "ResticFailed", "Snapshot",
           "Unreachable", "WrongPassword", "parse_time", "select_snapshot"]


@dataclass(frozen=True)
class BackupResult:
    """What ``restic backup`` reported."""

    snapshot_id: str
    short_id: str
    data_added: int
    total_bytes: int
    files_new: int
    duration_s: float


@dataclass(frozen=True)
class Snapshot:
    """One entry of ``restic snapshots --json``."""

    id: str
    short_id: str
    time: datetime
    tags: tuple[str, ...]
    paths: tuple[str, ...]
    hostname: str
    original: str | None


@dataclass(frozen=True)
class KeyInfo:
    """One entry of ``restic key list --json`` (0.14: 8-character ids)."""

    id: str
    user: str
    host: str
    created: str
    current: bool


@dataclass(frozen=True)
class ForgetResult:
    """Snapshot ids kept and removed by ``forget``."""

    kept: list[str]
    removed: list[str]


@dataclass(frozen=True)
class LockInfo:
    """One restic lock file (``restic cat lock``)."""

    id: str
    time: datetime | None
    exclusive: bool
    hostname: str
    pid: int

    @classmethod
    def parse(cls, lock_id: str, raw: dict[str, Any]) -> LockInfo:
        """From ``cat lock`` JSON."""
        when = raw.get("time")
        return cls(lock_id, parse_time(when) if isinstance(when, str) else None,
                   bool(raw.get("exclusive")), str(raw.get("hostname", "")),
                   int(raw.get("pid") or 0))

    @property
    def stale(self) -> bool:
        """restic 0.14's rule: older than 30 minutes, or ours (same host) with a dead pid."""
        if self.time is not None:
            age = (datetime.now(UTC) - self.time).total_seconds()
            if age > STALE_LOCK_AGE_S:
                return True
        return self.hostname == socket.gethostname() and not pid_alive(self.pid)

    def describe(self) -> str:
        """``exclusive lock 1a2b3c4d of pid 42 on host, 2026-…``."""
        kind = "exclusive" if self.exclusive else "shared"
        at = self.time.isoformat(timespec="seconds") if self.time else "unknown time"
        return f"{kind} lock {self.id[:8]} of pid {self.pid} on {self.hostname}, {at}"


def parse_time(value: str) -> datetime:
    """restic's RFC 3339 time with nanoseconds → datetime (microseconds)."""
    match = re.match(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", value)
    if not match:
        return datetime.fromisoformat(value)
    base, frac, zone = match.groups()
    frac = (frac or ".0")[:7]
    return datetime.fromisoformat(base + frac + ("+00:00" if zone == "Z" else zone))


@dataclass(eq=False)
class Restic:
    """restic against one location."""

    location: Location
    password: Secret = field(repr=False)
    _: KW_ONLY
    cache_dir: Path | None = None
    binary: str = "restic"
    cwd: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    on_exec: Callable[[list[str]], None] | None = None
    _pass_fds: list[int] = field(init=False, default_factory=list, repr=False)
    _locks_checked: bool = field(init=False, default=False, repr=False)
    locks_removed: list[str] = field(init=False, default_factory=list)
    """Stale locks this instance removed (one line each), for the run's report."""

    def __post_init__(self) -> None:
        sweep_password_leftovers()

    # -- plumbing ------------------------------------------------------------------------
    @contextlib.contextmanager
    def _password_file(self, secret: Secret) -> Iterator[str]:
        """A path restic reads the password from: the secret's own file, or ``/dev/fd/N`` of a
        pipe restic inherits. Nothing is written to disk, so a kill -9 leaves no copy."""
        if secret.kind == "file":
            yield str(secret.file_path())
            return
        with password_pipe(secret.reveal()) as (path, fd):
            self._pass_fds.append(fd)
            try:
                yield path
            finally:
                self._pass_fds.remove(fd)

    def _base_env(self) -> dict[str, str]:
        # Built, not inherited: stray RESTIC_*/AWS_* variables must not redirect us.
        env = {k: os.environ[k] for k in ("PATH", "HOME", "TMPDIR") if k in os.environ}
        env["LANG"] = env["LC_ALL"] = "C"
        env["RESTIC_PROGRESS_FPS"] = "0.2"
        if self.cache_dir is not None:
            mkdir_private(self.cache_dir)
            env["RESTIC_CACHE_DIR"] = str(self.cache_dir)
        return env

    def _run(self, args: Sequence[str], *, extra_env: Mapping[str, str] | None = None,
             timeout: float | None = None, cwd: Path | None = None,
             ok_codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        if args and args[0] not in _NO_LOCK_COMMANDS and not self._locks_checked:
            self._locks_checked = True
            self.clear_stale_locks()
        argv = [self.binary, *self.location.restic_options(), *args]
        with self._password_file(self.password) as password_file:
            env = self._base_env() | self.location.restic_env() | dict(extra_env or {})
            env["RESTIC_PASSWORD_FILE"] = password_file
            if self.on_exec is not None:
                self.on_exec(list(argv))
            try:
                done = run_child(argv, env=env, cwd=cwd or self.cwd, pass_fds=self._pass_fds,
                                 timeout=timeout or self.timeout, binary=self.binary,
                                 where=self._where(), command=args[0])
            except ChildTimeout as exc:
                raise Unreachable(str(exc), "check the location is reachable and not "
                                            "overloaded") from None
        if done.returncode not in ok_codes:
            raise self._classify(args[0], done)
        return done

    def clear_stale_locks(self) -> list[str]:
        """Remove locks whose holder is gone (restic 0.14's rules: same host and a dead pid,
        or older than 30 minutes) with ``restic unlock``; returns a line per lock removed.

        A lock of a live process is left alone (``unlock`` never removes it either)."""
        try:
            stale = [lock for lock in self.locks() if lock.stale]
        except StorageError:
            return []   # no repository (yet), unreachable…: the real command will say
        if not stale:
            return []
        self._run(["unlock"], timeout=300)
        left = {lock.id for lock in self.locks()}
        removed = [f"{self.location.name}: removed stale {lock.describe()}"
                   for lock in stale if lock.id not in left]
        for line in removed:
            log.warning("%s", line)
        self.locks_removed.extend(removed)
        return removed

    def locks(self) -> list[LockInfo]:
        """The repository's lock files (``list locks`` + ``cat lock``, both ``--no-lock``)."""
        ids = self._run(["list", "locks", "--no-lock"], timeout=300).stdout.split()
        found = []
        for lock_id in ids:
            try:
                raw = orjson.loads(self._run(["cat", "lock", lock_id, "--no-lock"],
                                             timeout=300).stdout)
            except (StorageError, orjson.JSONDecodeError):
                continue   # removed meanwhile
            found.append(LockInfo.parse(lock_id, raw))
        return found

    def _where(self) -> str:
        return f"location {self.location.name} ({self.location.display_url})"

    def _classify(self, command: str, done: subprocess.CompletedProcess[str]) -> StorageError:
        return classify(command, done.returncode, self._scrub(done.stderr), self._where())

    def _scrub(self, text: str) -> str:
        """Remove anything secret restic might echo (a REST URL carries credentials)."""
        for key, value in self.location.restic_env().items():
            if key != "RESTIC_REPOSITORY" or value != self.location.url:
                text = text.replace(value, "***") if value else text
        return text

    # -- commands -------------------------------------------------------------------------
    def version(self) -> tuple[int, int, int]:
        """restic's version; raises when missing or older than 0.14."""
        try:
            out = subprocess.run([self.binary, "version"], capture_output=True, text=True,
                                 timeout=30, check=False, preexec_fn=die_with_parent).stdout
        except FileNotFoundError:
            raise StorageError(f"the restic program was not found ({self.binary})",
                               "install it: apt-get install restic") from None
        match = re.search(r"restic (\d+)\.(\d+)\.(\d+)", out)
        if not match:
            raise StorageError(f"cannot read restic's version from {out.strip()[:80]!r}",
                               "install restic >= 0.14 (apt-get install restic)")
        version = (int(match[1]), int(match[2]), int(match[3]))
        if version < MIN_VERSION:
            raise StorageError(f"restic {'.'.join(map(str, version))} is too old",
                               "install restic >= 0.14 (Debian bookworm or newer)")
        return version

    def is_initialised(self) -> bool:
        """True when a repository exists at the location (and the password opens it)."""
        try:
            self._run(["cat", "config"], timeout=120)
        except RepositoryMissing:
            return False
        return True

    def init(self, *, copy_chunker_params_from: Restic | None = None) -> None:
        """Create the repository (copying chunker parameters keeps dedup across copies)."""
        if copy_chunker_params_from is None:
            self._run(["init"])
            return
        with self._from_env(copy_chunker_params_from) as env:
            self._run(["init", "--copy-chunker-params"], extra_env=env)

    @contextlib.contextmanager
    def _from_env(self, source: Restic) -> Iterator[dict[str, str]]:
        self._check_shared_credentials(source)
        with self._password_file(source.password) as password_file:
            env = {"RESTIC_FROM_REPOSITORY": source.location.restic_env()["RESTIC_REPOSITORY"],
                   "RESTIC_FROM_PASSWORD_FILE": password_file}
            # Backend credentials are shared by both sides in restic 0.14 (see docs).
            src = {k: v for k, v in source.location.restic_env().items()
                   if k != "RESTIC_REPOSITORY"}
            yield src | env

    def _check_shared_credentials(self, source: Restic) -> None:
        ours = {k: v for k, v in self.location.restic_env().items() if k.startswith("AWS_")}
        theirs = {k: v for k, v in source.location.restic_env().items() if k.startswith("AWS_")}
        if ours and theirs and ours != theirs:
            raise StorageError(
                f"{self._where()}: restic 0.14 cannot copy between two S3 locations with "
                f"different credentials (from {source.location.name})",
                "give both buckets the same access key, or put a local location first so "
                "copies go local → S3")

    def backup(self, path: Path, *, tags: Sequence[str] = (), host: str = "vaultkeeper",
               on_progress: Callable[[dict[str, Any]], None] | None = None) -> BackupResult:
        """Back up the contents of ``path`` (run from inside it, so snapshot paths are the
        same every run wherever staging lives)."""
        if not path.is_dir() or not any(path.iterdir()):
            raise StorageError(f"nothing to back up in {path}", "this is a bug; report it")
        args = ["backup", "--json", "-q", "--host", host]
        for tag in tags:
            args += ["--tag", tag]
        began = time.monotonic()
        done = self._run([*args, "."], cwd=path)
        summary: dict[str, Any] = {}
        for line in done.stdout.splitlines():
            try:
                message = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(message, dict) and message.get("message_type") == "summary":
                summary = message
            elif on_progress is not None and isinstance(message, dict):
                on_progress(message)
        short = str(summary.get("snapshot_id", ""))
        if not short:
            raise ResticFailed(f"{self._where()}: restic backup printed no snapshot id",
                               "run `vaultkeeper locations check`")
        full = next((s.id for s in self.snapshots() if s.id.startswith(short)), "")
        if not full:
            raise ResticFailed(f"{self._where()}: snapshot {short} not found after backup",
                               "run `vaultkeeper locations check`")
        return BackupResult(full, short, int(summary.get("data_added", 0)),
                            int(summary.get("total_bytes_processed", 0)),
                            int(summary.get("files_new", 0)),
                            round(time.monotonic() - began, 3))

    def snapshots(self, *, tags: Sequence[str] = ()) -> list[Snapshot]:
        """All snapshots, oldest first."""
        args = ["snapshots", "--json"]
        for tag in tags:
            args += ["--tag", tag]
        data = orjson.loads(self._run(args, timeout=600).stdout or b"[]") or []
        return sorted((Snapshot(id=s["id"], short_id=s.get("short_id", s["id"][:8]),
                                time=parse_time(s["time"]), tags=tuple(s.get("tags") or ()),
                                paths=tuple(s.get("paths") or ()),
                                hostname=s.get("hostname", ""), original=s.get("original"))
                       for s in data), key=lambda s: s.time)

    def copy_from(self, source: Restic, snapshot_ids: Sequence[str] = ()) -> None:
        """Copy snapshots (all missing ones when no ids) from ``source`` into this location."""
        with self._from_env(source) as env:
            self._run(["copy", *snapshot_ids], extra_env=env)

    def check(self, *, read_data_subset: str | None = None) -> None:
        """``restic check``; raises RepositoryCorrupt on errors."""
        args = ["check"] + ([f"--read-data-subset={read_data_subset}"]
                            if read_data_subset else [])
        self._run(args)

    def forget(self, keep: Mapping[str, int | str], *, prune: bool = True, dry_run: bool = False,
               keep_tags: Sequence[str] = ()) -> ForgetResult:
        """Apply keep rules (``{"daily": 7, …}``); returns kept/removed full ids."""
        args = ["forget", "--json", "--group-by", "host"]
        for rule, value in keep.items():
            args += [f"--keep-{rule}", str(value)]
        for tag in keep_tags:
            args += ["--keep-tag", tag]
        if prune and not dry_run:
            args.append("--prune")
        if dry_run:
            args.append("--dry-run")
        done = self._run(args)
        kept: list[str] = []
        removed: list[str] = []
        start = done.stdout.find("[")
        groups = orjson.loads(done.stdout[start:].splitlines()[0]) if start >= 0 else []
        for group in groups or []:
            kept += [s["id"] for s in group.get("keep") or []]
            removed += [s["id"] for s in group.get("remove") or []]
        return ForgetResult(kept, removed)

    def forget_ids(self, snapshot_ids: Sequence[str], *, prune: bool = True) -> None:
        """Remove exactly these snapshots (used after protected ones are filtered out)."""
        if snapshot_ids:
            self._run(["forget", *snapshot_ids, *(["--prune"] if prune else [])])

    def unlock(self) -> list[str]:
        """Remove stale locks (restic only removes locks of dead processes or old ones)."""
        return self.clear_stale_locks()

    def restore(self, snapshot_id: str, target: Path, *, include: Sequence[str] = ()) -> None:
        """Restore a snapshot (only the files matching ``include`` patterns, when given) into
        ``target``."""
        extra = [arg for pattern in include for arg in ("--include", pattern)]
        self._run(["restore", snapshot_id, "--target", str(target), *extra])

    def stats(self) -> dict[str, Any]:
        """``stats --mode raw-data --json``."""
        result: dict[str, Any] = orjson.loads(
            self._run(["stats", "--mode", "raw-data", "--json"], timeout=600).stdout)
        return result

    # -- keys ---------------------------------------------------------------------------------
    def key_list(self) -> list[KeyInfo]:
        """Every key of the repository; ``current`` marks the one our password opened."""
        data = orjson.loads(self._run(["key", "list", "--json"], timeout=300).stdout or b"[]")
        return [KeyInfo(id=k["id"], user=k.get("userName", ""), host=k.get("hostName", ""),
                        created=k.get("created", ""), current=bool(k.get("current")))
                for k in data or []]

    def current_key_id(self) -> str:
        """The id of the key this password opens (raises WrongPassword when none)."""
        current = [k.id for k in self.key_list() if k.current]
        if not current:
            raise ResticFailed(f"{self._where()}: restic key list marks no key as current",
                               "run `restic key list` by hand and report it")
        return current[0]

    def key_add(self, new_password: Secret, *, user: str, host: str) -> None:
        """Add a key opening the repository with ``new_password`` (read by restic from a file:
        never argv or environment)."""
        with self._password_file(new_password) as new_file:
            self._run(["key", "add", "--new-password-file", new_file, "--user", user,
                       "--host", host], timeout=300)

    def key_remove(self, key_id: str) -> None:
        """Remove a key (restic refuses the one this instance's password opens: KeyInUse)."""
        self._run(["key", "remove", key_id], timeout=300)

def select_snapshot(snapshots: Sequence[Snapshot], ref: str, where: str) -> Snapshot:
    """``latest``, ``random``, or an id prefix (the location's own id or the original's)."""
    if not snapshots:
        raise StorageError(f"{where} holds no snapshot", "run `vaultkeeper backup` first")
    # Risk-driven backups of the top-priority objects hold only some objects: "latest" and
    # "random" mean whole exports whenever there is one (an explicit id can pick any).
    whole = [s for s in snapshots if "scope:priority" not in s.tags] or list(snapshots)
    if ref == "latest":
        return max(whole, key=lambda s: s.time)
    if ref == "random":
        return secrets.choice(whole)
    wanted = ref.lower()
    found = {s.id: s for s in snapshots
             if s.id.startswith(wanted) or (s.original or "").startswith(wanted)}
    if not found:
        raise UsageError(f"no snapshot {ref!r} at {where}",
                         "see `vaultkeeper snapshots` for the ids held at each location")
    if len(found) > 1:
        raise UsageError(f"snapshot id {ref!r} is ambiguous at {where}",
                         "give more characters of the id")
    return next(iter(found.values()))
