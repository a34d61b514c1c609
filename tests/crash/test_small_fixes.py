"""The smaller defects of issue 12: status after out-of-band deletion, the fix for a wrong S3
secret, and the state directory's mode after `locations init`."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from servers import free_port, rclone_s3
from vk_backup import make_config, vk, vk_json

from vaultkeeper.config import Secret
from vaultkeeper.errors import StorageError
from vaultkeeper.restic import Restic
from vaultkeeper.storage.locations import Location


def test_status_is_not_ok_after_snapshots_vanish(tmp_path: Path) -> None:
    """Before: "ok 0.0 h" forever. Now status asks restic and says the snapshot is missing."""
    nas, disk = tmp_path / "nas", tmp_path / "disk"
    config = make_config(tmp_path, records=60, locations=[("nas", str(nas)), ("disk", str(disk))])
    assert vk(config, "locations", "init").returncode == 0
    vk_json(config, "backup", "--no-prune")
    before = {loc["name"]: loc["state"] for loc in vk_json(config, "status")["locations"]}
    assert before == {"nas": "ok", "disk": "ok"}
    for snap in (disk / "snapshots").iterdir():     # deleted behind vaultkeeper's back
        snap.unlink()
    shutil.rmtree(nas)
    after = {loc["name"]: loc["state"] for loc in vk_json(config, "status")["locations"]}
    assert "missing" in after["disk"] and after["disk"] != "ok", after
    assert after["nas"] != "ok", after


def test_locations_init_creates_the_state_dir_private(tmp_path: Path) -> None:
    """Documented 0700; before, restic's cache mkdir(parents=True) made it 0755."""
    old = os.umask(0o022)
    try:
        config = make_config(tmp_path, records=10, locations=[("nas", str(tmp_path / "nas"))])
        state = tmp_path / ".vaultkeeper"
        assert not state.exists()
        assert vk(config, "locations", "init").returncode == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for sub in state.rglob("*"):
        if sub.is_dir():
            assert stat.S_IMODE(sub.stat().st_mode) & 0o077 == 0, sub


def test_wrong_s3_secret_gets_a_credentials_fix(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: "Fix: run `vaultkeeper locations init`" for a secret that does not match."""
    (tmp_path / "s3" / "bucket").mkdir(parents=True)
    monkeypatch.setenv("VK_T_KEY", "good-key")
    monkeypatch.setenv("VK_T_SECRET", "good-secret")
    monkeypatch.setenv("VK_T_BAD", "wrong-secret")
    monkeypatch.setenv("VK_T_PW", "pw-1")
    port = free_port()
    with rclone_s3(tmp_path / "s3", port, "good-key", "good-secret"):
        url = f"s3:http://127.0.0.1:{port}/bucket/crm"

        def loc(secret: str) -> Location:
            return Location("offsite", "s3", url, url=url, access_key=Secret("env", "VK_T_KEY"),
                            secret_key=Secret("env", secret))

        Restic(loc("VK_T_SECRET"), Secret("env", "VK_T_PW"), timeout=120).init()
        with pytest.raises(StorageError) as caught:
            Restic(loc("VK_T_BAD"), Secret("env", "VK_T_PW"), timeout=120).snapshots()
    assert "locations init" not in (caught.value.fix or "")
    assert "secret_key" in (caught.value.fix or "")
