"""airbyte-source-hubspot (PyPI, its own virtualenv): discover must list every stream (property
definitions of every standard type, tier-limited ones included), and a full-refresh read of the
CRM streams must return exactly the sandbox's live and archived counts."""

from __future__ import annotations

import json
import subprocess

import pytest
from vk_thirdparty import client_env, venv

from vaultkeeper.sandbox import Sandbox
from vaultkeeper.sandbox.hs_meta import owners_payload, pipelines_payload

# The first run builds the client's virtualenv from PyPI (minutes); later runs reuse it.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]
PACKAGE = "airbyte-source-hubspot==5.7.0"
EMPTY = ("tickets", "products", "line_items", "leads")


@pytest.fixture(scope="module")
def source():
    return venv("airbyte-source-hubspot", PACKAGE) / "bin" / "source-hubspot"


def messages(stdout: str):
    for line in stdout.splitlines():
        if line.startswith("{"):
            yield json.loads(line)


def test_airbyte_source_hubspot_counts_equal_the_sandbox(source, tmp_path):
    with Sandbox(records=150, seed=6) as sb:
        config = tmp_path / "config.json"
        config.write_text(json.dumps({
            "credentials": {"credentials_title": "Private App Credentials",
                            "access_token": sb.token},
            "start_date": "2000-01-01T00:00:00Z"}))
        env = client_env(sb, ("api.hubapi.com",))
        found = subprocess.run([str(source), "discover", "--config", str(config)],
                               capture_output=True, text=True, env=env, timeout=600)
        assert found.returncode == 0, found.stdout[-3000:]
        catalog = next(m["catalog"] for m in messages(found.stdout) if m["type"] == "CATALOG")
        hs = sb.expected()["hubspot"]
        owners = owners_payload()
        truth = {"contacts": hs["contacts"]["live"], "companies": hs["companies"]["live"],
                 "deals": hs["deals"]["live"], "deals_archived": hs["deals"]["archived"],
                 "engagements_notes": hs["notes"]["live"],
                 "owners": sum(not o["archived"] for o in owners),
                 "owners_archived": sum(o["archived"] for o in owners),
                 "deal_pipelines": len(pipelines_payload("deals") or []),
                 "ticket_pipelines": len(pipelines_payload("tickets") or []),
                 **dict.fromkeys(EMPTY, 0)}
        assert set(truth) <= {s["name"] for s in catalog["streams"]}
        configured = tmp_path / "catalog.json"
        configured.write_text(json.dumps({"streams": [
            {"stream": s, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
            for s in catalog["streams"] if s["name"] in truth]}))
        read = subprocess.run([str(source), "read", "--config", str(config), "--catalog",
                               str(configured)], capture_output=True, text=True, env=env,
                              timeout=900)
        assert read.returncode == 0, read.stdout[-3000:]
        counts = dict.fromkeys(EMPTY, 0)
        errors = []
        for m in messages(read.stdout):
            if m["type"] == "RECORD":
                counts[m["record"]["stream"]] = counts.get(m["record"]["stream"], 0) + 1
            elif m["type"] == "TRACE" and m["trace"].get("type") == "ERROR":
                errors.append(m["trace"]["error"].get("internal_message"))
        assert errors == []
        assert counts == truth
