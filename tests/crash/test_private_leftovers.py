"""No secret or CRM byte outlives its run: kill -9 of `emergency` (plaintext scratch.db) and of a
backup whose password comes from the environment; the next run of any command cleans up."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from vk_backup import FAKE_SECRET, make_config, vk, vk_json

PW_ENV = "VK_CRASH_REPO_PW"


def _config(tmp_path: Path, records: int) -> tuple[Path, dict[str, str]]:
    config = make_config(tmp_path, records=records, locations=[("nas", str(tmp_path / "nas"))])
    key = tmp_path / "secrets" / "repository.key"
    text = config.read_text().replace(f'{{ file = "{key}" }}', f'{{ env = "{PW_ENV}" }}')
    config.write_text(text)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {PW_ENV: FAKE_SECRET, "TMPDIR": str(tmp)}
    assert vk(config, "locations", "init", env=env).returncode == 0
    return config, env


def _start(config: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "vaultkeeper", "--config", str(config), *args],
                            env=dict(os.environ, **env), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True)


def _wait_for(pattern: str, root: Path, proc: subprocess.Popen[str], timeout: float = 240,
              ) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(root.glob(pattern))
        if found:
            return found[0]
        assert proc.poll() is None, "the command ended before the moment to kill it"
        time.sleep(0.02)
    raise TimeoutError(pattern)


def _holding(root: Path, needle: bytes) -> list[Path]:
    hits = []
    for path in root.rglob("*"):
        try:
            if path.is_file() and needle in path.read_bytes():
                hits.append(path)
        except OSError:
            continue
    return hits


def test_kill_9_of_emergency_leaves_nothing_after_the_next_run(tmp_path: Path) -> None:
    config, env = _config(tmp_path, records=3000)
    vk_json(config, "backup", "--no-prune", env=env)
    state = tmp_path / ".vaultkeeper"
    proc = _start(config, env, "emergency", "--out", str(tmp_path / "package"))
    scratch = _wait_for("emergency-work-*/scratch.db", state, proc)
    assert stat.S_IMODE(scratch.stat().st_mode) == 0o600
    assert stat.S_IMODE(scratch.parent.stat().st_mode) == 0o700
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(state.glob("emergency-work-*")), "nothing to clean: the kill came too late"
    assert vk(config, "status", env=env).returncode == 0       # any next command sweeps
    assert not list(state.glob("emergency-work-*"))
    assert _holding(tmp_path / "tmp", FAKE_SECRET.encode()) == []
    assert _holding(state, FAKE_SECRET.encode()) == []


def test_kill_9_during_restic_leaves_no_password_file(tmp_path: Path) -> None:
    """Before: `$TMPDIR/vk-pw-*/password` survived every kill -9 during a restic call."""
    config, env = _config(tmp_path, records=2000)
    tmp = tmp_path / "tmp"
    leftover = tmp / "vk-pw-oldvers1"       # what an older version left behind
    leftover.mkdir(mode=0o700)
    (leftover / "password").write_text(FAKE_SECRET)
    os.utime(leftover, (time.time() - 3600, time.time() - 3600))
    proc = _start(config, env, "backup", "--no-prune")
    deadline = time.monotonic() + 240
    while not any((tmp_path / "nas" / "locks").iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _holding(tmp, FAKE_SECRET.encode()) == []
    assert _holding(tmp_path / ".vaultkeeper", FAKE_SECRET.encode()) == []
    again = vk(config, "backup", "--no-prune", env=env)
    assert again.returncode == 0, again.stderr
    assert not list((tmp_path / "nas" / "locks").iterdir())


def _serve(tmp: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "vaultkeeper", "sandbox", "serve", "--port",
                             "0", "--records", "10"], env=dict(os.environ, TMPDIR=str(tmp)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)


def test_kill_9_of_a_sandbox_leaves_no_private_key_and_the_next_sandbox_sweeps(
        tmp_path: Path) -> None:
    """Before: `$TMPDIR/vaultkeeper-sandbox-*/key.pem` survived a kill -9 of any command that
    serves the built-in sandbox (backup of the demo, `emergency rehearse --into sandbox:…`)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    first = _serve(tmp)
    try:
        folder = _wait_for("vaultkeeper-sandbox-*/cert.pem", tmp, first).parent
        deadline = time.monotonic() + 60     # the key is removed once the server has loaded it
        while (folder / "key.pem").exists():
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert folder.is_dir() and not list(folder.glob("*key*"))
    other = tmp / f"other-tool-{first.pid}-0123456789ab"    # a dead pid, but not our name
    other.mkdir()
    second = _serve(tmp)
    try:
        mine = _wait_for(f"vaultkeeper-sandbox-{second.pid}-*/cert.pem", tmp, second).parent
        assert not folder.exists() and other.is_dir()
    finally:
        second.terminate()
        second.wait(timeout=60)
    assert not mine.exists()                                 # a clean stop removes its own
