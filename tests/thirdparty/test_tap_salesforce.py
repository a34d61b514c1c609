"""singer-io tap-salesforce (PyPI, its own virtualenv) syncs the sandbox: sign-in with a refresh
token at its hard-coded login.salesforce.com, describeGlobal + every describe, queryAll paging;
its per-stream record counts equal the sandbox's truth (deleted rows included)."""

from __future__ import annotations

import json
import subprocess

import pytest
from vk_thirdparty import client_env, singer_counts, venv

from vaultkeeper.sandbox import Sandbox
from vaultkeeper.sandbox.sf_oauth import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN

# The first run builds the client's virtualenv from PyPI (minutes); later runs reuse it.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]
PACKAGE = "tap-salesforce==2.8.1"


@pytest.fixture(scope="module")
def tap():
    return venv("tap-salesforce", PACKAGE) / "bin" / "tap-salesforce"


def test_tap_salesforce_counts_equal_the_sandbox(tap, tmp_path):
    with Sandbox(records=240, seed=4) as sb:
        config = tmp_path / "config.json"
        config.write_text(json.dumps({
            "refresh_token": REFRESH_TOKEN, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "start_date": "2000-01-01T00:00:00Z",
            "api_type": "REST", "select_fields_by_default": True}))
        env = client_env(sb, ("login.salesforce.com", "test.salesforce.com"))
        found = subprocess.run([str(tap), "--config", str(config), "--discover"],
                               capture_output=True, text=True, env=env, timeout=600)
        assert found.returncode == 0, found.stderr[-3000:]
        catalog = json.loads(found.stdout)
        streams = {s["stream"] for s in catalog["streams"]}
        assert streams == set(sb.expected()["salesforce"])
        for stream in catalog["streams"]:
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"]["selected"] = True
        properties = tmp_path / "catalog.json"
        properties.write_text(json.dumps(catalog))
        synced = subprocess.run([str(tap), "--config", str(config), "--properties",
                                 str(properties)], capture_output=True, text=True, env=env,
                                timeout=600)
        assert synced.returncode == 0, synced.stderr[-3000:]
        truth = {name: e["total"] for name, e in sb.expected()["salesforce"].items()}
        assert singer_counts(synced.stdout) == truth
        assert sb.stats()["salesforce"]["requests"] > len(truth) * 2
