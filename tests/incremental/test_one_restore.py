"""A backup with incremental exports and files restores the previous snapshot once: the
incremental base's ``files/`` also serve the unchanged files (issue 16)."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from vk_incremental import backup, mutate, vk, write_config

from vaultkeeper.sandbox import FaultConfig, Sandbox


@pytest.fixture
def restic_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The real restic, behind a wrapper on PATH that appends each call's arguments to a log."""
    real = shutil.which("restic")
    assert real is not None
    wrappers = tmp_path / "wrappers"
    wrappers.mkdir()
    log = tmp_path / "restic-calls.log"
    wrapper = wrappers / "restic"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n',
                       encoding="utf-8")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{wrappers}{os.pathsep}{os.environ['PATH']}")
    return log


def restores(log: Path) -> list[str]:
    """The ``restic restore`` calls logged so far (the log is emptied)."""
    calls = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return [c for c in calls if " restore " in f" {c} "]


def test_incremental_and_full_runs_with_files_restore_the_base_once(tmp_path, restic_log):
    with Sandbox(records=300, seed=11, faults=FaultConfig.parse("none")) as sb:
        config = write_config(tmp_path, sb, "hubspot", full_every="2",
                              extra_source="files = {}")
        assert vk(config, sb, "locations", "init").returncode == 0
        first = backup(config, sb)
        assert first["export_mode"] == "full" and first["files"]["downloaded"] > 0
        assert restores(restic_log) == []   # nothing to restore yet
        files = len(sb.files.hubspot_all())   # attachments and file properties' files
        for expected in ("incremental", "full"):   # full_every = 2: then a compared full
            mutate(sb, "hubspot", 1 if expected == "incremental" else 2)
            report = backup(config, sb)
            assert report["status"] == "ok" and report["export_mode"] == expected
            assert report["files"]["reused"] == files and report["files"]["downloaded"] == 0
            calls = restores(restic_log)
            assert len(calls) == 1, calls   # the base, whole: its files/ serve the reuse
            assert "--include" not in calls[0]
