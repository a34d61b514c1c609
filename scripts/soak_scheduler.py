"""Soak the scheduler tests: run them N times in a row beside CPU-bound processes, record it.

    python3 scripts/soak_scheduler.py                 # 5 runs of tests/scheduler, 2 hogs
    python3 scripts/soak_scheduler.py --runs 3 --hogs 4 -- -k restart

Starts ``--hogs`` busy loops (``python3 -c "while True: pass"``), runs ``pytest <paths>`` ``--runs``
times one after the other, stops the loops whatever happens, and writes the outcome (pass/fail per
run, failed tests, durations, the load average seen) as Markdown (``--out``) and JSON
(``--json-out``). Needs only Python and the project's pytest; exit code 0 when every run passed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
HOG = "while True: pass"


@dataclass
class Run:
    """One pytest run of the soak."""

    number: int
    exit_code: int
    seconds: float
    tests: int
    failures: list[str]
    load_min: float
    load_mean: float
    load_max: float

    @property
    def passed(self) -> bool:
        """True when pytest exited 0 (every test passed)."""
        return self.exit_code == 0


@dataclass
class Soak:
    """The whole soak: its settings and its runs."""

    paths: list[str]
    hogs: int
    cpus: int
    started: str
    host: str
    runs: list[Run] = field(default_factory=list)
    finished: str = ""
    interrupted: int | None = None
    """The run during which the soak was stopped (that run is not counted)."""
    hog_pids: list[int] = field(default_factory=list)

    def streak(self) -> int:
        """The longest run of consecutive passing runs."""
        best = current = 0
        for run in self.runs:
            current = current + 1 if run.passed else 0
            best = max(best, current)
        return best


class LoadSampler:
    """Samples the 1-minute load average every few seconds while a run is going."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> tuple[float, float, float]:
        """(min, mean, max) of the samples."""
        s = self.samples or [os.getloadavg()[0]]
        return min(s), sum(s) / len(s), max(s)


def start_hogs(count: int) -> list[subprocess.Popen[bytes]]:
    """Start ``count`` CPU-bound busy loops, each in its own process group."""
    return [subprocess.Popen([sys.executable, "-c", HOG], start_new_session=True,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            for _ in range(count)]


def stop_hogs(hogs: list[subprocess.Popen[bytes]]) -> None:
    """Stop the busy loops started by ``start_hogs`` (SIGTERM, then SIGKILL)."""
    for hog in hogs:
        if hog.poll() is None:
            hog.terminate()
    for hog in hogs:
        try:
            hog.wait(timeout=10)
        except subprocess.TimeoutExpired:
            hog.kill()
            hog.wait()


def stop_group(proc: subprocess.Popen[bytes], grace: float = 120) -> None:
    """Interrupt pytest like Ctrl-C, give it ``grace`` seconds, then kill what is left of it."""
    try:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def failures_from(junit: Path) -> tuple[int, list[str]]:
    """The number of tests and the ids of the failed or errored ones, from a JUnit XML file."""
    if not junit.exists() or junit.stat().st_size == 0:
        return 0, []
    tree = ET.parse(junit)
    count, failed = 0, []
    for case in tree.iter("testcase"):
        count += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(f"{case.get('classname', '')}::{case.get('name', '')}")
    return count, failed


def run_once(number: int, pytest: list[str], paths: list[str], extra: list[str],
             log_dir: Path) -> Run:
    """One pytest run; its output goes to ``log_dir/run-<n>.log``."""
    junit = log_dir / f"run-{number}.xml"
    logfile = log_dir / f"run-{number}.log"
    cmd = [*pytest, "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *paths, *extra]
    start = time.monotonic()
    with LoadSampler() as load, logfile.open("w") as out:
        # Its own process group: when the soak is stopped, pytest gets SIGINT and runs its
        # clean-ups (tests stop the daemons and servers they started); then the group goes.
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            stop_group(proc)
            raise
    seconds = time.monotonic() - start
    tests, failed = failures_from(junit)
    low, mean, high = load.summary()
    return Run(number, code, round(seconds, 1), tests, failed, round(low, 2), round(mean, 2),
               round(high, 2))


def markdown(soak: Soak) -> str:
    """The soak as a Markdown page."""
    lines = [
        "# Scheduler soak",
        "",
        f"`python3 scripts/soak_scheduler.py` ran `pytest {' '.join(soak.paths)}` "
        f"{len(soak.runs)} times in a row beside {soak.hogs} CPU-bound processes "
        f"(`python3 -c \"{HOG}\"`) on {soak.host} ({soak.cpus} CPUs), "
        f"from {soak.started} to {soak.finished}.",
        "",
        f"**{sum(r.passed for r in soak.runs)} of {len(soak.runs)} runs passed; "
        f"longest streak of consecutive passing runs: {soak.streak()}.**",
        "",
        "Load is the 1-minute load average, sampled every 5 s during the run.",
        "",
        "| run | result | tests | duration | load min | load mean | load max |",
        "|----:|:-------|------:|---------:|---------:|----------:|---------:|",
    ]
    for r in soak.runs:
        verdict = "pass" if r.passed else f"FAIL (exit {r.exit_code})"
        lines.append(f"| {r.number} | {verdict} | {r.tests} | {r.seconds:.0f} s | "
                     f"{r.load_min:.1f} | {r.load_mean:.1f} | {r.load_max:.1f} |")
    if soak.interrupted is not None:
        lines += ["", f"Stopped during run {soak.interrupted}, which is not counted."]
    failed = [r for r in soak.runs if r.failures]
    if failed:
        lines += ["", "## Failed tests", ""]
        for r in failed:
            lines += [f"- run {r.number}: `{name}`" for name in r.failures]
    return "\n".join(lines) + "\n"


def write(soak: Soak, out: Path, json_out: Path, log_dir: Path) -> None:
    """Write the soak so far as Markdown (``out``) and JSON (``json_out``)."""
    soak.finished = datetime.now(UTC).isoformat(timespec="seconds")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(soak))
    record = asdict(soak) | {"streak": soak.streak(), "logs": str(log_dir)}
    for run, row in zip(soak.runs, record["runs"], strict=True):
        row["passed"] = run.passed
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(record, indent=2) + "\n")


