"""A real Tryton 8.2 server for tests: cached virtualenv, cached template database, free port.

The virtualenv (``trytond``, ``trytond-party``, ``trytond-party-relationship``,
``trytond-sale-opportunity``, ``proteus`` from PyPI) and a template SQLite database with those
modules activated are built once under ``$VAULTKEEPER_TEST_CACHE`` (default
``~/.cache/vaultkeeper-test``) and reused; each test copies the template and starts its own
``trytond`` on 127.0.0.1. The admin password reaches trytond-admin through TRYTONPASSFILE.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

PACKAGES = ("trytond~=8.2.1", "trytond-party~=8.2.0", "trytond-party-relationship~=8.2.0",
            "trytond-sale-opportunity~=8.2.0", "proteus~=8.2.0")
MODULES = ("party", "sale_opportunity", "party_relationship")
ADMIN_PASSWORD = "rehearsal-admin"
STAMP = "tryton-8.2-v1"


def cache_dir() -> Path:
    """Where the virtualenv and the template live."""
    root = os.environ.get("VAULTKEEPER_TEST_CACHE") or str(Path.home() / ".cache" /
                                                          "vaultkeeper-test")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def venv() -> Path:
    """The Tryton virtualenv (created on first use)."""
    root = cache_dir()
    env = root / "tryton-venv"
    with _locked(root / "tryton-venv.lock"):
        stamp = env / ".vaultkeeper-stamp"
        if not (stamp.is_file() and stamp.read_text() == STAMP):
            shutil.rmtree(env, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
            subprocess.run([str(env / "bin" / "python"), "-m", "pip", "install", "-q",
                            *PACKAGES], check=True, timeout=1200)
            stamp.write_text(STAMP)
    return env


def _config(folder: Path, port: int) -> Path:
    conf = folder / "trytond.conf"
    conf.write_text(f"[database]\nuri = sqlite://\npath = {folder}\n\n"
                    f"[web]\nlisten = 127.0.0.1:{port}\n\n[session]\nmax_attempt = 1000\n",
                    encoding="utf-8")
    return conf


def _passfile(folder: Path) -> Path:
    path = folder / "admin.pass"
    path.write_text(ADMIN_PASSWORD + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def template() -> Path:
    """A SQLite database with party, sale_opportunity and party_relationship activated."""
    env = venv()
    root = cache_dir()
    db = root / "tryton-template" / "template.sqlite"
    with _locked(root / "tryton-template.lock"):
        if db.is_file() and (db.parent / STAMP).is_file():
            return db
        shutil.rmtree(db.parent, ignore_errors=True)
        db.parent.mkdir(parents=True)
        work = db.parent / "build"
        work.mkdir()
        (work / "template.sqlite").touch()
        conf = _config(work, free_port())
        subprocess.run([str(env / "bin" / "trytond-admin"), "-c", str(conf), "-d", "template",
                        "--all", "-u", *MODULES, "--activate-dependencies",
                        "--email", "admin@example.org"],
                       check=True, timeout=1200, capture_output=True,
                       env=dict(os.environ, TRYTONPASSFILE=str(_passfile(work))))
        (work / "template.sqlite").rename(db)
        shutil.rmtree(work)
        (db.parent / STAMP).touch()
    return db


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TrytonServer:
    """A running trytond on a copy of the template."""

    url: str
    database: str
    user: str
    password_file: Path
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after a grace period)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)


def start(folder: Path, database: str = "rehearsal") -> TrytonServer:
    """Copy the template into ``folder`` and serve it; waits until it answers a login."""
    env = venv()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template(), folder / f"{database}.sqlite")
    port = free_port()
    conf = _config(folder, port)
    log = folder / "trytond.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(env / "bin" / "trytond"), "-c", str(conf), "-d", database],
                                stdout=out, stderr=subprocess.STDOUT)
    server = TrytonServer(f"http://127.0.0.1:{port}", database, "admin", _passfile(folder),
                          proc, log)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"trytond exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            r = httpx.post(f"{server.url}/{database}/rpc/", timeout=10, json={
                "id": 1, "method": "common.db.login",
                "params": ["admin", {"password": ADMIN_PASSWORD}]})
            if r.status_code == 200 and r.json().get("result"):
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"trytond did not answer in time: {log.read_text()[-2000:]}")
