"""Drills verify only what vaultkeeper made: the manifest's HMAC (keyed by the repository
password) travels as a ``sig:`` snapshot tag; plain-restic snapshots fail unless accepted."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from vk_backup import FAKE_SECRET, make_config, vk, vk_json


def _plain_restic_snapshot(tmp_path: Path, repo: Path, export: Path, extra_tags: list[str]) -> str:
    """What an intruder with write access does: back up a self-consistent export with plain
    restic, copying vaultkeeper's tag style (manifest:<sha256 prefix>)."""
    sha = hashlib.sha256((export / "manifest.json").read_bytes()).hexdigest()
    env = dict(os.environ, RESTIC_PASSWORD=FAKE_SECRET, RESTIC_REPOSITORY=str(repo))
    args = ["restic", "backup", "--json", "-q", "--host", "vaultkeeper", "--tag", "vaultkeeper",
            "--tag", "source:sandbox", "--tag", f"manifest:{sha[:16]}"]
    for tag in extra_tags:
        args += ["--tag", tag]
    done = subprocess.run([*args, "."], cwd=export, env=env, capture_output=True, text=True,
                          check=True)
    return str(json.loads(done.stdout.splitlines()[-1])["snapshot_id"])


def test_drill_refuses_snapshots_vaultkeeper_did_not_make(tmp_path: Path) -> None:
    repo = tmp_path / "nas"
    config = make_config(tmp_path, records=120, locations=[("nas", str(repo))])
    assert vk(config, "locations", "init").returncode == 0
    vk_json(config, "backup", "--no-prune")
    ours = vk_json(config, "drill", "--read-data-subset", "none")
    assert ours["result"] == "verified"

    # A different but self-consistent export (another seed), written with plain restic.
    other = make_config(tmp_path / "other", records=90)
    export = tmp_path / "forged"
    assert vk(other, "export", "--out", str(export)).returncode == 0
    forged = _plain_restic_snapshot(tmp_path, repo, export, [])
    refused = vk(config, "drill", "--snapshot", forged, "--read-data-subset", "none", "--json")
    assert refused.returncode == 4, (refused.returncode, refused.stderr)
    data = json.loads(refused.stdout)
    assert data["result"] == "failed"
    assert forged[:8] in refused.stderr and "not signed" in refused.stderr
    assert "--accept-unsigned" in refused.stderr
    accepted = vk_json(config, "drill", "--snapshot", forged, "--read-data-subset", "none",
                       "--accept-unsigned")
    assert accepted["result"] == "verified"
    assert any("not signed" in w for w in accepted["warnings"])

    # A made-up signature is refused even with --accept-unsigned.
    fake = _plain_restic_snapshot(tmp_path, repo, export, ["sig:" + "0" * 32])
    bad = vk(config, "drill", "--snapshot", fake, "--read-data-subset", "none",
             "--accept-unsigned")
    assert bad.returncode == 4 and "does not match" in bad.stderr, bad.stderr
