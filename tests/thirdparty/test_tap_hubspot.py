"""singer-io tap-hubspot (PyPI, its own virtualenv) syncs the sandbox through the endpoints it
really calls — v3 contacts and owners, v2 companies (paged + detail), v1 deals (+ v3 batch
read), v1 deal pipelines, v1 engagements — and its per-stream counts equal the sandbox's truth."""

from __future__ import annotations

import json
import subprocess

import pytest
from vk_thirdparty import client_env, singer_counts, venv

from vaultkeeper.sandbox import Sandbox
from vaultkeeper.sandbox.hs_meta import owners_payload, pipelines_payload

# The first run builds the client's virtualenv from PyPI (minutes); later runs reuse it.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]
PACKAGE = "tap-hubspot==4.5.0"
STREAMS = ("contacts", "companies", "deals", "owners", "deal_pipelines", "engagements")


@pytest.fixture(scope="module")
def tap():
    return venv("tap-hubspot", PACKAGE) / "bin" / "tap-hubspot"


def test_tap_hubspot_counts_equal_the_sandbox(tap, tmp_path):
    with Sandbox(records=260, seed=6) as sb:
        config = tmp_path / "config.json"
        # A private-app token goes in api_key (sent as a Bearer token).
        config.write_text(json.dumps({"api_key": sb.token, "start_date": "2000-01-01T00:00:00Z",
                                      "select_fields_by_default": True}))
        env = client_env(sb, ("api.hubapi.com",))
        found = subprocess.run([str(tap), "--config", str(config), "--discover"],
                               capture_output=True, text=True, env=env, timeout=600)
        assert found.returncode == 0, found.stderr[-3000:]
        catalog = json.loads(found.stdout)
        assert set(STREAMS) <= {s["tap_stream_id"] for s in catalog["streams"]}
        for stream in catalog["streams"]:
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"]["selected"] = stream["tap_stream_id"] in STREAMS
        properties = tmp_path / "catalog.json"
        properties.write_text(json.dumps(catalog))
        synced = subprocess.run([str(tap), "--config", str(config), "--properties",
                                 str(properties)], capture_output=True, text=True, env=env,
                                timeout=900)
        assert synced.returncode == 0, synced.stderr[-4000:]
        live = {name: e["live"] for name, e in sb.expected()["hubspot"].items()}
        truth = {"contacts": live["contacts"], "companies": live["companies"],
                 "deals": live["deals"], "engagements": live["notes"],
                 "owners": sum(not o["archived"] for o in owners_payload()),
                 "deal_pipelines": len(pipelines_payload("deals") or [])}
        assert singer_counts(synced.stdout) == truth
