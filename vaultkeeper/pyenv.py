"""Python packaging for escrow deposits: build vaultkeeper's wheel, and make a clean venv with
a deposited wheel installed (level-3 verification). The one place besides restic/ and
config.py that runs programs; no secret is ever passed to them."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess  # noqa: TID251 -- pip and python -m venv have no Python API
import sys
from collections.abc import Sequence
from pathlib import Path

from vaultkeeper.errors import VaultkeeperError


class PythonEnvError(VaultkeeperError):
    """pip or venv failed."""


def project_root() -> Path | None:
    """The source tree vaultkeeper runs from (None when installed from a wheel)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def _run(argv: Sequence[str], *, timeout: float, cwd: Path | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              cwd=cwd, env=env, check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise PythonEnvError(f"`{' '.join(argv[:4])}…` did not finish within {timeout:.0f} s",
                             "retry; check the network if pip downloads packages") from None
    return done


_WHEEL_INPUTS = ("pyproject.toml", "README.md", "LICENSE", "setup.cfg", "setup.py",
                 "MANIFEST.in")


def source_digest(root: Path) -> str:
    """SHA-256 over every file that goes into the wheel (the package folder without byte code,
    pyproject.toml, README.md, ...): the same digest, the same wheel."""
    digest = hashlib.sha256()
    files = [root / name for name in _WHEEL_INPUTS if (root / name).is_file()]
    files += sorted(p for p in (root / "vaultkeeper").rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def build_wheel(out: Path, cache: Path | None = None) -> Path:
    """``pip wheel --no-deps`` of the running vaultkeeper into ``out``; the wheel's path.

    With ``cache`` (a private folder), a wheel built from exactly the same source files
    (``source_digest``) is copied from there instead: pip's isolated build fetches setuptools
    on every call (minutes on a loaded machine), and an unchanged tree gives the same wheel."""
    root = project_root()
    if root is None:
        raise PythonEnvError("vaultkeeper is not running from its source tree, so its wheel "
                             "cannot be built", "run the deposit from a source checkout")
    key = source_digest(root) if cache is not None else ""
    if cache is not None:
        hits = sorted((cache / key).glob("vaultkeeper-*.whl"))
        if hits:
            out.mkdir(parents=True, exist_ok=True)
            return Path(shutil.copy2(hits[-1], out / hits[-1].name))
    wheel = _pip_wheel(root, out)
    if cache is not None:
        _remember_wheel(cache, key, wheel)
    return wheel


def _remember_wheel(cache: Path, key: str, wheel: Path) -> None:
    """Store ``wheel`` under ``cache/key`` (atomically: a half-copied wheel is never a hit);
    entries of other source trees are dropped."""
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    cache.chmod(0o700)
    staging = cache / f".{key}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    shutil.copy2(wheel, staging / wheel.name)
    try:
        staging.rename(cache / key)
    except OSError:     # another deposit stored it first
        shutil.rmtree(staging, ignore_errors=True)
    for entry in cache.iterdir():
        if entry.name != key and not entry.name.startswith("."):
            shutil.rmtree(entry, ignore_errors=True)


def _pip_wheel(root: Path, out: Path) -> Path:
    base = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(root), "-w", str(out)]
    # The running environment's setuptools first (offline, fast); isolation as a fallback.
    done = _run([*base, "--no-build-isolation"], timeout=600)
    if done.returncode != 0:
        done = _run(base, timeout=600)
    wheels = sorted(out.glob("vaultkeeper-*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise PythonEnvError(f"building the vaultkeeper wheel failed: {last[:200]}",
                             "run `python -m pip wheel --no-deps . -w dist` in the source tree")
    return wheels[-1]


def make_venv(folder: Path, wheel: Path, *, timeout: float = 900) -> Path:
    """A new venv in ``folder`` with ``wheel`` installed (dependencies from the package index
    or pip's cache); returns its ``vaultkeeper`` program."""
    done = _run([sys.executable, "-m", "venv", str(folder)], timeout=300)
    if done.returncode != 0:
        raise PythonEnvError(f"python -m venv failed: {done.stderr.strip()[-200:]}",
                             "install the python3-venv package")
    python = folder / "bin" / "python"
    done = _run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                 str(wheel)], timeout=timeout)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise PythonEnvError(f"installing the deposited wheel failed: {last[:200]}",
                             "check the network (pip fetches its dependencies)")
    return folder / "bin" / "vaultkeeper"


def run_program(argv: Sequence[str], *, timeout: float, cwd: Path | None = None,
                env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run a program of the clean venv; (exit code, stdout, stderr)."""
    done = _run(argv, timeout=timeout, cwd=cwd, env=env)
    return done.returncode, done.stdout, done.stderr
