"""A signal that lands right after vaultkeeper spawned restic (the soak's restart race).

Before the fix, SIGTERM between ``Popen`` and the installation of signal forwarding unwound
vaultkeeper while its restic ran on unsupervised: vaultkeeper exited, restic (e.g. retention's
``forget --prune``, exclusive lock) outlived it, and the scheduler's catch-up run met its lock
("repository is already locked exclusively by PID …"). Now the signals are blocked around the
spawn and forwarded once restic is supervised, and vaultkeeper exits only after restic did.
``VAULTKEEPER_TEST_SIGNAL_AFTER_SPAWN`` makes vaultkeeper send itself the real signal in that
window. Real restic 0.14, local repository.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from vk_restic_child import CHILD

import vaultkeeper.restic as restic_mod
from vaultkeeper.config import Secret
from vaultkeeper.restic import Restic
from vaultkeeper.restic.proc import TEST_SIGNAL_ENV
from vaultkeeper.storage.locations import Location

PASSWORD = "VK-RACE-PW-3c9d0a"  # recognisable test password


def _run(tmp: Path, repo: Path, data: Path, what: str, signal_after: str = "") -> \
        subprocess.CompletedProcess[str]:
    env = dict(os.environ, VK_TEST_PW=PASSWORD, TMPDIR=str(tmp))
    env.pop(TEST_SIGNAL_ENV, None)
    if signal_after:
        env[TEST_SIGNAL_ENV] = signal_after
    return subprocess.run([sys.executable, "-c", CHILD, str(repo), str(data), what], env=env,
                          capture_output=True, text=True, timeout=600)


def _restic_running_on(repo: Path) -> list[int]:
    """restic processes (not zombies) whose repository is ``repo``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "restic":
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if state != "Z" and f"RESTIC_REPOSITORY={repo}".encode() in environ:
            found.append(int(entry.name))
    return found


def _lock_files(repo: Path) -> list[str]:
    return sorted(p.name for p in (repo / "locks").iterdir())


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path]:
    repo = tmp_path / "repo"
    data = tmp_path / "data"
    data.mkdir()
    (data / "blob.bin").write_bytes(os.urandom(8 * 1024 * 1024))
    done = _run(tmp_path, repo, data, "init")
    assert done.returncode == 0, done.stderr
    return repo, data


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("command", ["backup", "forget"])
def test_signal_right_after_spawn_waits_for_restic(tmp_path: Path, repo: tuple[Path, Path],
                                                   command: str, sig: signal.Signals) -> None:
    """The signal reaches restic (as SIGINT), vaultkeeper waits for it and exits 130; when it
    has exited no restic of its runs on, no lock is left, and the next exclusive operation
    finds nothing to clean up."""
    repo_dir, data = repo
    for _ in range(2):   # two snapshots, so forget --prune has one to remove
        assert _run(tmp_path, repo_dir, data, "backup").returncode == 0
    done = _run(tmp_path, repo_dir, data, command, signal_after=f"{command}:{int(sig)}")
    assert done.returncode == 130, (done.returncode, done.stdout, done.stderr)
    assert "interrupted" in done.stdout
    assert _restic_running_on(repo_dir) == [], "restic outlived the vaultkeeper that ran it"
    assert _lock_files(repo_dir) == [], "restic left its lock behind"
    restic = Restic(Location("loc", "local", str(repo_dir), url=str(repo_dir)),
                    Secret("env", "VK_TEST_PW").bind_env({"VK_TEST_PW": PASSWORD}))
    restic.check()   # exclusive: restic 0.14 refuses it beside any other lock
    assert restic.locks_removed == []


