"""The default policies ship inside the package (`vaultkeeper.default_policies`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from vaultkeeper.policies import DEFAULTS_PACKAGE, POLICY_NAMES

ROOT = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_listed_in_pyproject() -> None:
    # pyproject.toml lists packages explicitly (policies/ is mapped into the package), so a new
    # subpackage that is not listed would silently be missing from wheels.
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"])
    found = {".".join(d.relative_to(ROOT).parts) for d in [ROOT / "vaultkeeper",
                                                           *(ROOT / "vaultkeeper").rglob("*")]
             if d.is_dir() and "__pycache__" not in d.parts and any(d.glob("*.py"))}
    missing = sorted(found - listed)
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"
    assert DEFAULTS_PACKAGE in listed


def test_default_policies_are_package_data() -> None:
    root = resources.files(DEFAULTS_PACKAGE)
    for name in POLICY_NAMES:
        text = root.joinpath(f"{name}.toml").read_text(encoding="utf-8")
        assert text == (ROOT / "policies" / f"{name}.toml").read_text(encoding="utf-8")


@pytest.mark.slow
def test_wheel_install_ships_default_policies(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("vaultkeeper", "policies"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(src)],
                   check=True, capture_output=True, timeout=600)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")],
                   check=True, timeout=120)
    python = tmp_path / "venv" / "bin" / "python"
    wheel = next((tmp_path / "dist").glob("vaultkeeper-*.whl"))
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, timeout=600)
    probe = ("from importlib import resources; import vaultkeeper; "
             f"r = resources.files({DEFAULTS_PACKAGE!r}); "
             "print(vaultkeeper.__file__); print(sorted(p.name for p in r.iterdir()))")
    out = subprocess.run([str(python), "-c", probe], check=True, capture_output=True,
                         text=True, cwd=tmp_path, timeout=60).stdout
    assert str(tmp_path / "venv") in out   # the installed copy, not the source tree
    for name in POLICY_NAMES:
        assert f"{name}.toml" in out
