"""Fixtures for restore scenarios (see tests/vk_restore.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from vk_restore import World, empty_target, make_world

from vaultkeeper.sandbox import Sandbox


@pytest.fixture(params=["hubspot", "salesforce"])
def vendor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def world(vendor: str, tmp_path_factory: pytest.TempPathFactory,
          tmp_path: Path) -> Iterator[World]:
    w = make_world(vendor, tmp_path_factory, tmp_path)
    yield w
    w.writer.close()
    w.sandbox.stop()


@pytest.fixture
def second(vendor: str) -> Iterator[Sandbox]:
    sb = empty_target(vendor)
    yield sb
    sb.stop()


@pytest.fixture
def world2(vendor: str, second: Sandbox, tmp_path_factory: pytest.TempPathFactory,
           tmp_path: Path) -> Iterator[World]:
    """A world whose configuration also has [targets.second] (the empty CRM)."""
    w = make_world(vendor, tmp_path_factory, tmp_path, second=second)
    yield w
    w.writer.close()
    w.sandbox.stop()
