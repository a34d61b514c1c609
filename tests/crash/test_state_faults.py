"""Degrade, don't stop: a corrupt state database is moved aside and the backup still runs; a
full or read-only state directory is a storage error with its fix (exit 7)."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from vk_backup import make_config, vk, vk_json


def _state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def _config(tmp_path: Path, state: Path) -> Path:
    config = make_config(tmp_path, records=120, locations=[("nas", str(tmp_path / "nas"))],
                         extra=f'[paths]\nstate_dir = "{state}"\n')
    assert vk(config, "locations", "init").returncode == 0
    return config


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_state_db_is_moved_aside_and_backup_runs(tmp_path: Path, damage: str) -> None:
    """Before: exit 1 "unexpected DatabaseError … This is a bug", no export. Now: the file is
    kept as state.db.corrupt-<time>, a new one is created, the backup lands (exit 3: the run
    reports the event so it is alerted), and status works."""
    state = _state_dir(tmp_path)
    config = _config(tmp_path, state)
    first = vk_json(config, "backup", "--no-prune")
    assert first["status"] == "ok"
    db = state / "state.db"
    for side in ("state.db-wal", "state.db-shm"):
        (state / side).unlink(missing_ok=True)
    data = db.read_bytes()
    if damage == "truncate":
        db.write_bytes(data[: len(data) // 3])
    else:
        db.write_bytes(data[:100] + b"\x5a" * (len(data) - 100))
    report = vk_json(config, "backup", "--no-prune", ok=(3,))
    assert report["snapshot_id"] and report["export_status"] == "complete"
    assert any("state database was unreadable" in p for p in report["problems"]), report
    kept = [p for p in state.glob("state.db.corrupt-*") if p.name.endswith("Z")]
    assert len(kept) == 1 and kept[0].stat().st_size > 0
    assert vk(config, "status").returncode == 0
    again = vk_json(config, "backup", "--no-prune")   # reported once, then back to ok
    assert again["status"] == "ok"


@contextlib.contextmanager
def _tmpfs(where: Path, size: str = "4m") -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                           str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_full_state_dir_is_a_storage_error(tmp_path: Path) -> None:
    """Before: exit 1 "unexpected OSError". Now: exit 7 naming the disk problem and a fix."""
    with _tmpfs(tmp_path / f"full-{uuid.uuid4().hex[:6]}") as mnt:
        state = mnt / "state"
        config = _config(tmp_path, state)
        filler = mnt / "filler"
        with filler.open("wb") as handle, contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        done = vk(config, "backup", "--no-prune")
        assert done.returncode == 7, (done.returncode, done.stderr)
        assert "unexpected" not in done.stderr and "Fix:" in done.stderr
        assert "space" in done.stderr or "full" in done.stderr


def test_read_only_state_dir_is_a_storage_error(tmp_path: Path) -> None:
    """A read-only remount of the state directory: exit 7 with the fix, not a bug report."""
    with _tmpfs(tmp_path / f"ro-{uuid.uuid4().hex[:6]}") as mnt:
        state = mnt / "state"
        config = _config(tmp_path, state)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        for command in (["backup", "--no-prune"], ["status"]):
            done = vk(config, *command)
            assert done.returncode == 7, (command, done.returncode, done.stderr)
            assert "read-only" in done.stderr.lower() and "Fix:" in done.stderr
