"""Fixtures for configuration tests: run the real CLI in a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty HOME, so no user configuration or secret leaks into a test."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def clean_env(home: Path) -> dict[str, str]:
    """The environment the CLI runs in: no VAULTKEEPER_* variables, HOME in tmp."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VAULTKEEPER_", "XDG_CONFIG_HOME"))}
    env["HOME"] = str(home)
    return env


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def vk(tmp_path: Path, clean_env: dict[str, str]) -> Run:
    """Run ``python -m vaultkeeper ARGS`` (cwd tmp_path by default) and capture its output."""
    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "vaultkeeper", *args], cwd=cwd or tmp_path,
                              env={**clean_env, **(env or {})}, capture_output=True, text=True,
                              timeout=120, check=False)
    return run


@pytest.fixture
def config_error() -> Callable[..., str]:
    """The assertion every bad-configuration test makes (see ``assert_config_error``)."""
    return assert_config_error


def assert_config_error(result: subprocess.CompletedProcess[str], *, file: str | None,
                        key: str | None, message: str, fix: str, secret: str | None = None
                        ) -> str:
    """One ``Error:`` line naming file, key and fix on stderr, exit 5, no traceback/secret."""
    output = result.stdout + result.stderr
    assert result.returncode == 5, output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("Error: "), line
    assert "Traceback" not in output
    where, _, fix_text = line.partition(". Fix: ")
    assert fix_text, f"no fix in {line!r}"
    if file is not None:
        assert where.startswith(f"Error: {file}: "), line
    if key is not None:
        assert f"{key}: " in where, line
    assert message in where, line
    assert fix in fix_text, line
    if secret is not None:
        assert secret not in output
    return line
