"""Fixtures shared by the whole suite: sandboxes are real HTTPS servers on 127.0.0.1."""

from __future__ import annotations

import compileall
from pathlib import Path

import pytest
from vk_testing import RECORDS, SEED

from vaultkeeper.sandbox import FaultConfig, Sandbox

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Byte-compile the package, the test helpers and the scripts once, up front.

    The suite starts the real CLI in a subprocess hundreds of times; with
    PYTHONDONTWRITEBYTECODE set (common in containers and CI images) each start would
    compile every vaultkeeper module again (~0.3-0.5 s of CPU). Cached byte code is read even
    then, and an unchanged tree costs only a stat per file here."""
    for folder in ("vaultkeeper", "tests", "scripts"):
        compileall.compile_dir(ROOT / folder, quiet=2, workers=1)


@pytest.fixture(scope="session")
def clean_sandbox():
    with Sandbox(records=RECORDS, seed=SEED, faults=FaultConfig.parse("none")) as sb:
        yield sb


@pytest.fixture(scope="session")
def faulty_sandbox():
    with Sandbox(records=RECORDS, seed=SEED, faults=FaultConfig.parse("all")) as sb:
        yield sb
