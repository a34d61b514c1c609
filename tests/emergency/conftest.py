"""Shared fixtures: one sandbox export and the package built from it (module scope)."""

from __future__ import annotations

from pathlib import Path

import pytest
from vk_backup import make_config, vk
from vk_emergency import RECORDS

from vaultkeeper.config import load_settings
from vaultkeeper.services.emergency import build_package


@pytest.fixture(scope="session")
def sandbox_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(config, export folder) of a 1,500-contact sandbox export made by the real CLI."""
    root = tmp_path_factory.mktemp("emergency-export")
    config = make_config(root, records=RECORDS, extra='[emergency]\ndefault_region = "GB"\n')
    out = root / "export"
    result = vk(config, "export", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return config, out


@pytest.fixture(scope="session")
def package(sandbox_export: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    """The hubspot-target package built from the export (and the build result)."""
    config, export = sandbox_export
    out = tmp_path_factory.mktemp("emergency-package") / "pkg"
    result = build_package(export, out, load_settings(config), target="hubspot")
    return out, result
