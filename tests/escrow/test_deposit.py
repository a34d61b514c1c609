"""Escrow deposits end to end with the real CLI, the real restic and an S3 escrow location
(rclone serve s3): deposit the drilled snapshot, verify at levels 1 and 2, detect a tampered kit
file (level 1) and a corrupted pack (level 2), follow RESTORE.md with bash and plain restic
only, release with the escrow key password or trustee shares; secrets never in argv/output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from servers import free_port, rclone_s3
from vk_backup import FAKE_SECRET, make_config, vk

from vaultkeeper.config import load_settings
from vaultkeeper.services.escrow.deposit import deposit_age, deposit_stale

KEY, S3_SECRET = "vk-escrow-access", "vk-escrow-" + FAKE_SECRET
ESCROW_PASSWORD = "escrow-" + FAKE_SECRET + "-agent"


def _setup(root: Path, port: int) -> tuple[Path, dict[str, str]]:
    (root / "s3" / "escrow-bucket").mkdir(parents=True)
    secrets = root / "secrets"
    secrets.mkdir(mode=0o700, parents=True)
    escrow_key = secrets / "escrow.key"
    escrow_key.write_text(ESCROW_PASSWORD + "\n")
    escrow_key.chmod(0o600)
    extra = (f'[escrow]\nurl = "s3:http://127.0.0.1:{port}/escrow-bucket/deposit"\n'
             'access_key = { env = "VK_S3_KEY" }\nsecret_key = { env = "VK_S3_SECRET" }\n'
             f'escrow_password = {{ file = "{escrow_key}" }}\n'
             'release_conditions = ["insolvency", "cessation_of_service"]\nrefresh = "30d"\n')
    config = make_config(root, records=40, locations=[("nas", str(root / "loc" / "nas"))],
                         extra=extra)
    return config, {"VK_S3_KEY": KEY, "VK_S3_SECRET": S3_SECRET}


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.returncode, result.stdout[-2000:],
                                    result.stderr[-2000:])
    return result


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert FAKE_SECRET not in text
        assert S3_SECRET not in text


@pytest.mark.slow
def test_deposit_verify_tamper_corrupt_restore_release(tmp_path, argv_log):
    port = free_port()
    config, env = _setup(tmp_path, port)
    env = {**env, **argv_log.env}
    outputs: list[str] = []

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        result = vk(config, *args, env=env, timeout=900)
        outputs.extend([result.stdout, result.stderr])
        assert result.returncode == code, (args, result.returncode, result.stderr[-2000:])
        return result

    with rclone_s3(tmp_path / "s3", port, KEY, S3_SECRET):
        # Nothing verified yet: nothing to deposit.
        _ok(vk(config, "locations", "init", env=env))
        _ok(vk(config, "backup", env=env))
        refused = run("escrow", "deposit", code=1)
        assert "drill" in refused.stderr
        _ok(vk(config, "drill", env=env))

        dep = json.loads(run("escrow", "deposit", "--json").stdout)
        assert dep["key"] == "added"
        assert dep["snapshot_id"] and dep["escrow_snapshot_id"]
        kit_dir = tmp_path / "s3" / "escrow-bucket" / "deposit-kit"
        names = {p.relative_to(kit_dir).as_posix() for p in kit_dir.rglob("*") if p.is_file()}
        assert {"inventory.json", "inventory.sig", "RESTORE.md", "RESTIC_VERSION.txt",
                "SHA256SUMS", "reports/drill-report.json", "reports/drill-report.html",
                "docs/emergency.md", "signing-key.pub.pem"} <= names
        assert any(n.startswith("wheel/vaultkeeper-") and n.endswith(".whl") for n in names)
        inventory = json.loads((kit_dir / "inventory.json").read_text())
        assert inventory["snapshot_id"] == dep["snapshot_id"]
        assert inventory["release_conditions"] == ["insolvency", "cessation_of_service"]
        assert set(inventory["files"]) == names - {"inventory.json", "inventory.sig"}
        # The repository opens with the escrow password (plain restic, as the agent would).
        repo = f"s3:http://127.0.0.1:{port}/escrow-bucket/deposit"
        agent_env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET,
                         RESTIC_PASSWORD_FILE=str(tmp_path / "secrets" / "escrow.key"))
        snaps = subprocess.run(["restic", "-r", repo, "-o", "s3.bucket-lookup=path",
                                "snapshots", "--json"], capture_output=True, text=True,
                               env=agent_env, timeout=120)
        assert snaps.returncode == 0, snaps.stderr
        assert dep["escrow_snapshot_id"] in {s["id"] for s in json.loads(snaps.stdout)}

        # A second deposit of the same snapshot: key exists, restic copy adds nothing.
        again = json.loads(run("escrow", "deposit", "--json").stdout)
        assert again["key"] == "exists"
        assert again["escrow_snapshot_id"] == dep["escrow_snapshot_id"]
        settings = load_settings(config, env=dict(os.environ, **env))
        age = deposit_age(settings)
        assert age is not None and age.total_seconds() < 600
        assert not deposit_stale(settings)

        v1 = json.loads(run("escrow", "verify", "--level", "1", "--json").stdout)
        assert v1["result"] == "verified" and v1["level"] == 1
        assert {c["name"] for c in v1["checks"]} >= {"signature", "checksums", "escrow key",
                                                     "snapshot"}
        v2 = json.loads(run("escrow", "verify", "--level", "2", "--json").stdout)
        assert v2["result"] == "verified"
        assert any(c["name"] == "restic check --read-data" and c["ok"] for c in v2["checks"])

        # RESTORE.md, followed with bash and plain restic only (no vaultkeeper Python).
        _follow_runbook(kit_dir, tmp_path / "agent")

        # Tampering with a kit file fails level 1, naming the file.
        runbook = kit_dir / "RESTORE.md"
        original = runbook.read_bytes()
        runbook.write_bytes(original.replace(b"restic", b"rustic", 1))
        bad = run("escrow", "verify", "--level", "1", code=4)
        assert "RESTORE.md" in bad.stderr
        bad_json = json.loads(run("escrow", "verify", "--json", code=4).stdout)
        assert any("RESTORE.md" in p for p in bad_json["problems"])
        runbook.write_bytes(original)
        run("escrow", "verify")

        # Release with the escrow key password: the emergency package from the deposit.
        released = json.loads(run("escrow", "release", "--out", str(tmp_path / "released"),
                                  "--password", f"file:{tmp_path / 'secrets' / 'escrow.key'}",
                                  "--json").stdout)
        assert released["snapshot_id"] == dep["snapshot_id"]
        assert sum(released["package"]["counts"].values()) > 0
        assert (tmp_path / "released" / "RUNBOOK.md").is_file()

        # Release with trustee shares (which recover the repository password).
        sheets = tmp_path / "sheets"
        run("escrow", "keys", "split", "-m", "2", "-n", "3", "--out", str(sheets))
        run("escrow", "release", "--out", str(tmp_path / "released2"),
            str(sheets / "share-1-of-3.txt"), str(sheets / "share-3-of-3.txt"))
        assert (tmp_path / "released2" / "RUNBOOK.md").is_file()

        # A corrupted pack fails level 2 (level 1 still passes: it does not read the data).
        packs = sorted((tmp_path / "s3" / "escrow-bucket" / "deposit" / "data").rglob("*"))
        pack = max((p for p in packs if p.is_file()), key=lambda p: p.stat().st_size)
        data = bytearray(pack.read_bytes())
        data[len(data) // 2] ^= 0xFF
        pack.write_bytes(bytes(data))
        run("escrow", "verify", "--level", "1")
        broken = run("escrow", "verify", "--level", "2", code=4)
        assert "read-data" in broken.stderr

    _no_secret(*outputs)
    for argv in argv_log.invocations():
        _no_secret(" ".join(argv))
        assert ESCROW_PASSWORD not in " ".join(argv)


def _follow_runbook(kit_dir: Path, agent: Path) -> None:
    """Run every ```bash block of RESTORE.md with bash, feeding what it reads on stdin."""
    shutil.copytree(kit_dir, agent)
    text = (agent / "RESTORE.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```bash\n")[1:]]
    assert blocks, "RESTORE.md has no bash block"
    script = "set -euo pipefail\n" + "\n".join(blocks)
    env = {"PATH": os.environ["PATH"], "HOME": str(agent), "LANG": "C"}
    answers = f"{ESCROW_PASSWORD}\n{KEY}\n{S3_SECRET}\n"
    done = subprocess.run(["bash", "-c", script], cwd=agent, input=answers, capture_output=True,
                          text=True, timeout=300, env=env)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    assert "OK" in done.stdout and "FAILED" not in done.stdout
    manifests = list((agent / "restored").rglob("manifest.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text())
    objects = manifests[0].parent / "objects"
    assert manifest["objects"] and all((objects / f"{name}.ndjson").is_file()
                                       for name in manifest["objects"])
    assert oct((agent / "escrow.key").stat().st_mode & 0o777) == "0o600"
