"""Third-party CRM clients (Singer taps, Airbyte sources) as test witnesses: each in its own
cached virtualenv, run as a subprocess against the sandbox."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

CACHE = Path(os.environ.get("VK_TEST_VENVS", Path.home() / ".cache/vaultkeeper-test/venvs"))
SHIM = Path(__file__).parent / "thirdparty" / "shim"


def venv(name: str, *requirements: str) -> Path:
    """``CACHE/name`` with ``requirements`` installed (made once, reused while they match)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / name
    marker = target / "vaultkeeper-requirements.json"
    wanted = json.dumps(sorted(requirements))
    with open(CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # two test processes never build the same venv
        if marker.exists() and marker.read_text() == wanted:
            return target
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, timeout=300)
        done = subprocess.run([str(target / "bin" / "pip"), "install", "-q",
                               "--disable-pip-version-check", *requirements],
                              capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            raise RuntimeError(f"pip install {' '.join(requirements)} failed:\n"
                               f"{done.stderr[-3000:]}")
        marker.write_text(wanted)
    return target


def client_env(sandbox, hosts: tuple[str, ...]) -> dict[str, str]:
    """Environment that points ``hosts`` at the sandbox and trusts its CA."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VK_", "PYTHON"))}
    env.update(PYTHONPATH=str(SHIM), VK_SANDBOX_URL=sandbox.url,
               VK_SANDBOX_HOSTS=",".join(hosts), REQUESTS_CA_BUNDLE=str(sandbox.ca_file),
               SSL_CERT_FILE=str(sandbox.ca_file))
    return env


def singer_counts(stdout: str) -> dict[str, int]:
    """RECORD messages per stream in a Singer tap's output."""
    counts: dict[str, int] = {}
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        if message.get("type") == "RECORD":
            counts[message["stream"]] = counts.get(message["stream"], 0) + 1
    return counts


def connector_venvs(*packages: str) -> Path:
    """``CACHE/vaultkeeper-connectors`` with each pinned package installed by vaultkeeper's own
    installer (connectors/thirdparty_run.ensure_venv), once; tests link a state directory's
    ``connectors`` folder here so each test does not install again."""
    from vaultkeeper.connectors.thirdparty_run import ensure_venv

    root = CACHE / "vaultkeeper-connectors"
    for package in packages:
        ensure_venv(root, package)
    return root


def link_connectors(state_dir: Path, root: Path) -> None:
    """Make ``state_dir/connectors`` the cached folder of connector virtualenvs."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (state_dir / "connectors").symlink_to(root, target_is_directory=True)
