"""`vaultkeeper export` end to end: the real CLI in a subprocess against the sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from vaultkeeper.sandbox import FaultConfig, Sandbox

TOKEN_VAR = "VK_TEST_HUBSPOT_TOKEN"


def write_config(tmp_path, sb, *, extra=""):
    config = tmp_path / "vaultkeeper.toml"
    config.write_text(
        f'[source]\nconnector = "hubspot"\nbase_url = "{sb.url}"\n'
        f'token = {{ env = "{TOKEN_VAR}" }}\nca_file = "{sb.ca_file}"\n{extra}',
        encoding="utf-8")
    return config


def vk(config, *args, token, **kw):
    env = dict(os.environ, **{TOKEN_VAR: token})
    return subprocess.run([sys.executable, "-m", "vaultkeeper", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, timeout=240, **kw)


def test_export_json_summary_and_exit_code(clean_sandbox, tmp_path):
    config = write_config(tmp_path, clean_sandbox)
    result = vk(config, "export", "--out", str(tmp_path / "out"), "--json",
                "--objects", "companies,contacts", token=clean_sandbox.token)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    expected = clean_sandbox.expected()["hubspot"]
    assert summary["status"] == "complete"
    assert list(summary["objects"]) == ["companies", "contacts"]  # the order asked for
    assert summary["objects"]["contacts"]["count"] == expected["contacts"]["total"]
    assert (tmp_path / "out" / "manifest.json").exists()
    # Not a terminal: no progress bars on stderr.
    assert "━" not in result.stderr

    again = vk(config, "export", "--out", str(tmp_path / "out"), token=clean_sandbox.token)
    assert again.returncode == 2 and "--overwrite" in again.stderr


def test_refused_token_is_one_line_and_never_printed(clean_sandbox, tmp_path):
    config = write_config(tmp_path, clean_sandbox)
    secret = "pat-na1-THIS-IS-A-RECOGNISABLE-FAKE-SECRET"
    result = vk(config, "export", "--out", str(tmp_path / "out"), token=secret)
    assert result.returncode == 6
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: HubSpot refused the token")
    assert "Fix:" in lines[0] and "no manifest.json" in lines[0]
    assert secret not in result.stderr + result.stdout
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_unreachable_source_gives_up_after_bounded_retries(tmp_path):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "vaultkeeper.toml"
    config.write_text(f'[source]\nconnector = "hubspot"\nbase_url = "https://127.0.0.1:{port}"\n'
                      f'token = {{ env = "{TOKEN_VAR}" }}\nmax_retries = 2\n', encoding="utf-8")
    result = vk(config, "export", "--out", str(tmp_path / "out"), token="x")
    assert result.returncode == 6, result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and "gave up" in line and "ConnectError" in line
    assert "no manifest.json" in line and "Fix:" in line
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_killed_export_leaves_no_manifest_and_overwrite_removes_the_old_one(tmp_path):
    with Sandbox(records=3000, seed=5, faults=FaultConfig.parse("slow:ms=40")) as sb:
        config = write_config(tmp_path, sb)
        out = tmp_path / "out"
        first = vk(config, "export", "--out", str(out), "--objects", "companies",
                   token=sb.token)
        assert first.returncode == 0 and (out / "manifest.json").exists()
        env = dict(os.environ, **{TOKEN_VAR: sb.token})
        proc = subprocess.Popen(
            [sys.executable, "-m", "vaultkeeper", "--config", str(config), "export", "--out",
             str(out), "--overwrite"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while not list((out / "objects").glob("*.part")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        time.sleep(0.5)  # well inside the export: records are being written
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (out / "manifest.json").exists()
    assert list((out / "objects").glob("*.part")), "the kill should land mid-export"


def _popen_with_default_sigint(cmd: list[str], **kw) -> subprocess.Popen[str]:
    """Start ``cmd`` with SIGINT at its default, however pytest itself was started.

    A shell without job control starts background commands (``pytest … &``) with SIGINT
    ignored, and an ignored signal stays ignored across fork and exec: the child's Python
    then never installs its Ctrl-C handler and SIGINT does nothing (the export ran to the end,
    exit 0 — the "failed once under load" of test_interrupted_export_says_so[2]). A handler
    installed here is reset to the default by exec, so the child gets a real Ctrl-C."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(cmd, **kw)
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("sig", [signal.SIGINT])
def test_interrupted_export_says_so(tmp_path, sig):
    with Sandbox(records=3000, seed=5, faults=FaultConfig.parse("slow:ms=40")) as sb:
        config = write_config(tmp_path, sb)
        env = dict(os.environ, **{TOKEN_VAR: sb.token})
        proc = _popen_with_default_sigint(
            [sys.executable, "-m", "vaultkeeper", "--config", str(config), "export", "--out",
             str(tmp_path / "out")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        # A bound on a hang, not a timing: on a busy machine start-up alone takes a while.
        deadline = time.monotonic() + 300
        while not list((tmp_path / "out").glob("objects/*.part")):
            assert proc.poll() is None, f"the export ended before the signal: {proc.communicate()}"
            assert time.monotonic() < deadline, "the export never started writing"
            time.sleep(0.05)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130
    assert "Interrupted" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "manifest.json").exists()
