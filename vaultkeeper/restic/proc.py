"""How restic processes run: tied to vaultkeeper's life, signals forwarded, password by pipe.

- ``run_child``: restic spawned with SIGTERM/SIGINT/SIGHUP blocked until their forwarding is
  in place, in its own process group with ``PR_SET_PDEATHSIG`` = SIGINT (restic 0.14
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
    # run_child blocks them around the spawn, and a blocked mask survives exec: unblock.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _FORWARDED)
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
    re-raised here as KeyboardInterrupt once it has exited.

    The signals are blocked from before the spawn until forwarding is in place, so a signal
    that lands right after restic started is forwarded to it (and waited for) instead of
    unwinding this process while restic runs on unsupervised with its lock."""
    # Output goes to unlinked temporary files, not pipes: if we are killed, restic must not
    # die of SIGPIPE before it has removed its lock (it prints while cleaning up).
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file, \
            _Supervisor(command) as supervisor:
        try:
            proc = subprocess.Popen(argv, env=dict(env), cwd=cwd, pass_fds=tuple(pass_fds),
                                    stdin=subprocess.DEVNULL, stdout=out_file,
                                    stderr=err_file, process_group=0,
                                    preexec_fn=functools.partial(die_with_parent,
                                                                 os.getpid()))
        except FileNotFoundError:
            raise StorageError(f"the restic program was not found ({binary})",
                               "install it: apt-get install restic") from None
        _test_signal_after_spawn(command)   # tests: a signal in the window (it stays pending)
        supervisor.supervise(proc)
        supervisor.wait(timeout, where)
        out_file.seek(0)
        err_file.seek(0)
        out = out_file.read().decode("utf-8", "replace")
        err = err_file.read().decode("utf-8", "replace")
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


TEST_SIGNAL_ENV = "VAULTKEEPER_TEST_SIGNAL_AFTER_SPAWN"
"""Tests only: ``<restic command>:<signal number>`` makes vaultkeeper send itself that signal
right after it spawned restic for that command — the moment a SIGTERM from systemd or a test
can land — so the race between spawning and supervising restic is reproducible."""


def _test_signal_after_spawn(command: str) -> None:
    wanted = os.environ.get(TEST_SIGNAL_ENV, "")
    name, _, number = wanted.partition(":")
    if name == command and number.isdigit():
        os.kill(os.getpid(), int(number))


class _Supervisor:
    """Forwards SIGTERM/SIGINT/SIGHUP to one restic child as SIGINT and waits for it.

    Entered before the spawn: the signals are blocked and the forwarding handlers installed;
    ``supervise`` names the child and unblocks them (a signal received meanwhile is delivered
    then, and forwarded). Only the main thread handles signals; elsewhere this only waits."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.proc: subprocess.Popen[bytes] | None = None
        self.received: list[int] = []
        self.previous: dict[signal.Signals, Any] = {}
        self._blocked = False

    def __enter__(self) -> _Supervisor:
        if threading.current_thread() is threading.main_thread():
            signal.pthread_sigmask(signal.SIG_BLOCK, _FORWARDED)
            self._blocked = True
            for sig in _FORWARDED:
                self.previous[sig] = signal.signal(sig, self._forward)
        return self

    def _forward(self, signum: int, frame: object) -> None:
        if self.previous.get(signal.Signals(signum)) == signal.SIG_IGN:
            return   # ignored before restic started (nohup): stay ignored
        self.received.append(signum)
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)

    def _unblock(self) -> None:
        if self._blocked:
            self._blocked = False
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _FORWARDED)   # pending ones run now

    def supervise(self, proc: subprocess.Popen[bytes]) -> None:
        """Restic runs: forward the signals to it from now on (and any that came meanwhile)."""
        self.proc = proc
        self._unblock()

    def wait(self, timeout: float, where: str) -> None:
        """Wait for restic; a forwarded signal gives it INTERRUPT_GRACE_S to remove its lock."""
        assert self.proc is not None
        proc = self.proc
        deadline = time.monotonic() + timeout
        grace_until: float | None = None
        timed_out = False
        while True:
            try:
                proc.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                now = time.monotonic()
                if self.received and grace_until is None:
                    grace_until = now + INTERRUPT_GRACE_S
                if now > deadline or (grace_until is not None and now > grace_until):
                    timed_out = not self.received
                    _kill_group(proc)
        if timed_out:
            raise ChildTimeout(f"{where}: restic {self.command} timed out")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._unblock()   # the spawn failed: a signal received meanwhile is recorded now
            if self.proc is not None and self.proc.returncode is None:
                _stop_gracefully(self.proc)   # an exception while restic ran
        finally:
            for sig, handler in self.previous.items():
                signal.signal(sig, handler)
        if self.received:   # stop: also when restic failed or timed out meanwhile
            self._reraise()

    def _reraise(self) -> None:
        if not self.received:
            return
        # Now that restic has cleaned up, the signal reaches whoever handled it before us
        # (the CLI and the scheduler raise KeyboardInterrupt; so does Python's SIGINT default).
        handler = self.previous.get(signal.Signals(self.received[0]))
        if callable(handler):
            handler(self.received[0], None)
        else:
            raise KeyboardInterrupt(f"signal {self.received[0]} while restic {self.command} ran")


def _stop_gracefully(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT (restic removes its lock), then SIGKILL after INTERRUPT_GRACE_S; reaps it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=INTERRUPT_GRACE_S)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.wait()


def is_restic(pid: int) -> bool:
    """Whether ``pid`` is a restic process on this host (Linux ``/proc``; elsewhere False)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip() == "restic"
    except OSError:
        return False


def mkdir_private(path: Path) -> None:
    """Create ``path`` and every missing parent 0700 (``mkdir(parents=True)`` would give the
    parents — the state directory itself — the umask's 0755)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
