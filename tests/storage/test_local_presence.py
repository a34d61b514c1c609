"""Local locations are what they claim: an unmounted share is never replaced by a folder on the
local disk, an offline disk is present only when its repository (or marker) is there, and a
read-only target says how to fix it rather than sending people in circles."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from vk_backup import make_config

from vaultkeeper.config import load_settings
from vaultkeeper.restic import NotWritable, Restic
from vaultkeeper.services.locations import check_locations, init_locations
from vaultkeeper.storage import locations as locmod


@pytest.fixture
def mount_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stand-in for /mnt: a folder whose sub-folders should be mount points (none is)."""
    root = tmp_path / "mnt"
    (root / "nas").mkdir(parents=True)          # the mount point exists, the share is not there
    monkeypatch.setattr(locmod, "MOUNT_ROOTS", (root,))
    return root


def test_unmounted_share_is_not_created_on_the_local_disk(tmp_path: Path, mount_root: Path):
    target = mount_root / "nas" / "vaultkeeper"
    config = make_config(tmp_path, locations=[("nas", str(target)),
                                              ("disk", str(tmp_path / "loc" / "disk"))])
    rows = {r["location"]: r for r in init_locations(load_settings(config))}
    assert rows["nas"]["result"] == "failed"
    assert f"{mount_root / 'nas'} is not mounted" in rows["nas"]["detail"]
    assert not target.exists(), "nothing written in place of the missing share"
    assert rows["disk"]["result"] == "created"
    checked = {r["location"]: r for r in check_locations(load_settings(config))}
    assert checked["nas"]["present"] is False
    assert any("is not mounted" in p for p in checked["nas"]["problems"])


def test_offline_disk_needs_its_repository_not_an_empty_mount_point(tmp_path: Path):
    mount_point = tmp_path / "usb"
    mount_point.mkdir()                          # the empty mount point of an unplugged disk
    config = make_config(tmp_path, locations=[("nas", str(tmp_path / "loc" / "nas")),
                                              ("usb", str(mount_point))])
    config.write_text(config.read_text().replace('name = "usb"', 'name = "usb"\noffline = true'))
    settings = load_settings(config)
    rows = {r["location"]: r for r in init_locations(settings)}
    assert rows["usb"]["result"] == "skipped"
    assert not (mount_point / "config").exists()
    # The disk arrives with its repository (made elsewhere, e.g. while plugged in before).
    usb = locmod.resolve_locations(settings)[1]
    Restic(usb, settings.repository_password).init()  # type: ignore[arg-type]
    locmod.mark_local(usb)
    assert locmod.preflight(usb).present is True
    assert (mount_point / locmod.MARKER).read_text().startswith("vaultkeeper location usb")
    check = subprocess.run(["restic", "-r", str(mount_point), "--password-file",
                            str(tmp_path / "secrets" / "repository.key"), "check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr     # the marker does not disturb restic


def test_read_only_target_gets_a_fix_that_is_not_a_loop(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    settings = load_settings(config)
    nas = locmod.resolve_locations(settings)[0]
    restic = Restic(nas, settings.repository_password)  # type: ignore[arg-type]
    for stderr in ("Fatal: create repository at /mnt/nas failed: mkdir /mnt/nas/keys: "
                   "read-only file system",
                   "Fatal: create key in repository at /srv/x failed: open /srv/x/keys/abc: "
                   "permission denied"):
        error = restic._classify("init", subprocess.CompletedProcess([], 1, "", stderr))
        assert isinstance(error, NotWritable)
        assert "locations check" not in (error.fix or "") and "read-write" in (error.fix or "")
