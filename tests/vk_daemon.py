"""Helpers for scheduler tests: job runs from the state DB, starting `vaultkeeper run`."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def _job_runs(root: Path, job: str | None = None) -> list[tuple[str, str, str]]:
    path = root / ".vaultkeeper" / "state.db"
    if not path.exists():
        return []
    db = sqlite3.connect(path)
    try:
        if not db.execute("select 1 from sqlite_master where name = 'job_runs'").fetchone():
            return []
        rows = db.execute("select job, status, reason from job_runs order by id").fetchall()
    finally:
        db.close()
    return [r for r in rows if job is None or r[0] == job]


def _start(config: Path, root: Path, *args: str) -> subprocess.Popen[str]:
    log = open(root / "daemon.err", "a")  # noqa: SIM115 -- closed with the process
    return subprocess.Popen([sys.executable, "-m", "vaultkeeper", "--config", str(config), "run",
                             "--tick", "0.5", *args], stdout=log, stderr=log, text=True)


def _wait(predicate, timeout: float = 900, what: str = "") -> None:
    # Generous on purpose: the scheduler's real jobs (restic, the sandbox) run many times slower
    # on a busy machine; a wait is a bound on a hang, not a performance assertion.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


