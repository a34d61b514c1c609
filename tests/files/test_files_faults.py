"""Files under the sandbox's faults (HTTP, in-process export): connections dropped mid-body,
5xx and 429 are retried from the start of the file and every file still arrives intact; the
limits' parsing and reasons."""

from __future__ import annotations

import hashlib

import orjson
import pytest
from vk_files import sf_file_id

from vaultkeeper.connectors.hubspot import HubSpotConnector
from vaultkeeper.connectors.salesforce import SalesforceConnector
from vaultkeeper.filelimits import FileLimits, parse_size
from vaultkeeper.sandbox import FaultConfig, Sandbox
from vaultkeeper.services.export import run_export


@pytest.mark.parametrize("vendor", ["hubspot", "salesforce"])
def test_files_survive_drops_5xx_and_429(vendor, tmp_path):
    faults = FaultConfig.parse("drop:every=3,5xx:every=2,429:every=7:retry_after=0")
    with Sandbox(records=300, seed=3, faults=faults) as sb:
        sb.files.large_size = 3 << 20   # long enough to be cut mid-body
        if vendor == "hubspot":
            conn = HubSpotConnector(sb.url, sb.token, ca_file=sb.ca_file, max_retries=12)
            objects = ["notes"]
        else:
            conn = SalesforceConnector(sb.url, sb.token, ca_file=sb.ca_file, max_retries=12)
            objects = ["Task", "Contact"]
        conn.http.backoff_cap = 0.05
        manifest = run_export(conn, tmp_path / "out", objects=objects, files=FileLimits())
        every = (sb.files.all() + sb.files.documents() if vendor == "salesforce"
                 else sb.files.hubspot_all())
        expected = {sf_file_id(f) if vendor == "salesforce" else f.id: sb.files.sha256(f)
                    for f in every}
        stats = sb.stats()
    assert manifest["files"]["failed"] == []
    assert stats["faults"]["drop"] > 0 and stats["faults"]["server_error"] > 0
    retried = manifest["requests"]["retries_by_cause"]
    assert any(cause.startswith("file:") for cause in retried), retried
    lines = [orjson.loads(x) for x in (tmp_path / "out" / "files" / "index.ndjson")
             .read_bytes().splitlines()]
    assert {x["id"]: x["sha256"] for x in lines} == expected
    for line in lines:
        data = (tmp_path / "out" / line["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == line["sha256"]
    assert not list((tmp_path / "out" / "files").glob(".*.part"))


def test_sizes_and_limits():
    assert parse_size("25 MB") == 25_000_000 and parse_size("1.5GiB") == 3 << 29
    assert parse_size(700) == 700 and parse_size("0") == 0
    for bad in ("lots", "-1", True, "5 parsecs"):
        with pytest.raises(ValueError):
            parse_size(bad)
    limits = FileLimits(max_size=1000, include=("*.PDF",), max_total=1500)
    assert limits.refuse("a.pdf", 900, 0) is None
    assert "include" in (limits.refuse("a.jpg", 10, 0) or "")
    assert "max_size" in (limits.refuse("b.pdf", 1001, 0) or "")
    assert "max_total" in (limits.refuse("c.pdf", 700, 900) or "")
