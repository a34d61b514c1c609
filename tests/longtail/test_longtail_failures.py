"""The long tail when things go wrong: a connector's own error becomes one line naming the cause
and the fix (exit 6), the connector's secret is never on a command line nor in its environment,
its config file is 0600 in a 0700 folder that is gone after the run — and after a kill -9 of
vaultkeeper, the next run of any command removes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from vk_backup import vk
from vk_longtail import AIRBYTE, SINGER, airbyte_config, singer_config, token_env
from vk_thirdparty import connector_venvs
from vk_vendor_apis import TOKEN, CloseAPI, PipedriveAPI

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]
WRONG = "pd-WRONG-TOKEN-0b5e44d1"


@pytest.fixture(scope="module")
def connectors() -> Path:
    return connector_venvs(SINGER, AIRBYTE)


def _files_holding(folder: Path, secret: str) -> list[Path]:
    """Files under ``folder`` (not following the link to the shared virtualenvs) with
    ``secret`` in them."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not Path(root, d).is_symlink()]
        found += [Path(root, f) for f in files
                  if secret.encode() in Path(root, f).read_bytes()]
    return found


def _connector_child(state: Path, deadline: float) -> tuple[int, list[str]]:
    """(pid, argv) of a running connector program whose config lives under ``state``."""
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().decode().split("\0")
            except OSError:
                continue
            if "--config" in argv and any(a.startswith(str(state)) for a in argv[1:]):
                return int(entry.name), argv
        time.sleep(0.02)
    raise AssertionError("no connector program started")


def test_wrong_token_is_one_line_with_cause_and_fix_exit_6(connectors, tmp_path):
    with PipedriveAPI() as api:
        config = singer_config(tmp_path, connectors, api)
        assert vk(config, "locations", "init", env=token_env()).returncode == 0
        done = vk(config, "backup", env=token_env(WRONG), timeout=600)
    assert done.returncode == 6, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert SINGER in lines[0] and "401" in lines[0] and "unauthorized" in lines[0]
    assert "Fix: check the credentials [source.config] references" in lines[0]
    assert WRONG not in done.stderr + done.stdout


def test_airbyte_error_trace_names_the_cause(connectors, tmp_path):
    with CloseAPI() as api:
        config = airbyte_config(tmp_path / "bad", connectors, api)
        done = vk(config, "export", "--out", str(tmp_path / "out"), env=token_env(WRONG),
                  timeout=600)
    assert done.returncode == 6, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert AIRBYTE in line and "401" in line and "Fix: check the credentials" in line
    assert WRONG not in done.stderr + done.stdout
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_secret_never_in_argv_or_environment_config_private(connectors, tmp_path):
    with PipedriveAPI(delay=0.4) as api:
        config = singer_config(tmp_path, connectors, api)
        state = tmp_path / "state"
        run = subprocess.Popen([sys.executable, "-m", "vaultkeeper", "--config", str(config),
                                "export", "--out", str(tmp_path / "out")],
                               env=dict(os.environ, **token_env()), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        try:
            pid, argv = _connector_child(state, time.monotonic() + 120)
            assert TOKEN not in "\0".join(argv)
            assert TOKEN.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
            config_file = Path(argv[argv.index("--config") + 1])
            assert config_file.stat().st_mode & 0o777 == 0o600
            assert config_file.parent.stat().st_mode & 0o777 == 0o700
            assert config_file.parent.parent == state
            assert TOKEN in config_file.read_text()   # the config the connector reads
        finally:
            _, err = run.communicate(timeout=600)
    assert run.returncode == 0, err[-3000:]
    assert not config_file.parent.exists()
    assert _files_holding(state, TOKEN) == []


def test_kill_9_leaves_no_config_after_the_next_run(connectors, tmp_path):
    with PipedriveAPI(delay=1.0) as api:
        config = singer_config(tmp_path, connectors, api)
        state = tmp_path / "state"
        run = subprocess.Popen([sys.executable, "-m", "vaultkeeper", "--config", str(config),
                                "export", "--out", str(tmp_path / "out")],
                               env=dict(os.environ, **token_env()),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        child, argv = _connector_child(state, time.monotonic() + 120)
        folder = Path(argv[argv.index("--config") + 1]).parent
        os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=60)
        deadline = time.monotonic() + 60
        while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)   # the connector dies with vaultkeeper (PR_SET_PDEATHSIG)
        assert not Path(f"/proc/{child}").exists()
        assert folder.exists() and _files_holding(state, TOKEN)   # kill -9 cleans nothing
        after = vk(config, "status", "--json", env=token_env())
        assert after.returncode == 0, after.stderr
    assert not folder.exists()
    assert _files_holding(state, TOKEN) == []
