"""The API budget over HTTP: a run that cannot fit in the vendor's daily quota less the reserve
is refused before anything is read, with the numbers; a run that fits leaves the reserve."""

from __future__ import annotations

import json
import math
import re
import ssl

import httpx
import pytest
from vk_incremental import backup, vk, write_config

from vaultkeeper.sandbox import FaultConfig, Sandbox

NEEDS = re.compile(r"needs about (\d+) API requests but only (\d+) may be used: (\d+) of the "
                   r"daily (\d+) remain and api_reserve keeps (\d+)")


@pytest.fixture
def sandbox():
    with Sandbox(records=400, seed=9, faults=FaultConfig.parse("none")) as sb:
        yield sb


def remaining(sb) -> tuple[int, int]:
    """The sandbox's daily limit and what remains, as its headers say."""
    with httpx.Client(base_url=sb.url, headers={"Authorization": f"Bearer {sb.token}"},
                      verify=ssl.create_default_context(cafile=sb.ca_file)) as http:
        response = http.get("/crm/v3/objects/contacts", params={"limit": 1})
    return (int(response.headers["X-HubSpot-RateLimit-Daily"]),
            int(response.headers["X-HubSpot-RateLimit-Daily-Remaining"]))


def refused(config, sb) -> re.Match[str]:
    result = vk(config, sb, "backup")
    assert result.returncode == 6, (result.returncode, result.stderr[-1500:])
    line = result.stderr.strip()
    assert "\n" not in line and "Fix:" in line and "api_reserve" in line
    found = NEEDS.search(line)
    assert found, line
    return found


@pytest.mark.parametrize("vendor,reserve,daily", [("hubspot", "99.999%", 1_000_000),
                                                  ("salesforce", "99.9%", 15_000)])
def test_a_run_that_cannot_fit_is_refused_with_the_numbers(tmp_path, sandbox, vendor, reserve,
                                                           daily):
    config = write_config(tmp_path, sandbox, vendor, full_every=None,
                          extra_source=f'api_reserve = "{reserve}"')
    assert vk(config, sandbox, "locations", "init").returncode == 0
    found = refused(config, sandbox)
    need, usable, left, limit, kept = map(int, found.groups())
    assert limit == daily and usable == max(0, left - kept) and need > usable
    assert kept == math.ceil(round(limit * float(reserve.rstrip("%")) / 100, 6))
    # nothing was exported, nothing stored; the refusal is a failed run, not the vendor's fault
    listing = json.loads(vk(config, sandbox, "snapshots", "--json").stdout)
    assert listing["snapshots"] == []


def test_the_reserve_is_respected(tmp_path, sandbox):
    config = write_config(tmp_path, sandbox, "hubspot", full_every=None,
                          extra_source='api_reserve = "99.999%"')
    assert vk(config, sandbox, "locations", "init").returncode == 0
    need = int(refused(config, sandbox).group(1))
    limit, left = remaining(sandbox)
    # A reserve leaving 60 requests fewer than the run needs (after its ~50 planning requests):
    short = (left - need + 10) / limit * 100
    config.write_text(config.read_text().replace('"99.999%"', f'"{short:.6f}%"'))
    assert int(refused(config, sandbox).group(1)) >= need - 5
    # … and one leaving 100 more: the run goes ahead and stays out of the reserve.
    limit, left = remaining(sandbox)
    roomy = (left - need - 150) / limit * 100
    config.write_text(config.read_text().replace(f'"{short:.6f}%"', f'"{roomy:.6f}%"'))
    kept = math.ceil(limit * roomy / 100)
    report = backup(config, sandbox)
    assert report["status"] == "ok"
    assert remaining(sandbox)[1] >= kept
    usage = json.loads(vk(config, sandbox, "status", "--json").stdout)["api_usage"]
    assert usage and usage[0]["requests"] > 50 and usage[0]["runs"] == 1
