"""Crash harness, the checks run after every kill (see crash_harness.py for the list).

``Checks`` is mixed into ``crash_trials.Harness``: it reads the locations, the state folder and
TMPDIR the harness set up, with plain restic and read-only SQLite, as an outsider would."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PASSWORD = "VK-HARNESS-PW-3c9e77d1"
S3_KEY, S3_SECRET = "vk-harness-key", "vk-harness-s3-secret-51af"
ESCROW_PASSWORD = "vk-harness-escrow-pw-0b2d"
COMMANDS = ("backup", "drill", "emergency", "escrow", "run")
EMAIL = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
SKIP_SCAN = ("mirror", "cache")      # private by design: the verified mirror, restic's cache


@dataclass
class Trial:
    """One kill and what the checks found afterwards."""

    command: str
    n: int
    signal: str
    delay_s: float
    killed_exit: int | None = None
    finished_before_kill: bool = False
    killed_before_start: bool = False
    """SIGTERM killed the interpreter before vaultkeeper installed its handler, and the run
    left no trace at all (no output, no file changed in the state folder, TMPDIR, the output
    folder or any location) — counted apart, not a kill of vaultkeeper's work."""
    killed_stderr: str = ""
    next_exit: int | None = None
    next_s: float = 0.0
    locks_after_kill: int = 0
    locks_left: int = 0
    job_status: str | None = None
    checks_s: float = 0.0
    cycle_s: float = 0.0
    violations: list[str] = field(default_factory=list)


def before_start(exit_code: int | None, stderr: str, before: dict[str, tuple[int, int]],
                 after: dict[str, tuple[int, int]]) -> bool:
    """A SIGTERM that ended the interpreter before vaultkeeper had a handler (exit -15) and
    left no trace: no output and not one file added, removed or changed."""
    return exit_code == -15 and not stderr and before == after


