"""Each restic failure class, produced for real with restic 0.14, gives one clear error naming
the location; secrets never reach argv or messages."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest
from servers import free_port
from vk_backup import FAKE_SECRET

from vaultkeeper.config import Secret
from vaultkeeper.errors import ExitCode, StorageError
from vaultkeeper.restic import (
    OutOfSpace,
    RepositoryCorrupt,
    RepositoryLocked,
    RepositoryMissing,
    Restic,
    Unreachable,
    WrongPassword,
)
from vaultkeeper.storage.locations import Location, kind_of


def secret_file(path: Path, value: str) -> Secret:
    path.write_text(value + "\n")
    path.chmod(0o600)
    return Secret(kind="file", ref=str(path))


def location(url: str, name: str = "nas", **kw) -> Location:
    return Location(name=name, kind=kind_of(url), display_url=url, url=url, **kw)


@pytest.fixture
def repo(tmp_path):
    key = secret_file(tmp_path / "key", FAKE_SECRET)
    restic = Restic(location(str(tmp_path / "repo")), key)
    restic.init()
    data = tmp_path / "data"
    data.mkdir()
    (data / "contacts.ndjson").write_bytes(os.urandom(300_000))
    restic.backup(data, tags=["t"])
    return restic, tmp_path


def assert_one_line(exc: StorageError, name: str = "nas") -> None:
    text = exc.one_line()
    assert "\n" not in text and f"location {name}" in text and "Fix:" in text
    assert exc.exit_code == ExitCode.STORAGE


def test_version_and_snapshot_ids(repo):
    restic, _ = repo
    assert restic.version() >= (0, 14, 0)
    snaps = restic.snapshots()
    assert len(snaps) == 1 and len(snaps[0].id) == 64 and snaps[0].tags == ("t",)


def test_wrong_password(repo):
    restic, tmp = repo
    wrong = Restic(restic.location, secret_file(tmp / "other", "not-the-key"))
    with pytest.raises(WrongPassword) as info:
        wrong.snapshots()
    assert_one_line(info.value)


def test_missing_repository(tmp_path):
    restic = Restic(location(str(tmp_path / "nothing-here")), secret_file(tmp_path / "k", "x"))
    assert restic.is_initialised() is False
    with pytest.raises(RepositoryMissing) as info:
        restic.snapshots()
    assert_one_line(info.value)
    assert "locations init" in info.value.one_line()


def test_locked_repository(repo):
    restic, tmp = repo
    env = dict(os.environ, RESTIC_PASSWORD_FILE=str(tmp / "key"))
    # A backup reading stdin holds a lock for as long as stdin stays open.
    holder = subprocess.Popen(["restic", "-r", restic.location.url, "backup", "--stdin"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=env)
    try:
        lock_dir = Path(restic.location.url) / "locks"
        for _ in range(200):
            if any(lock_dir.iterdir()):
                break
            import time

            time.sleep(0.05)
        with pytest.raises(RepositoryLocked) as info:
            restic.check()
        assert_one_line(info.value)
    finally:
        holder.kill()
        holder.wait()


def test_corrupt_repository(repo):
    restic, _ = repo
    restic.check()
    pack = next(p for p in (Path(restic.location.url) / "data").rglob("*") if p.is_file()
                and p.stat().st_size > 100_000)
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pack.chmod(0o600)
    pack.write_bytes(bytes(data))
    with pytest.raises(RepositoryCorrupt) as info:
        restic.check(read_data_subset="100%")
    assert_one_line(info.value)


def test_unreachable_endpoint_times_out_into_a_clear_error(tmp_path):
    port = free_port()
    restic = Restic(location(f"rest:http://127.0.0.1:{port}/repo/", name="offsite"),
                    secret_file(tmp_path / "k", "x"), timeout=8)
    with pytest.raises(Unreachable) as info:
        restic.snapshots()
    assert_one_line(info.value, "offsite")


def test_full_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        key = secret_file(tmp_path / "key", FAKE_SECRET)
        restic = Restic(location(str(mount / "repo")), key)
        restic.init()
        data = tmp_path / "data"
        data.mkdir()
        (data / "big.bin").write_bytes(os.urandom(3_000_000))  # incompressible, > 1 MB
        with pytest.raises(OutOfSpace) as info:
            restic.backup(data)
        assert_one_line(info.value)
    finally:
        with contextlib.suppress(Exception):
            subprocess.run(["umount", "-l", str(mount)], check=False)


def test_no_secret_in_argv_env_password_and_rest_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("VK_TEST_REPO_PASSWORD", FAKE_SECRET)
    password = Secret(kind="env", ref="VK_TEST_REPO_PASSWORD")
    argvs: list[list[str]] = []
    restic = Restic(location(str(tmp_path / "repo")), password, on_exec=argvs.append)
    restic.init()
    data = tmp_path / "data"
    data.mkdir()
    (data / "x").write_text("hello")
    restic.backup(data)
    restic.forget({"last": 1}, dry_run=True)
    # REST credentials live only inside RESTIC_REPOSITORY, never argv or the message.
    monkeypatch.setenv("VK_TEST_REST_USER", "vkuser")
    monkeypatch.setenv("VK_TEST_REST_PASS", FAKE_SECRET + "rest")
    rest = Location(name="rest", kind="rest", display_url="rest:http://127.0.0.1:9/repo/",
                    url=f"rest:http://127.0.0.1:{free_port()}/repo/",
                    access_key=Secret(kind="env", ref="VK_TEST_REST_USER"),
                    secret_key=Secret(kind="env", ref="VK_TEST_REST_PASS"))
    with pytest.raises(StorageError) as info:
        Restic(rest, password, on_exec=argvs.append, timeout=8).snapshots()
    assert argvs and all(FAKE_SECRET not in " ".join(a) for a in argvs)
    assert FAKE_SECRET not in info.value.one_line()
    assert FAKE_SECRET not in repr(rest) and FAKE_SECRET not in repr(password)
    # The temporary password file is gone after each call.
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("vk-pw-*/password"))
