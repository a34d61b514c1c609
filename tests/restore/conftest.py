"""Fixtures for restore scenarios (see tests/vk_restore.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from vk_restore import World, make_world


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
