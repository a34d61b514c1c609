"""How restic processes run: tied to vaultkeeper's life, signals forwarded, password by pipe.

- ``run_child``: restic in its own process group with ``PR_SET_PDEATHSIG`` = SIGINT (restic 0.14
  removes its lock on SIGINT, not on SIGTERM), output to unlinked temporary files (a restic whose
  parent was killed must not die of SIGPIPE before cleaning up), SIGTERM/SIGINT/SIGHUP forwarded
  while it runs and handed to the previous handler once it has exited.
- ``password_pipe``: the password as ``/dev/fd/N`` of an inherited pipe — never a file.
- ``sweep_password_leftovers``: removes the ``$TMPDIR/vk-pw-*`` folders older versions left.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import shutil
import signal
import stat
import subprocess  # noqa: TID251 - restic's process plumbing, used by the Restic class only
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from vaultkeeper.errors import StorageError

INTERRUPT_GRACE_S = 60.0
"""How long an interrupted restic may take to remove its lock before it is killed."""
_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
log = logging.getLogger("vaultkeeper.restic")


class ChildTimeout(Exception):
    """restic ran longer than its timeout and was killed."""


@contextlib.contextmanager
def password_pipe(secret: str) -> Iterator[tuple[str, int]]:
    """A pipe holding ``secret`` whose read end a child inherits: yields (``/dev/fd/N``, N).

    restic 0.14 accepts ``/dev/fd/N`` as ``--password-file``/``RESTIC_PASSWORD_FILE``; the bytes
    live only in the kernel's pipe buffer and vanish with the last process holding it."""
    data = (secret + "\n").encode("utf-8")
    read_fd, write_fd = os.pipe()
    try:
        if len(data) > 60000:
            raise StorageError("the repository password is longer than 60,000 bytes",
                               "use a shorter password")
        os.write(write_fd, data)
        os.close(write_fd)
        write_fd = -1
        yield f"/dev/fd/{read_fd}", read_fd
    finally:
        if write_fd >= 0:
            os.close(write_fd)
        os.close(read_fd)


_swept: list[bool] = []


def sweep_password_leftovers(max_age_s: float = 600.0) -> list[Path]:
    """Remove ``$TMPDIR/vk-pw-*`` folders older versions left when killed (they held the
    password in plaintext); once per process. restic reads its password file at start-up, so
    a folder older than ``max_age_s`` is never still needed."""
    if _swept:
        return []
    _swept.append(True)
    removed = []
    for folder in Path(tempfile.gettempdir()).glob("vk-pw-*"):
        try:
            info = folder.lstat()
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and \
                time.time() - info.st_mtime > max_age_s:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        log.warning("removed %d password folder(s) left by a killed run", len(removed))
    return removed


_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None) -> None:
    """In the child before exec: receive SIGINT when vaultkeeper dies (even by kill -9).

    SIGINT, not SIGKILL: restic 0.14 removes its lock on SIGINT (exit 130) but not on SIGTERM."""
    for sig in _FORWARDED:   # a nohup'ed or backgrounded parent may have them ignored
        signal.signal(sig, signal.SIG_DFL)
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0)
    if parent is not None and os.getppid() != parent:   # died before prctl took effect
        os.kill(os.getpid(), signal.SIGINT)


def run_child(argv: list[str], *, env: Mapping[str, str], cwd: Path | None,
              pass_fds: Sequence[int], timeout: float, binary: str, where: str,
              command: str) -> subprocess.CompletedProcess[str]:
    """Run restic in its own process group, tied to our life (PR_SET_PDEATHSIG), with SIGTERM,
    SIGINT and SIGHUP forwarded to it as SIGINT while it runs (so it removes its lock), then
    re-raised here as KeyboardInterrupt once it has exited."""
    # Output goes to unlinked temporary files, not pipes: if we are killed, restic must not
    # die of SIGPIPE before it has removed its lock (it prints while cleaning up).
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        try:
            proc = subprocess.Popen(argv, env=dict(env), cwd=cwd, pass_fds=tuple(pass_fds),
                                    stdin=subprocess.DEVNULL, stdout=out_file,
                                    stderr=err_file, process_group=0,
                                    preexec_fn=functools.partial(die_with_parent,
                                                                 os.getpid()))
        except FileNotFoundError:
            raise StorageError(f"the restic program was not found ({binary})",
                               "install it: apt-get install restic") from None
        _wait(proc, timeout, where, command)
        out_file.seek(0)
        err_file.seek(0)
        out = out_file.read().decode("utf-8", "replace")
        err = err_file.read().decode("utf-8", "replace")
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _wait(proc: subprocess.Popen[bytes], timeout: float, where: str, command: str) -> None:
    """Wait for restic, forwarding SIGTERM/SIGINT/SIGHUP to it as SIGINT."""
    received: list[int] = []
    previous: dict[signal.Signals, Any] = {}

    def forward(signum: int, frame: object) -> None:
        if previous.get(signal.Signals(signum)) == signal.SIG_IGN:
            return   # ignored before restic started (nohup): stay ignored
        received.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)

    if threading.current_thread() is threading.main_thread():
        for sig in _FORWARDED:
            previous[sig] = signal.signal(sig, forward)
    deadline = time.monotonic() + timeout
    grace_until: float | None = None
    timed_out = False
    try:
        while True:
            try:
                proc.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                now = time.monotonic()
                if received and grace_until is None:
                    grace_until = now + INTERRUPT_GRACE_S
                if now > deadline or (grace_until is not None and now > grace_until):
                    timed_out = not received
                    _kill_group(proc)
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        # Now that restic has cleaned up, the signal reaches whoever handled it before us
        # (the CLI and the scheduler raise KeyboardInterrupt; so does Python's SIGINT default).
        handler = previous.get(signal.Signals(received[0]))
        if callable(handler):
            handler(received[0], None)
        else:
            raise KeyboardInterrupt(f"signal {received[0]} while restic {command} ran")
    if timed_out:
        raise ChildTimeout(f"{where}: restic {command} timed out")


def mkdir_private(path: Path) -> None:
    """Create ``path`` and every missing parent 0700 (``mkdir(parents=True)`` would give the
    parents — the state directory itself — the umask's 0755)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
