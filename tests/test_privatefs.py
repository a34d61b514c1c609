"""privatefs: 0600 files, private folders cleaned on exit, SIGTERM and — after kill -9 — by the
next run of any command; the run and daemon locks."""

from __future__ import annotations

import fcntl
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from vk_backup import make_config, vk

from vaultkeeper import privatefs
from vaultkeeper.errors import AlreadyRunning, DaemonRunning


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _wait(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_write_private_is_0600_atomic_and_exclusive_never_replaces(tmp_path: Path) -> None:
    target = tmp_path / "secret.txt"
    privatefs.write_private(target, "one\n")
    assert target.read_text() == "one\n" and _mode(target) == 0o600
    privatefs.write_private(target, b"two\n")
    assert target.read_bytes() == b"two\n" and _mode(target) == 0o600
    with pytest.raises(FileExistsError):
        privatefs.write_private(target, "three\n", exclusive=True)
    assert target.read_text() == "two\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.txt"]   # no temp file left


def test_open_private_and_touch_private_make_0600_files(tmp_path: Path) -> None:
    with privatefs.open_private(tmp_path / "a.part") as handle:
        handle.write(b"x")
    with privatefs.open_private(tmp_path / "b.txt", "w", exclusive=True) as handle:
        handle.write("é")
    privatefs.touch_private(tmp_path / "c.db")
    assert [_mode(tmp_path / n) for n in ("a.part", "b.txt", "c.db")] == [0o600] * 3
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "é"
    with pytest.raises(FileExistsError):
        privatefs.open_private(tmp_path / "b.txt", exclusive=True)


_PROBE = ("import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_RDWR)\n"
          "try:\n    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
          "except OSError:\n    sys.exit(3)\n")


def test_touch_private_leaves_an_existing_file_and_its_posix_locks_alone(tmp_path: Path) -> None:
    # SQLite locks state.db with POSIX locks; closing ANY descriptor of the file in the same
    # process drops them, so touching an open database must not open it.
    path = tmp_path / "state.db"
    path.write_bytes(b"x")
    path.chmod(0o644)
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        privatefs.touch_private(path)
        probe = subprocess.run([sys.executable, "-c", _PROBE, str(path)], timeout=60)
        assert probe.returncode == 3, "touch_private dropped this process's lock"
    finally:
        os.close(fd)
    assert _mode(path) == 0o644 and path.read_bytes() == b"x"


def test_private_workdir_is_0700_and_removed_on_exit_and_on_error(tmp_path: Path) -> None:
    with privatefs.private_workdir(tmp_path, "work") as work:
        assert _mode(work) == 0o700
        assert work.name.startswith(f"work-{os.getpid()}-")
        (work / "data.csv").write_text("plaintext")
    assert not work.exists()
    with pytest.raises(RuntimeError), privatefs.private_workdir(tmp_path, "work") as work:
        raise RuntimeError("boom")
    assert not work.exists()


_HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from vaultkeeper import privatefs
    parent = Path(sys.argv[1])
    cm = (privatefs.private_staging(parent, "staging") if sys.argv[2] == "staging"
          else privatefs.private_workdir(parent, "emergency-run"))
    with cm as work:
        (work / "contacts.ndjson").write_text("plaintext")
        print(work, flush=True)
        time.sleep(600)
""")


def _holder(parent: Path, kind: str) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(parent), kind],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line, "the holder did not start"
    return proc, Path(line)


@pytest.mark.parametrize("kind", ["workdir", "staging"])
def test_sigterm_removes_the_folder(tmp_path: Path, kind: str) -> None:
    proc, work = _holder(tmp_path, kind)
    assert (work / "contacts.ndjson").exists()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert not work.exists()


def test_kill_9_leftovers_are_swept_but_a_live_owner_keeps_its_folder(tmp_path: Path) -> None:
    dead, dead_work = _holder(tmp_path, "workdir")
    dead_staging_proc, dead_staging = _holder(tmp_path, "staging")
    live, live_work = _holder(tmp_path / "other", "workdir")
    try:
        for proc in (dead, dead_staging_proc):
            proc.kill()
            proc.wait(timeout=60)
        assert dead_work.exists() and dead_staging.exists()      # SIGKILL cannot be caught
        removed = privatefs.sweep_leftovers(tmp_path)
        assert sorted(removed) == sorted([dead_work, dead_staging.parent])
        assert not dead_work.exists() and not dead_staging.parent.exists()
        assert privatefs.sweep_leftovers(tmp_path / "other") == []
        assert (live_work / "contacts.ndjson").exists()
        (tmp_path / "mirror").mkdir()                       # not a private folder: kept
        assert privatefs.sweep_leftovers(tmp_path) == []
    finally:
        live.kill()
        live.wait(timeout=60)


def test_the_next_run_of_any_command_removes_kill_9_leftovers(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    state = tmp_path / ".vaultkeeper"
    proc, work = _holder(state, "workdir")
    proc.kill()
    proc.wait(timeout=60)
    assert work.exists()
    result = vk(config, "status")     # reads the state database only: no restic, no export
    assert result.returncode == 0, result.stderr
    assert not work.exists()


def test_run_lock_and_daemon_lock_refuse_a_second_holder(tmp_path: Path) -> None:
    code = textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from vaultkeeper import privatefs
        with privatefs.run_lock(Path(sys.argv[1])), privatefs.daemon_lock(Path(sys.argv[1])):
            print("held", flush=True)
            time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunning, match=f"pid {proc.pid}"), \
                privatefs.run_lock(tmp_path):
            pass
        with pytest.raises(DaemonRunning, match=f"pid {proc.pid}"), \
                privatefs.daemon_lock(tmp_path):
            pass
        assert privatefs.daemon_pid(tmp_path) == proc.pid
    finally:
        proc.kill()
        proc.wait(timeout=60)
    _wait(lambda: privatefs.daemon_pid(tmp_path) is None, "the lock to free itself")
    with privatefs.run_lock(tmp_path):
        pass
