"""Private files, private work folders and process locks: the one home for plaintext on disk.

The API (small on purpose; other modules use only these names):

- ``write_private(path, data, exclusive=False)``: a 0600 file written atomically (temp file in
  the same folder, fsync, rename, fsync of the folder); ``exclusive`` refuses to replace one.
- ``open_private(path, mode="wb", exclusive=False)``: a 0600 file opened for streaming writes
  (not atomic: for ``*.part`` files and archives, which the caller renames or removes).
- ``touch_private(path)``: create an empty 0600 file if missing (SQLite files, logs); an
  existing file is left unopened (closing a descriptor would drop SQLite's POSIX locks).
- ``fsync_dir(path)``: make a rename or create inside ``path`` durable.
- ``new_private_dir(parent, label, shared=False)``: a fresh 0700 folder
  ``<label>-<pid>-<random>`` under ``parent`` that the caller removes (a server's lifetime);
  ``private_workdir(parent, label)``: the same, removed on exit, Ctrl-C and SIGTERM.
- ``private_staging(parent, name)``: the same at a *fixed* path ``parent/name/run`` (restic then
  finds the previous snapshot as parent); the caller holds a run lock.
- ``sweep_leftovers(parent, prefix="")``: remove private folders whose owning process is dead
  (kill -9 cannot be caught). Every folder maker above calls it, and so does every command
  context, so the next run of *any* command removes the leftovers of a killed one.
- ``run_lock(state_dir, lock, what)`` / ``daemon_lock(state_dir)``: one backup (drill, diff…) and
  one scheduler per state directory (flock: a crash never leaves them stuck); ``lock_holder``
  reads a lock without taking it; ``sigterm_interrupts()`` turns SIGTERM into KeyboardInterrupt
  so ``finally`` clean-ups run; ``pid_alive(pid)`` is the liveness check the sweep uses.

Every private folder carries an ``OWNER`` file with its pid; ``sweep_leftovers`` also knows the
pid-tagged names of folders killed before the file was written.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import IO, Any, Literal

from vaultkeeper.errors import AlreadyRunning, DaemonRunning

OWNER = ".vaultkeeper-owner"
DAEMON_LOCK = "run.lock"
RUN_LOCK = "backup.lock"
# <label>-<pid>-<12 hex> (ours) or <label>-<pid>-<8 chars> (tempfile.mkdtemp, older versions)
_TAGGED = re.compile(r"^[a-z][a-z-]*-(\d+)-(?:[0-9a-f]{12}|[a-z0-9_]{8})$")


# ------------------------------------------------------------------------------------ files
def fsync_path(path: Path) -> None:
    """fsync a file's data, or a folder so that a rename or create inside it survives a power
    cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


fsync_dir = fsync_path


