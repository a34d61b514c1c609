"""Helpers for scheduler tests: job runs from the state DB, starting `vaultkeeper run`."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
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




def far_hour() -> str:
    """A time of day ("HH:00") about 12 hours from now, for daily jobs a test runs by hand.

    A job that ran at 01:59 counts as missed at 02:00 (it catches up): with a fixed time such as
    02:00, a test spanning it fails, and on a busy machine a test's steps span minutes."""
    return f"{(datetime.now() + timedelta(hours=12)).hour:02d}:00"
