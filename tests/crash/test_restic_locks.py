"""restic children die with vaultkeeper, stale locks are removed, the password never touches disk.

Real restic 0.14 against a local repository; vaultkeeper's Restic runs in a child Python process
that the tests kill (SIGKILL, SIGTERM) while restic holds its lock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from vk_restic_child import CHILD

from vaultkeeper.config import Secret
from vaultkeeper.restic import Restic
from vaultkeeper.storage.locations import Location

PASSWORD = "VK-CRASH-PW-5b8e1f"  # recognisable test password


def _env(tmp: Path) -> dict[str, str]:
    return dict(os.environ, VK_TEST_PW=PASSWORD, TMPDIR=str(tmp))


def _child(tmp: Path, repo: Path, data: Path, what: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(repo), str(data), what],
                            env=_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _restic_children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and cmd.endswith(b"restic"):
            found.append(int(entry.name))
    return found


def _wait_for_lock(repo: Path, proc: subprocess.Popen[str], timeout: float = 120) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        kids = _restic_children(proc.pid)
        if kids and any((repo / "locks").iterdir()):
            # restic registers its lock for clean-up just after creating it: a kill within
            # that instant leaves the lock (the next run's stale-lock check removes it).
            time.sleep(1.0)
            return kids
        time.sleep(0.05)
    raise TimeoutError("restic never took its lock")


def _gone(pids: list[int], timeout: float = 90) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{p}").exists() and
                   "Z" not in Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1][:3]
                   for p in pids if Path(f"/proc/{p}").exists()):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path]:
    repo = tmp_path / "repo"
    data = tmp_path / "data"
    data.mkdir()
    # Incompressible data so that restic is busy long enough to be killed mid-backup.
    (data / "blob.bin").write_bytes(os.urandom(96 * 1024 * 1024))
    proc = _child(tmp_path, repo, data, "init")
    assert proc.wait(timeout=120) == 0, proc.communicate()
    return repo, data


def _secret_files(root: Path) -> list[Path]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and path.stat().st_size < 1 << 20:
            try:
                if PASSWORD.encode() in path.read_bytes():
                    hits.append(path)
            except OSError:
                continue
    return hits


def test_kill_9_leaves_no_lock_and_no_password_file(tmp_path: Path,
                                                    repo: tuple[Path, Path]) -> None:
    """SIGKILL of vaultkeeper mid-backup: restic (PR_SET_PDEATHSIG → SIGINT) removes its lock
    and exits; nothing in TMPDIR holds the password."""
    repo_dir, data = repo
    proc = _child(tmp_path, repo_dir, data, "backup")
    kids = _wait_for_lock(repo_dir, proc)
    assert not _secret_files(tmp_path / "data") and _secret_files(tmp_path) == [], \
        "the password was written to a file while restic ran"
    proc.kill()
    proc.wait()
    assert _gone(kids), "restic outlived vaultkeeper"
    assert list((repo_dir / "locks").iterdir()) == [], "restic left its lock behind"
    assert _secret_files(tmp_path) == []


def test_sigterm_during_restic_is_clean(tmp_path: Path, repo: tuple[Path, Path]) -> None:
    """SIGTERM while restic runs is forwarded (as SIGINT); vaultkeeper waits for restic to remove
    its lock and unwinds with KeyboardInterrupt (exit 130), instead of dying with 143."""
    repo_dir, data = repo
    proc = _child(tmp_path, repo_dir, data, "backup")
    kids = _wait_for_lock(repo_dir, proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, out, err)
    assert "interrupted" in out
    assert _gone(kids, timeout=5)
    assert list((repo_dir / "locks").iterdir()) == []


def _lock_files(repo_dir: Path) -> list[Path]:
    """Finished lock files: restic 0.14 writes ``<id>-tmp-<n>`` first and renames it, and a
    restic killed in between leaves only the temporary file (no lock restic would list)."""
    return [p for p in (repo_dir / "locks").iterdir() if "-tmp-" not in p.name]


def test_stale_lock_is_removed_and_reported(tmp_path: Path, repo: tuple[Path, Path]) -> None:
    """A lock left by a restic that died (same host, dead pid) is removed before the next
    operation, and the removal is reported; before the fix `check` failed with 'locked'."""
    repo_dir, _ = repo
    env = dict(os.environ, RESTIC_PASSWORD=PASSWORD, RESTIC_REPOSITORY=str(repo_dir))
    orphan = subprocess.Popen(["restic", "backup", "--stdin", "--stdin-filename", "x"],
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not _lock_files(repo_dir):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    orphan.kill()              # SIGKILL: restic cannot remove its lock
    orphan.wait()
    assert orphan.stdin is not None
    orphan.stdin.close()
    assert len(list((repo_dir / "locks").iterdir())) == 1
    restic = Restic(Location("loc", "local", str(repo_dir), url=str(repo_dir)),
                    Secret("env", "VK_TEST_PW").bind_env({"VK_TEST_PW": PASSWORD}))
    restic.check()             # exclusive lock: refused by restic 0.14 while the stale one lives
    assert len(restic.locks_removed) == 1
    assert f"pid {orphan.pid}" in restic.locks_removed[0]
    assert list((repo_dir / "locks").iterdir()) == []


def test_live_lock_is_left_alone(tmp_path: Path, repo: tuple[Path, Path],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock whose holder still runs is not stale: nothing is removed (after waiting
    LOCK_HOLDER_WAIT_S, shortened here, for it to exit)."""
    monkeypatch.setattr("vaultkeeper.restic.LOCK_HOLDER_WAIT_S", 1.0)
    repo_dir, _ = repo
    env = dict(os.environ, RESTIC_PASSWORD=PASSWORD, RESTIC_REPOSITORY=str(repo_dir))
    live = subprocess.Popen(["restic", "backup", "--stdin", "--stdin-filename", "x"],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not _lock_files(repo_dir):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        restic = Restic(Location("loc", "local", str(repo_dir), url=str(repo_dir)),
                        Secret("env", "VK_TEST_PW").bind_env({"VK_TEST_PW": PASSWORD}))
        assert restic.clear_stale_locks() == []
        assert [lock.pid for lock in restic.locks()] == [live.pid]
    finally:
        live.kill()
        live.wait()
