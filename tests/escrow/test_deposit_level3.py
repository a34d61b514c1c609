"""Level-3 escrow verification (SLOW: a few minutes, most of it pip installing the deposited
wheel's dependencies into a new venv): a local escrow location, then a clean room where the
*deposited* vaultkeeper drills the escrow snapshot with the escrow key and builds the emergency
package. Also checks the local kit folder and that the verification is stored."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from vk_backup import FAKE_SECRET, make_config, vk

from vaultkeeper.db import escrow as escrowdb
from vaultkeeper.db import open_state_db

ESCROW_PASSWORD = "escrow-" + FAKE_SECRET + "-local"


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.returncode, result.stdout[-3000:],
                                    result.stderr[-3000:])
    assert FAKE_SECRET not in result.stdout + result.stderr
    return result


@pytest.mark.slow
def test_level3_clean_room_with_a_local_escrow_location(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    key = secrets / "escrow.key"
    key.write_text(ESCROW_PASSWORD + "\n")
    key.chmod(0o600)
    escrow_repo = tmp_path / "agent-disk" / "escrow"
    config = make_config(tmp_path, records=30, locations=[("nas", str(tmp_path / "loc" / "nas"))],
                         extra=f'[escrow]\nurl = "{escrow_repo}"\n'
                               f'escrow_password = {{ file = "{key}" }}\n')
    _ok(vk(config, "locations", "init"))
    _ok(vk(config, "backup"))
    _ok(vk(config, "drill"))
    dep = json.loads(_ok(vk(config, "escrow", "deposit", "--json", timeout=600)).stdout)
    kit = Path(str(escrow_repo) + "-kit")
    assert (escrow_repo / "config").is_file() and (kit / "inventory.json").is_file()
    assert dep["kit"] == str(kit)

    result = _ok(vk(config, "escrow", "verify", "--level", "3", "--json", timeout=1800))
    report = json.loads(result.stdout)
    assert report["result"] == "verified" and report["level"] == 3
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["install"]["ok"]
    assert checks["drill"]["ok"] and "verified" in checks["drill"]["detail"]
    assert checks["emergency package"]["ok"]
    assert {"level1_s", "level2_s", "level3_s"} <= set(report["durations"])
    stored = escrowdb.verifications(open_state_db(tmp_path / ".vaultkeeper"))
    assert stored[0]["level"] == 3 and stored[0]["result"] == "verified"
    assert stored[0]["snapshot_id"] == dep["snapshot_id"]
    # Nothing of the clean room (venv, plaintext restore, key file) is left behind.
    assert not list((tmp_path / ".vaultkeeper").glob("emergency-run-*"))
