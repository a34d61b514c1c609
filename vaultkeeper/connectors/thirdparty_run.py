"""Third-party connector programs (Airbyte sources, Singer taps): their virtualenvs and runs.

The one home of ``subprocess`` among the connectors (ruff's per-file ignore in pyproject.toml,
docs/architecture.md). ``ensure_venv`` installs a pinned PyPI package into its own virtualenv
under the state directory (made once, then reused; the connectors pin conflicting libraries, so
each gets its own). ``ConnectorProcess`` runs the connector's program with a built environment,
in its own process group, tied to vaultkeeper's life (``restic.proc.die_with_parent``), its
standard output read line by line as messages arrive and its standard error kept in an unlinked
temporary file for the error message. No secret is ever on the command line: the connector's
config is a 0600 file in a private folder the caller removes (connectors/thirdparty.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from vaultkeeper.errors import ConnectorError
from vaultkeeper.privatefs import write_private
from vaultkeeper.restic.proc import die_with_parent, mkdir_private

INSTALL_TIMEOUT_S = 1800.0
MARKER = ".vaultkeeper-package"
log = logging.getLogger("vaultkeeper.thirdparty")


def venv_folder(root: Path, package: str) -> Path:
    """``root/<name>-<version>``: where ``package`` (``name==version``) is installed."""
    name, _, version = package.partition("==")
    return root / re.sub(r"[^A-Za-z0-9.]+", "-", f"{name.lower()}-{version}")


def ensure_venv(root: Path, package: str, *, python: str | None = None) -> Path:
    """The virtualenv holding ``package`` under ``root``, created and installed on first use
    (a lock keeps two vaultkeeper processes from building it at once)."""
    mkdir_private(root)
    target = venv_folder(root, package)
    marker = target / MARKER
    with open(root / f".{target.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and marker.read_text(encoding="utf-8").strip() == package:
            return target
        shutil.rmtree(target, ignore_errors=True)
        interpreter = python or sys.executable
        log.warning("installing %s into %s (first run only)", package, target)
        _install_step([interpreter, "-m", "venv", str(target)], package,
                      f"python -m venv with {interpreter} failed",
                      "install the Python interpreter named by [source] python, or remove it")
        _install_step([str(target / "bin" / "python"), "-m", "pip", "install", "-q",
                       "--disable-pip-version-check", package], package,
                      f"pip could not install {package}",
                      f"check that {package} exists on PyPI for this Python "
                      "(some connectors need [source] python = \"python3.11\") and that "
                      "this machine reaches the package index")
        write_private(marker, package + "\n")
    return target


def _install_step(argv: list[str], package: str, what: str, fix: str) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
                              stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError:
        raise ConnectorError(f"{what}: {argv[0]} not found", fix) from None
    except subprocess.TimeoutExpired:
        raise ConnectorError(f"{what}: no result within {INSTALL_TIMEOUT_S:.0f} s",
                             "retry; check the network to the package index") from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines()
                 if ln.strip() and not ln.startswith("WARNING")]
        raise ConnectorError(f"{what}: {(lines or ['(no output)'])[-1].strip()[:300]}", fix)


def program(venv: Path, executable: str | None, package: str) -> Path:
    """The connector's program in ``venv``: ``executable``, else the one its name suggests
    (``tap-pipedrive``; ``airbyte-source-pipedrive`` → ``source-pipedrive``)."""
    name = package.partition("==")[0].lower()
    candidates = [executable] if executable else [name, name.removeprefix("airbyte-")]
    for candidate in candidates:
        if candidate and (venv / "bin" / candidate).is_file():
            return venv / "bin" / candidate
    offered = sorted(p.name for p in (venv / "bin").iterdir()
                     if p.name.startswith(("source-", "tap-")))
    raise ConnectorError(f"{package} has no program {' or '.join(c for c in candidates if c)}"
                         f" (it offers: {', '.join(offered) or 'none'})",
                         "set [source] executable to the program's name")


class ConnectorProcess:
    """One run of a connector program; iterate ``lines()`` for its standard output."""

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> None:
        self.argv = list(argv)
        self._err: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        try:
            self.proc = subprocess.Popen(
                self.argv, env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=self._err, process_group=0,
                preexec_fn=functools.partial(die_with_parent, os.getpid()))
        except OSError as exc:
            self._err.close()
            raise ConnectorError(f"cannot start {self.argv[0]}: {exc.strerror}",
                                 "remove the connector's folder under the state directory "
                                 "so vaultkeeper installs it again") from None
        self.returncode: int | None = None

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.proc.pid

    def lines(self) -> Iterator[bytes]:
        """Standard output, line by line, as the connector writes it."""
        assert self.proc.stdout is not None
        yield from self.proc.stdout

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the program to exit (killed after ``timeout``); its exit code."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            self.returncode = self.proc.wait()
        return self.returncode

    def stderr_tail(self, limit: int = 20000) -> str:
        """The last ``limit`` bytes of standard error, as text."""
        with contextlib.suppress(OSError, ValueError):
            self._err.seek(0, os.SEEK_END)
            size = self._err.tell()
            self._err.seek(max(0, size - limit))
            return self._err.read().decode("utf-8", "replace")
        return ""

    def stop(self) -> None:
        """Stop the program and its children (SIGTERM, then SIGKILL after a grace period)."""
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def close(self) -> None:
        """Stop the program if it still runs and release its files."""
        self.stop()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._err.close()