def open_private(path: Path | str, mode: Literal["wb", "w"] = "wb", *, exclusive: bool = False,
                 buffering: int = -1, newline: str | None = None) -> IO[Any]:
    """Open ``path`` for writing as a new or truncated 0600 file (``exclusive``: raise
    FileExistsError if it exists). ``mode`` "w" is UTF-8 text."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    if mode == "w":
        return os.fdopen(fd, "w", encoding="utf-8", newline=newline, buffering=buffering)
    return os.fdopen(fd, "wb", buffering=buffering)


def touch_private(path: Path | str) -> None:
    """Create ``path`` as an empty 0600 file if it does not exist. An existing file is not
    opened at all: closing any descriptor of a file drops every POSIX lock this process holds
    on it — SQLite's included, which would let another process corrupt the database."""
    if os.path.exists(path):
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def write_private(path: Path | str, data: bytes | str, *, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` as a 0600 file, atomically and durably: readers see the old
    file or the whole new one. ``exclusive``: raise FileExistsError if ``path`` exists."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open_private(tmp, exclusive=True) as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, path)      # fails if path exists: never replaces
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


# ---------------------------------------------------------------------------------- folders
def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on this host; a pid we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(folder: Path) -> int | None:
    try:
        text = (folder / OWNER).read_text(encoding="utf-8").strip()
    except OSError:
        match = _TAGGED.match(folder.name)
        return int(match.group(1)) if match else None
    return int(text) if text.isdigit() else None


def sweep_leftovers(parent: Path, prefix: str = "") -> list[Path]:
    """Remove the private folders under ``parent`` whose owning process is gone; return them.
    In a shared folder (``$TMPDIR``) ``prefix`` limits the sweep to names that are ours."""
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for folder in parent.iterdir():
        if not folder.name.startswith(prefix) or not folder.is_dir() or folder.is_symlink():
            continue
        pid = _owner(folder)
        if pid is not None and pid != os.getpid() and not pid_alive(pid):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _claim(folder: Path) -> None:
    (folder / OWNER).write_text(str(os.getpid()), encoding="utf-8")


def new_private_dir(parent: Path, label: str, *, shared: bool = False) -> Path:
    """A fresh 0700 folder ``parent/<label>-<pid>-<random>``, claimed by this process, which
    removes it; leftovers of killed runs under ``parent`` are removed first (in a ``shared``
    parent such as ``$TMPDIR``, only those named ``<label>-…``)."""
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    sweep_leftovers(parent, f"{label}-" if shared else "")
    path = parent / f"{label}-{os.getpid()}-{secrets.token_hex(6)}"
    path.mkdir(mode=0o700)
    try:
        _claim(path)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    return path


@contextlib.contextmanager
def private_workdir(parent: Path, label: str) -> Iterator[Path]:
    """A fresh 0700 folder ``parent/<label>-<pid>-<random>`` for plaintext data, removed on exit
    (SIGTERM and Ctrl-C too); leftovers of killed runs under ``parent`` are removed first."""
    path = new_private_dir(parent, label)
    try:
        with sigterm_interrupts():
            yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def private_staging(parent: Path, name: str) -> Iterator[Path]:
    """A 0700 folder at the fixed path ``parent/name/run``, removed (with ``parent/name``) on
    exit, SIGTERM included. The caller holds a run lock, so any leftover there is removed."""
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    sweep_leftovers(parent)
    root = parent / name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(mode=0o700)
    path = root / "run"
    try:
        _claim(root)
        path.mkdir(mode=0o700)
        with sigterm_interrupts():
            yield path
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ------------------------------------------------------------------------------------ locks
@contextlib.contextmanager
def pid_lock(path: Path, busy: Callable[[str], Exception]) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (0600, its folder 0700) with our pid written in it;
    when another process holds it, raise ``busy(holder_pid)``."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise busy(holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def lock_holder(path: Path) -> int | None:
    """The pid holding the lock at ``path`` (-1 if unreadable), None when nobody holds it."""
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def run_lock(state_dir: Path, lock: str = RUN_LOCK, what: str = "backup") -> Iterator[None]:
    """One backup (or drill, diff…) at a time per state directory."""
    def busy(holder: str) -> AlreadyRunning:
        return AlreadyRunning(f"another {what} is running (pid {holder})",
                              "wait for it to finish; the lock frees itself if it dies")

    with pid_lock(state_dir / lock, busy):
        yield


@contextlib.contextmanager
def daemon_lock(state_dir: Path) -> Iterator[None]:
    """One ``vaultkeeper run`` per state directory."""
    def busy(holder: str) -> DaemonRunning:
        return DaemonRunning(f"vaultkeeper run is already running (pid {holder})",
                             "stop it first (systemctl stop vaultkeeper, or kill "
                             f"{holder}); one scheduler per state directory")

    with pid_lock(state_dir / DAEMON_LOCK, busy):
        yield


def daemon_pid(state_dir: Path) -> int | None:
    """The pid of the running scheduler, or None (reads the lock without taking it)."""
    return lock_holder(state_dir / DAEMON_LOCK)


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While inside, SIGTERM raises KeyboardInterrupt, so ``finally`` clean-ups run (main thread
    only: signal handlers cannot be set elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: FrameType | None) -> None:
        if callable(previous):   # the outer handler learns of the stop (the scheduler records
            previous(signum, frame)   # it for its exit code); it usually raises itself
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