class Checks:
    """The checks; the attributes are set by ``crash_trials.Harness``."""

    root: Path
    tmp: Path
    state: Path
    repos: dict[str, str]
    s3_port: int
    emails: set[bytes]
    check_cache: bool

    def vk(self, args: list[str], timeout: float | None = None
           ) -> subprocess.CompletedProcess[str]:
        """Run the real CLI to completion (``Harness`` implements it)."""
        raise NotImplementedError

    def footprint(self, out: Path) -> dict[str, tuple[int, int]]:
        """Size and mtime of every file a run could write: the state folder, TMPDIR, the
        locations and ``out`` (a run that wrote nothing leaves this unchanged)."""
        roots = [self.state, self.tmp, out, self.root / "loc", self.root / "s3",
                 self.root / "rest"]
        seen: dict[str, tuple[int, int]] = {}
        for root in roots:
            if not root.exists():
                continue
            for path in [root, *root.rglob("*")]:
                with contextlib.suppress(OSError):
                    info = path.lstat()
                    seen[str(path)] = (info.st_size, info.st_mtime_ns)
        return seen

    def restic(self, url: str, *args: str, password: str = PASSWORD,
               timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Plain restic against one repository (as an outsider would run it)."""
        opts = ["-o", "s3.bucket-lookup=path"] if url.startswith("s3:") else []
        env = dict(os.environ, RESTIC_REPOSITORY=url, RESTIC_PASSWORD=password,
                   AWS_ACCESS_KEY_ID=S3_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET,
                   RESTIC_CACHE_DIR=str(self.root / "harness-cache"))
        return subprocess.run(["restic", *opts, *args], capture_output=True, text=True,
                              env=env, timeout=timeout)

    def locks(self) -> dict[str, list[str]]:
        """Lock ids per location (``list locks --no-lock``)."""
        def one(name: str, url: str) -> list[str]:
            done = self.restic(url, "list", "locks", "--no-lock")
            return done.stdout.split() if done.returncode == 0 else [f"error:{name}"]

        names = list(self.repos)
        return dict(zip(names, parallel([functools.partial(one, n, self.repos[n])
                                          for n in names]), strict=True))

    def restic_checks(self) -> list[str]:
        """``restic check`` everywhere (and the escrow repository once it exists)."""
        bad = []
        targets = dict(self.repos)
        escrow = f"s3:http://127.0.0.1:{self.s3_port}/escrow-bucket/deposit"
        if any((self.root / "s3" / "escrow-bucket").glob("deposit/config")):
            targets["escrow"] = escrow
        # --with-cache (restic 0.14): reuse the harness's own cache of index and snapshot
        # files instead of a fresh temporary one. Every pack header and the structure are still
        # read from the repository; --full-check-every re-checks with a fresh cache.
        extra = ("--with-cache",) if self.check_cache else ()

        def one(name: str, url: str) -> str | None:
            password = ESCROW_PASSWORD if name == "escrow" else PASSWORD
            done = self.restic(url, "check", *extra, password=password)
            if done.returncode != 0:
                return f"restic check at {name} failed: {done.stderr.strip()[-300:]}"
            return None

        results = parallel([functools.partial(one, n, u) for n, u in targets.items()])
        bad += [r for r in results if r]
        return bad

    def scan_plaintext(self) -> list[str]:
        """No e-mail address of the sandbox and no password in TMPDIR or the state folder
        (outside the mirror and restic's cache), and no leftover private work folder."""
        bad = []
        for root in (self.tmp, self.state):
            for path in files_under(root):
                rel = path.relative_to(root)
                if root == self.state and rel.parts[0] in SKIP_SCAN:
                    continue
                try:
                    data = path.read_bytes()
                except OSError:
                    continue
                if PASSWORD.encode() in data or S3_SECRET.encode() in data:
                    bad.append(f"secret in {path}")
                leaked = set(EMAIL.findall(data)) & self.emails
                if leaked:
                    bad.append(f"{len(leaked)} CRM e-mail address(es) in {path}")
        for folder in self.state.glob("*-work-*") if self.state.exists() else []:
            bad.append(f"private work folder of a dead process left: {folder.name}")
        mirror = self.state / "mirror"
        if mirror.exists() and mirror.stat().st_mode & 0o077:
            bad.append(f"{mirror} is not private (mode {mirror.stat().st_mode & 0o777:o})")
        return bad

    def check_records(self) -> list[str]:
        """What the state database calls successful must be true."""
        bad = []
        db = sqlite3.connect(f"file:{self.state / 'state.db'}?mode=ro", uri=True)
        db.row_factory = sqlite3.Row
        try:
            run = db.execute("select id from backup_runs where status = 'ok' "
                             "order by id desc limit 1").fetchone()
            if run is not None:
                rows = db.execute("select location, snapshot_id from backup_locations where "
                                  "run_id = ? and result = 'ok'", (run["id"],)).fetchall()
                locations = sorted({row["location"] for row in rows})
                ids = dict(zip(locations, parallel(
                    [functools.partial(self.snapshot_ids, self.repos[loc])
                     for loc in locations]), strict=True))
                for row in rows:
                    held = ids[row["location"]]
                    if row["snapshot_id"] not in held:
                        bad.append(f"run {run['id']} recorded ok at {row['location']} but "
                                   f"snapshot {row['snapshot_id'][:8]} is not there")
            tables = {r[0] for r in db.execute("select name from sqlite_master")}
            drill = db.execute("select snapshot_id from drills where result = 'verified' "
                               "order by id desc limit 1").fetchone() \
                if "drills" in tables else None    # a backup-only campaign never drills
        finally:
            db.close()
        mirror = self.state / "mirror" / "mirror.db"
        if drill is not None and mirror.exists():
            m = sqlite3.connect(f"file:{mirror}?mode=ro", uri=True)
            try:
                info = dict(m.execute("select key, value from _mirror_info").fetchall())
            finally:
                m.close()
            if info.get("snapshot_id") != drill["snapshot_id"]:
                bad.append(f"mirror.db holds snapshot {str(info.get('snapshot_id'))[:8]}, the "
                           f"newest verified drill {drill['snapshot_id'][:8]}")
        return bad

    def snapshot_ids(self, url: str) -> set[str]:
        """Ids and originals of the snapshots at ``url``."""
        done = self.restic(url, "snapshots", "--json", "--no-lock")
        if done.returncode != 0:
            return set()
        snaps = json.loads(done.stdout or "[]") or []
        return {s["id"] for s in snaps} | {s["original"] for s in snaps if s.get("original")}

    def escrow_verified(self) -> list[str]:
        """The newest deposit must pass ``escrow verify --level 1``."""
        done = self.vk(["escrow", "verify", "--level", "1"])
        return [] if done.returncode == 0 else [
            f"escrow verify --level 1 failed ({done.returncode}): {done.stderr[-300:]}"]

    def check_daemon(self, killed_pid: int, trial: Trial) -> list[str]:
        """After a killed ``vaultkeeper run``, the next start recovered: no job run is left
        ``running``, the killed one is ``interrupted`` (or truly finished), never a false ok."""
        bad = []
        db = sqlite3.connect(f"file:{self.state / 'state.db'}?mode=ro", uri=True)
        db.row_factory = sqlite3.Row
        try:
            running = db.execute("select id, pid from job_runs where status = 'running'"
                                 ).fetchall()
            killed = db.execute("select * from job_runs where pid = ? order by id desc limit 1",
                                (killed_pid,)).fetchone()
            newest = db.execute("select * from job_runs order by id desc limit 1").fetchone()
            backups = db.execute("select started_at, status from backup_runs "
                                 "order by id").fetchall()
        finally:
            db.close()
        bad += [f"job run {r['id']} (pid {r['pid']}) still 'running' after the next start"
                for r in running]
        if killed is None:      # killed before it recorded its job: nothing claimed
            trial.job_status = "not started"
        else:
            trial.job_status = killed["status"]
        if killed is not None and killed["status"] == "ok":
            made = [b for b in backups if b["started_at"] >= killed["started_at"]
                    and b["status"] == "ok"]
            if not made:
                bad.append(f"killed daemon's job run {killed['id']} recorded ok but no backup "
                           "run since it started is ok")
        elif killed is not None and killed["status"] not in ("interrupted", "failed",
                                                             "partial"):
            bad.append(f"killed daemon's job run {killed['id']} left as {killed['status']!r}")
        if newest is None or newest["status"] != "ok" or newest["pid"] == killed_pid:
            bad.append("the next `vaultkeeper run --once` did not record its backup job ok "
                       f"({dict(newest) if newest else None})")
        return bad

    def check_killed_output(self, command: str, tag: str, trial: Trial) -> None:
        """A killed emergency must not leave a package that looks complete but is not."""
        out = self.root / "out" / tag
        if command == "emergency" and (out / "package.json").exists():
            done = self.vk(["emergency", "verify", str(out)])
            if done.returncode != 0:
                trial.violations.append(f"killed emergency left {out.name} with package.json "
                                        f"that fails `emergency verify` ({done.returncode})")
        shutil.rmtree(out, ignore_errors=True)


def parallel(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run independent calls side by side (threads waiting on subprocesses); results in order."""
    if not calls:
        return []
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [f.result() for f in [pool.submit(c) for c in calls]]


def files_under(root: Path) -> Iterator[Path]:
    if not root.exists():
        return
    for path in root.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                yield path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
