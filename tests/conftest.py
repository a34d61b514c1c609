"""Fixtures shared by the whole suite: sandboxes are real HTTPS servers on 127.0.0.1."""

from __future__ import annotations

import pytest
from vk_testing import RECORDS, SEED

from vaultkeeper.sandbox import FaultConfig, Sandbox


@pytest.fixture(scope="session")
def clean_sandbox():
    with Sandbox(records=RECORDS, seed=SEED, faults=FaultConfig.parse("none")) as sb:
        yield sb


@pytest.fixture(scope="session")
def faulty_sandbox():
    with Sandbox(records=RECORDS, seed=SEED, faults=FaultConfig.parse("all")) as sb:
        yield sb
