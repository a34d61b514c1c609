"""Fixtures: a small sandbox package (generic target) and a real Tryton server per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import tryton_server
from vk_backup import make_config, vk

from vaultkeeper.config import load_settings
from vaultkeeper.services.emergency import build_package

RECORDS = 200


@pytest.fixture(scope="session")
def rehearsal_package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(config, package folder): a 200-contact sandbox export packaged for the generic target."""
    root = tmp_path_factory.mktemp("rehearsal")
    config = make_config(root, records=RECORDS, extra='[emergency]\ndefault_region = "GB"\n')
    export = root / "export"
    result = vk(config, "export", "--out", str(export))
    assert result.returncode == 0, result.stderr
    out = root / "package"
    build_package(export, out, load_settings(config), target="generic")
    return config, out


@pytest.fixture(scope="session")
def vendor_packages(rehearsal_package: tuple[Path, Path]) -> dict[str, Path]:
    """The same export packaged for the hubspot and the salesforce target."""
    config, generic = rehearsal_package
    out = {}
    for target in ("hubspot", "salesforce"):
        out[target] = generic.parent / f"package-{target}"
        build_package(generic.parent / "export", out[target], load_settings(config),
                      target=target)
    return out


@pytest.fixture(scope="session")
def tryton_template() -> Path:
    """The cached template database (builds the virtualenv and template on first use)."""
    return tryton_server.template()


@pytest.fixture
def tryton(tmp_path: Path, tryton_template: Path) -> Iterator[tryton_server.TrytonServer]:
    """A trytond serving an empty copy of the template on a free port."""
    server = tryton_server.start(tmp_path / "tryton")
    try:
        yield server
    finally:
        server.stop()
