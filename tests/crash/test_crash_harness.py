"""The crash-consistency harness itself, with a handful of kills: SIGKILL and SIGTERM of
`backup` and `drill` against two local folders, S3 (rclone serve s3) and REST (rclone serve
restic). The release check runs it with `--kills 50` over all four commands
(docs/reliability.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "crash_harness.py"


@pytest.mark.slow
@pytest.mark.timeout(900)   # ~3 minutes on an idle machine; generous when it is shared
def test_harness_finds_no_violation_in_a_handful_of_kills(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--kills", "2", "--commands",
                           "backup,drill", "--records", "40", "--seed", "5",
                           "--workdir", str(tmp_path / "work"), "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    result = json.loads(out.read_text())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert result["violations"] == 0
    assert {t["signal"] for t in result["trials"]} == {"SIGKILL", "SIGTERM"}
    assert result["per_command"]["backup"]["kills"] == 2
    assert result["per_command"]["drill"]["kills"] == 2
    assert all(t["next_exit"] == 0 for t in result["trials"])
    assert set(result["locations"]) == {"local-a", "local-b", "s3", "rest"}
    # the stderr tail of every killed run is kept: a SIGTERM mid-run says it was interrupted
    for t in result["trials"]:
        if t["signal"] == "SIGTERM" and t["killed_exit"] == 130:
            assert "Interrupted" in t["killed_stderr"]


@pytest.mark.slow
@pytest.mark.timeout(2400)  # set-up runs backup, drill, escrow and the daemon twice first
def test_harness_kills_the_scheduler_daemon_and_the_next_start_recovers(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--kills", "2", "--commands", "run",
                           "--records", "20", "--seed", "7",
                           "--workdir", str(tmp_path / "work"), "--out", str(out)],
                          capture_output=True, text=True, timeout=2400)
    result = json.loads(out.read_text())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert result["complete"] is True and result["violations"] == 0
    assert result["kills_done_per_command"] == {"run": 2}
    assert [t["signal"] for t in result["trials"]] == ["SIGKILL", "SIGTERM"]
    # Each killed daemon's job run ended up interrupted (or truly finished), never 'running'.
    assert all(t["job_status"] in ("interrupted", "ok", "not started", "failed", "partial")
               for t in result["trials"])
    assert all(t["next_exit"] == 0 for t in result["trials"])


def test_merged_results_count_only_the_kills_that_ran(tmp_path: Path) -> None:
    """Side-by-side runs (one command each) merge into one honest file: a part that stopped
    early keeps its real count and makes the whole incomplete."""
    def part(name: str, command: str, kills: int, complete: bool, violations: int) -> Path:
        trials = [{"command": command, "n": n, "signal": ("SIGKILL", "SIGTERM")[n % 2],
                   "delay_s": 1.0, "killed_exit": -9, "finished_before_kill": n == 0,
                   "next_exit": 0, "next_s": 1.0, "locks_after_kill": n % 2, "locks_left": 0,
                   "job_status": None, "checks_s": 1.0, "cycle_s": 10.0 + n,
                   "violations": ["x"] * (violations if n == 0 else 0)} for n in range(kills)]
        path = tmp_path / name
        path.write_text(json.dumps({
            "complete": complete, "kills_requested": 50,
            "kills_done_per_command": {command: kills}, "records": 30, "seed": 1,
            "restic_check": "--with-cache", "locations": ["local-a"], "durations_s": {},
            "elapsed_s": 100.0, "per_command": {command: {}}, "violations": violations,
            "trials": trials}))
        return path

    out = tmp_path / "merged.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--merge",
                           str(part("a.json", "backup", 3, True, 0)),
                           str(part("b.json", "drill", 2, False, 1)), "--out", str(out),
                           "--markdown", str(tmp_path / "summary.md")],
                          capture_output=True, text=True, timeout=120)
    merged = json.loads(out.read_text())
    assert done.returncode == 1                     # a violation in a part fails the merge
    assert merged["complete"] is False
    assert merged["kills_done_per_command"] == {"backup": 3, "drill": 2}
    assert merged["per_command"]["backup"]["kills"] == 3
    assert merged["per_command"]["backup"]["sigkill"] == 2
    assert merged["per_command"]["backup"]["kills_that_left_locks"] == 1
    assert merged["per_command"]["drill"]["violations"] == 1
    assert merged["violations"] == 1 and len(merged["trials"]) == 5
    summary = (tmp_path / "summary.md").read_text()
    assert "INCOMPLETE" in summary and "backup 3, drill 2" in summary
    assert "| drill | 2 |" in summary and "- drill #0: x" in summary


def test_parts_of_one_command_add_up(tmp_path: Path) -> None:
    """A command continued in a second part (another seed, the same commit) counts the kills of
    both parts; the whole is complete once every command reached the kills requested."""
    def part(name: str, kills: int, requested: int) -> Path:
        trials = [{"command": "escrow", "n": n, "signal": ("SIGKILL", "SIGTERM")[n % 2],
                   "delay_s": 1.0, "killed_exit": -9, "finished_before_kill": False,
                   "next_exit": 0, "next_s": 1.0, "locks_after_kill": 0, "locks_left": 0,
                   "job_status": None, "checks_s": 1.0, "cycle_s": 10.0,
                   "violations": []} for n in range(kills)]
        path = tmp_path / name
        path.write_text(json.dumps({
            "complete": True, "kills_requested": requested,
            "kills_done_per_command": {"escrow": kills}, "records": 30, "seed": kills,
            "restic_check": "--with-cache", "locations": ["local-a"], "durations_s": {},
            "elapsed_s": 100.0, "commit": "abc1234", "per_command": {"escrow": {}},
            "violations": 0, "trials": trials}))
        return path

    out = tmp_path / "merged.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--merge", str(part("a.json", 3, 5)),
                           str(part("b.json", 2, 2)), "--out", str(out),
                           "--markdown", str(tmp_path / "summary.md")],
                          capture_output=True, text=True, timeout=120)
    merged = json.loads(out.read_text())
    assert done.returncode == 0, done.stderr
    assert merged["kills_done_per_command"] == {"escrow": 5}
    assert merged["complete"] is True and merged["kills_requested"] == 5
    assert merged["per_command"]["escrow"]["kills"] == 5
    assert merged["commits"] == {"escrow": "abc1234"}
    summary = (tmp_path / "summary.md").read_text()
    assert "escrow 5 (complete)" in summary and "| escrow | 5 |" in summary


def test_a_sigterm_death_counts_as_before_start_only_without_any_trace(tmp_path: Path) -> None:
    """Exit -15 is excused only when the run printed nothing and changed no file; any output
    or any file touched makes it a violation (vaultkeeper had started and did not unwind)."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from crash_checks import before_start
    finally:
        sys.path.remove(str(SCRIPT.parent))
    files = {"/s/state.db": (100, 1), "/s/loc/a/config": (10, 2)}
    assert before_start(-15, "", files, dict(files))
    assert not before_start(-15, "Traceback (most recent call last):\n", files, dict(files))
    assert not before_start(-15, "", files, {**files, "/s/state.db": (100, 5)})
    assert not before_start(-15, "", files, {**files, "/s/tmp/vk-x": (0, 3)})
    assert not before_start(-15, "", files, {"/s/state.db": (100, 1)})
    assert not before_start(-2, "", files, dict(files))
    assert not before_start(130, "", files, dict(files))


def test_an_interrupted_harness_takes_its_run_with_it(tmp_path: Path) -> None:
    """Ctrl-C of the harness while it waits to kill a run must not leave that run working."""
    import signal

    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from crash_checks import Trial
        from crash_trials import kill_after
    finally:
        sys.path.remove(str(SCRIPT.parent))

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # the normal path: the run is killed after the delay and reaped
    run = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    trial = Trial("backup", 0, "SIGTERM", 0.2)
    kill_after(run, 0.2, signal.SIGTERM, trial)
    assert trial.killed_exit == -signal.SIGTERM and not trial.finished_before_kill
    # the harness interrupted while it waits: the run dies with it
    run = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    old = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(KeyboardInterrupt):
            kill_after(run, 60, signal.SIGTERM, Trial("backup", 1, "SIGTERM", 60))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert run.poll() == -signal.SIGKILL    # killed and reaped, not left to run for 2 minutes
