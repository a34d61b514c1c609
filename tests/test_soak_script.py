"""scripts/soak_scheduler.py: runs pytest N times beside CPU hogs, stops them, records it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "soak_scheduler.py"


def _soak(tmp_path: Path, tests: str, *args: str) -> tuple[subprocess.CompletedProcess[str],
                                                           dict, str]:
    target = tmp_path / "test_target.py"
    target.write_text(tests)
    md, js = tmp_path / "soak.md", tmp_path / "soak.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--hogs", "1", "--paths", str(target),
                           "--out", str(md), "--json-out", str(js),
                           "--log-dir", str(tmp_path / "logs"), *args,
                           # Names relative to the target's folder wherever the checkout is.
                           "--", f"--rootdir={tmp_path}"],
                          capture_output=True, text=True, timeout=600)
    return done, json.loads(js.read_text()), md.read_text()


def _is_hog(pid: int) -> bool:
    try:
        return b"while True: pass" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def test_passing_runs_are_counted_and_the_hogs_stopped(tmp_path: Path) -> None:
    done, record, page = _soak(tmp_path, "def test_ok():\n    assert True\n", "--runs", "2")
    assert done.returncode == 0, done.stderr
    assert [(r["number"], r["passed"], r["tests"]) for r in record["runs"]] == [(1, True, 1),
                                                                              (2, True, 1)]
    assert record["streak"] == 2 and record["hogs"] == 1 and len(record["hog_pids"]) == 1
    assert not any(_is_hog(pid) for pid in record["hog_pids"]), "a hog outlived the soak"
    assert all(r["load_max"] >= r["load_min"] >= 0 for r in record["runs"])
    assert "**2 of 2 runs passed; longest streak of consecutive passing runs: 2.**" in page
    assert "| 2 | pass | 1 |" in page
    assert "1 passed" in (tmp_path / "logs" / "run-2.log").read_text()


def test_a_failing_run_is_named_and_fails_the_soak(tmp_path: Path) -> None:
    done, record, page = _soak(
        tmp_path, "def test_ok():\n    pass\n\ndef test_broken():\n    assert 1 == 2\n",
        "--runs", "3", "--stop-on-failure")
    assert done.returncode == 1
    assert len(record["runs"]) == 1 and record["streak"] == 0
    assert record["runs"][0]["failures"] == ["test_target::test_broken"]
    assert "FAIL (exit 1)" in page and "`test_target::test_broken`" in page
    assert not any(_is_hog(pid) for pid in record["hog_pids"])


def test_a_stopped_soak_interrupts_pytest_cleanly_and_says_so(tmp_path: Path) -> None:
    started, cleaned = tmp_path / "started", tmp_path / "cleaned"
    target = tmp_path / "test_target.py"
    target.write_text(
        "import time\nfrom pathlib import Path\n\n"
        "def test_long():\n"
        f"    Path({str(started)!r}).touch()\n"
        "    try:\n        time.sleep(600)\n"
        f"    finally:\n        Path({str(cleaned)!r}).touch()\n")
    md, js = tmp_path / "soak.md", tmp_path / "soak.json"
    soak = subprocess.Popen([sys.executable, str(SCRIPT), "--hogs", "1", "--paths", str(target),
                             "--out", str(md), "--json-out", str(js), "--log-dir",
                             str(tmp_path / "logs")], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300     # a bound on a hang: pytest starts slowly when busy
    while not started.exists():
        assert soak.poll() is None, soak.communicate()
        assert time.monotonic() < deadline, "the test never started"
        time.sleep(0.1)
    soak.send_signal(signal.SIGTERM)
    _, err = soak.communicate(timeout=300)
    assert soak.returncode == 1
    assert cleaned.exists(), "pytest was interrupted, not killed: the test's finally ran"
    record = json.loads(js.read_text())
    assert record["runs"] == [] and record["interrupted"] == 1
    assert "stopped during run 1" in err
    assert "Stopped during run 1, which is not counted." in md.read_text()
    assert not any(_is_hog(pid) for pid in record["hog_pids"])
