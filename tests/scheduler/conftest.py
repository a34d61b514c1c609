"""The scheduler tests run real jobs (restic, the sandbox, servers) end to end; on a busy
machine they take many times longer than on an idle one. Their bound is a hang detector, not a
performance assertion, so it is wider here than the suite's default."""

from __future__ import annotations

import pytest

SCHEDULER_TIMEOUT = 2400


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every test under tests/scheduler the wider timeout."""
    for item in items:
        if "tests/scheduler/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.timeout(SCHEDULER_TIMEOUT))
