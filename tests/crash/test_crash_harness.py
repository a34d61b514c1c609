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
