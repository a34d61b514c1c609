"""Helpers for backup tests: a demo-like configuration and the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FAKE_SECRET = "VK-FAKE-SECRET-7c1d9e"  # recognisable: must never appear in output or argv


def make_config(root: Path, *, records: int = 300, locations: list[tuple[str, str]] | None = None,
                extra: str = "", policies: str | None = None) -> Path:
    """A configuration exporting the sandbox into local (or given) locations."""
    secrets = root / "secrets"
    secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets / "repository.key"
    if not key.exists():
        key.write_text(FAKE_SECRET + "\n", encoding="utf-8")
        key.chmod(0o600)
    locations = locations or [("nas", str(root / "loc" / "nas")),
                              ("disk", str(root / "loc" / "disk"))]
    text = (f'[source]\nconnector = "sandbox"\nrecords = {records}\nseed = 3\n\n'
            f'[repository]\npassword = {{ file = "{key}" }}\n\n')
    for name, url in locations:
        text += f'[[locations]]\nname = "{name}"\nurl = "{url}"\n'
        text += "\n"
    text += extra
    config = root / "vaultkeeper.toml"
    config.write_text(text, encoding="utf-8")
    if policies is not None:
        (root / "policies").mkdir(exist_ok=True)
        (root / "policies" / "retention.toml").write_text(policies, encoding="utf-8")
    return config


def vk(config: Path, *args: str, env: dict[str, str] | None = None,
       timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real CLI."""
    return subprocess.run([sys.executable, "-m", "vaultkeeper", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def vk_json(config: Path, *args: str, ok: tuple[int, ...] = (0,), **kw: object) -> dict:
    """Run a command with --json and parse stdout."""
    result = vk(config, *args, "--json", **kw)  # type: ignore[arg-type]
    assert result.returncode in ok, (result.returncode, result.stderr)
    return json.loads(result.stdout)