def _raise_on_term(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, soak, write the results; exit 0 when every run passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="pytest runs (default 5)")
    parser.add_argument("--hogs", type=int, default=2, help="CPU-bound processes (default 2)")
    parser.add_argument("--paths", nargs="+", default=["tests/scheduler"],
                        help="what pytest runs (default tests/scheduler)")
    parser.add_argument("--pytest", default=None,
                        help="the pytest to use (default .venv/bin/pytest, else python -m pytest)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "soak-scheduler.md")
    parser.add_argument("--json-out", type=Path, default=ROOT / "docs" / "soak-scheduler.json")
    parser.add_argument("--log-dir", type=Path, default=None,
                        help="where pytest's output goes (default: a new temporary folder)")
    parser.add_argument("--stop-on-failure", action="store_true",
                        help="stop after the first failing run")
    parser.add_argument("extra", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)

    venv = ROOT / ".venv" / "bin" / "pytest"
    pytest = [args.pytest] if args.pytest else [str(venv)] if venv.exists() \
        else [sys.executable, "-m", "pytest"]
    soak = Soak(paths=args.paths, hogs=args.hogs, cpus=os.cpu_count() or 1,
                started=datetime.now(UTC).isoformat(timespec="seconds"),
                host=platform.node() or "this machine")
    signal.signal(signal.SIGTERM, _raise_on_term)
    # Started in the background (``… &`` from a script), SIGINT arrives ignored; a handler
    # here gives the tests' children a default SIGINT again (exec resets handlers, not SIG_IGN).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="soak-scheduler-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    hogs: list[subprocess.Popen[bytes]] = []
    try:
        hogs = start_hogs(args.hogs)
        soak.hog_pids = [hog.pid for hog in hogs]
        for number in range(1, args.runs + 1):
            soak.interrupted = number
            run = run_once(number, pytest, args.paths, args.extra, log_dir)
            soak.interrupted = None
            soak.runs.append(run)
            write(soak, args.out, args.json_out, log_dir)   # a record even if stopped later
            print(f"run {number}/{args.runs}: {'pass' if run.passed else 'FAIL'} "
                  f"({run.tests} tests, {run.seconds:.0f} s, load {run.load_mean:.1f} mean "
                  f"{run.load_max:.1f} max)" + "".join(f"\n  failed: {f}" for f in run.failures),
                  file=sys.stderr, flush=True)
            if not run.passed and args.stop_on_failure:
                break
        soak.interrupted = None
    except KeyboardInterrupt:
        print(f"stopped during run {soak.interrupted}", file=sys.stderr)
    finally:
        stop_hogs(hogs)
        write(soak, args.out, args.json_out, log_dir)
        print(f"results: {args.out} and {args.json_out}; pytest output: {log_dir}",
              file=sys.stderr)
    complete = len(soak.runs) == args.runs and soak.interrupted is None
    return 0 if complete and all(r.passed for r in soak.runs) else 1


if __name__ == "__main__":
    sys.exit(main())