def test_stale_lock_check_waits_for_an_exiting_holder(tmp_path: Path,
                                                      repo: tuple[Path, Path]) -> None:
    """A same-host restic still holding its lock when the next run starts (it is exiting, and
    dies without removing it) is waited for, then its lock is removed as stale — before the
    fix the check saw a live pid, left the lock, and the exclusive operation failed 'locked'."""
    repo_dir, _ = repo
    env = dict(os.environ, RESTIC_PASSWORD=PASSWORD, RESTIC_REPOSITORY=str(repo_dir))
    holder = subprocess.Popen(["restic", "backup", "--stdin", "--stdin-filename", "x"],
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not [n for n in _lock_files(repo_dir) if "-tmp-" not in n]:
        assert time.monotonic() < deadline, "restic never took its lock"
        time.sleep(0.05)

    def die_later() -> None:
        time.sleep(3.0)
        holder.kill()   # SIGKILL: its lock stays behind
        holder.wait()

    killer = threading.Thread(target=die_later)
    killer.start()
    try:
        restic = Restic(Location("loc", "local", str(repo_dir), url=str(repo_dir)),
                        Secret("env", "VK_TEST_PW").bind_env({"VK_TEST_PW": PASSWORD}))
        restic.check()
    finally:
        killer.join()
        assert holder.stdin is not None
        holder.stdin.close()
    assert len(restic.locks_removed) == 1 and f"pid {holder.pid}" in restic.locks_removed[0]
    assert _lock_files(repo_dir) == []


def test_stale_lock_check_gives_up_on_a_live_holder(tmp_path: Path, repo: tuple[Path, Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A holder that keeps running is waited for only LOCK_HOLDER_WAIT_S; its lock stays."""
    monkeypatch.setattr(restic_mod, "LOCK_HOLDER_WAIT_S", 1.0)
    repo_dir, _ = repo
    env = dict(os.environ, RESTIC_PASSWORD=PASSWORD, RESTIC_REPOSITORY=str(repo_dir))
    live = subprocess.Popen(["restic", "backup", "--stdin", "--stdin-filename", "x"],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not [n for n in _lock_files(repo_dir) if "-tmp-" not in n]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        restic = Restic(Location("loc", "local", str(repo_dir), url=str(repo_dir)),
                        Secret("env", "VK_TEST_PW").bind_env({"VK_TEST_PW": PASSWORD}))
        started = time.monotonic()
        assert restic.clear_stale_locks() == []
        assert time.monotonic() - started >= 1.0
        assert [lock.pid for lock in restic.locks()] == [live.pid]
    finally:
        live.kill()
        live.wait()


def test_catch_up_meets_no_lock_of_a_dead_restic(tmp_path: Path, repo: tuple[Path, Path]) -> None:
    """The soak's failing catch-up run: a dead restic's exclusive lock (here a `check` frozen
    and killed with SIGKILL while it held it) is removed before the run's first operation.
    Before the fix ``is_initialised`` ran ``cat config`` — which locks in restic 0.14 — without
    the stale-lock check ('cat' was exempt by name) and failed "locked exclusively by PID …"."""
    repo_dir, data = repo
    assert _run(tmp_path, repo_dir, data, "backup").returncode == 0
    env = dict(os.environ, RESTIC_PASSWORD=PASSWORD, RESTIC_REPOSITORY=str(repo_dir))
    holder = subprocess.Popen(["restic", "check", "--read-data"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not [n for n in _lock_files(repo_dir) if "-tmp-" not in n]:
        assert holder.poll() is None, "restic check ended before it could be stopped"
        assert time.monotonic() < deadline, "restic never took its lock"
        time.sleep(0.005)
    holder.send_signal(signal.SIGSTOP)   # frozen while it holds its exclusive lock
    holder.kill()                        # then SIGKILL: the lock stays behind
    holder.wait()
    assert len(_lock_files(repo_dir)) == 1
    restic = Restic(Location("loc", "local", str(repo_dir), url=str(repo_dir)),
                    Secret("env", "VK_TEST_PW").bind_env({"VK_TEST_PW": PASSWORD}))
    assert restic.is_initialised()       # what the backup's pre-flight asks first
    restic.backup(data)
    assert len(restic.locks_removed) == 1
    assert "exclusive lock" in restic.locks_removed[0]
    assert f"pid {holder.pid}" in restic.locks_removed[0]
    assert _lock_files(repo_dir) == []
