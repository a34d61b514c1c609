"""The escrow restic key with the real restic: added to local and S3 (rclone serve s3)
repositories, opens each with plain restic, can be revoked (then opens nothing) while the
organisation's key keeps working; secrets never in argv, output or the state database."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from servers import free_port, rclone_restic, rclone_s3
from vk_backup import FAKE_SECRET, make_config, vk, vk_json

from vaultkeeper.config import Secret, find_config_file, load_settings
from vaultkeeper.errors import UsageError
from vaultkeeper.services.escrow.key import add_escrow_key, revoke_escrow_key

KEY, S3_SECRET = "vk-escrow-access", "vk-escrow-" + FAKE_SECRET


def plain_restic(repo: str, password_file: Path, *args: str,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """restic as an escrow agent would run it, without vaultkeeper."""
    return subprocess.run(["restic", "-r", repo, *args], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, RESTIC_PASSWORD_FILE=str(password_file),
                                                **(env or {})))


def s3_config(tmp_path: Path, port: int) -> Path:
    url = f"s3:http://127.0.0.1:{port}/escrow-bucket/vaultkeeper"
    config = make_config(tmp_path, locations=[("nas", str(tmp_path / "loc" / "nas")),
                                              ("disk", str(tmp_path / "loc" / "disk")),
                                              ("offsite", url)])
    config.write_text(config.read_text().replace(
        f'url = "{url}"\n',
        f'url = "{url}"\naccess_key = {{ env = "VK_S3_KEY" }}\n'
        'secret_key = { env = "VK_S3_SECRET" }\n'))
    return config


def test_escrow_key_opens_every_repository_and_can_be_revoked(tmp_path, argv_log):
    port = free_port()
    (tmp_path / "s3" / "escrow-bucket").mkdir(parents=True)
    config = s3_config(tmp_path, port)
    env = {"VK_S3_KEY": KEY, "VK_S3_SECRET": S3_SECRET, **argv_log.env}
    s3_env = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET}
    repos = {"nas": str(tmp_path / "loc" / "nas"), "disk": str(tmp_path / "loc" / "disk"),
             "offsite": f"s3:http://127.0.0.1:{port}/escrow-bucket/vaultkeeper"}
    org_key = tmp_path / "secrets" / "repository.key"
    escrow_pw = tmp_path / "agent" / "escrow.key"
    escrow_pw.parent.mkdir(mode=0o700)
    outputs: list[str] = []
    with rclone_s3(tmp_path / "s3", port, KEY, S3_SECRET):
        init = vk(config, "locations", "init", env=env)
        assert init.returncode == 0, init.stderr
        backup = vk_json(config, "backup", env=env)
        assert backup["status"] == "ok"
        added = vk(config, "escrow", "key", "add", "--out", str(escrow_pw), "--json", env=env)
        assert added.returncode == 0, added.stderr
        outputs.append(added.stdout + added.stderr)
        report = json.loads(added.stdout)
        assert [(r["location"], r["result"]) for r in report["locations"]] == [
            ("nas", "added"), ("disk", "added"), ("offsite", "added")]
        ids = {r["location"]: r["key_id"] for r in report["locations"]}
        assert all(len(i) == 8 for i in ids.values())
        assert escrow_pw.stat().st_mode & 0o777 == 0o600
        escrow_value = escrow_pw.read_text().strip()
        assert len(escrow_value) >= 40 and escrow_value != FAKE_SECRET
        # The agent opens every repository with plain restic and its own password alone.
        for name, repo in repos.items():
            snaps = plain_restic(repo, escrow_pw, "snapshots", "--json", env=s3_env)
            assert snaps.returncode == 0, (name, snaps.stderr)
            # Copies get their own id and name the primary's as "original".
            assert [s.get("original") or s["id"] for s in json.loads(snaps.stdout)] == [
                backup["snapshot_id"]]
        # Idempotent: a second add (by reference) finds the key and adds nothing.
        again = vk_json(config, "escrow", "key", "add", "--password", f"file:{escrow_pw}",
                        env=env)
        assert [r["result"] for r in again["locations"]] == ["exists"] * 3
        assert {r["location"]: r["key_id"] for r in again["locations"]} == ids
        listed = vk_json(config, "escrow", "key", "list", env=env)
        outputs.append(json.dumps(listed))
        for loc in listed["locations"]:
            roles = sorted((k["role"], k["id"]) for k in loc["keys"])
            assert [r for r, _ in roles] == ["escrow", "vaultkeeper"], loc
            assert ("escrow", ids[loc["location"]]) in roles
        assert listed["problems"] == []
        # vaultkeeper's own key is refused, before anything is removed.
        own = next(k["id"] for k in listed["locations"][0]["keys"] if k["role"] == "vaultkeeper")
        refused = vk(config, "escrow", "key", "revoke", own, "--location", "nas", env=env)
        assert refused.returncode == 2
        assert "the key vaultkeeper itself uses" in refused.stderr
        assert plain_restic(repos["nas"], escrow_pw, "cat", "config").returncode == 0
        # Revoke: the escrow password opens nothing; the organisation's key still works.
        revoked = vk_json(config, "escrow", "key", "revoke", "--all", env=env)
        assert sorted((r["location"], r["result"], r["key_id"]) for r in revoked["locations"]) \
            == sorted((name, "removed", ids[name]) for name in repos)
        for name, repo in repos.items():
            gone = plain_restic(repo, escrow_pw, "snapshots", env=s3_env)
            assert gone.returncode != 0 and "wrong password or no key found" in gone.stderr, name
            still = plain_restic(repo, org_key, "snapshots", env=s3_env)
            assert still.returncode == 0, (name, still.stderr)
        after = vk_json(config, "escrow", "key", "list", env=env)
        assert all([k["role"] for k in loc["keys"]] == ["vaultkeeper"]
                   for loc in after["locations"])
        nothing = vk(config, "escrow", "key", "revoke", "--all", env=env)
        assert nothing.returncode == 2 and "no escrow key is recorded" in nothing.stderr
        outputs += [json.dumps(revoked), json.dumps(after), refused.stderr]
    # Secrets: never in any argv restic was given, any output, or the state database.
    invocations = argv_log.invocations()
    assert any(argv[:2] == ["key", "add"] for argv in invocations)
    assert any(argv[:2] == ["key", "remove"] for argv in invocations)
    for argv in invocations:
        joined = " ".join(argv)
        for secret in (FAKE_SECRET, escrow_value, S3_SECRET):
            assert secret not in joined, argv
    everything = "".join(outputs) + init.stdout + init.stderr
    for secret in (FAKE_SECRET, escrow_value, S3_SECRET):
        assert secret not in everything
    db = (tmp_path / ".vaultkeeper" / "state.db").read_bytes()
    assert FAKE_SECRET.encode() not in db and escrow_value.encode() not in db
    assert ids["nas"].encode() in db


def test_service_level_argv_and_refusals(tmp_path, monkeypatch):
    config = make_config(tmp_path)
    assert vk(config, "locations", "init").returncode == 0
    settings = load_settings(find_config_file(config))
    monkeypatch.setenv("VK_ESCROW_PW", "escrow-" + FAKE_SECRET)
    escrow = Secret(kind="env", ref="VK_ESCROW_PW")
    argvs: list[list[str]] = []
    outcomes = add_escrow_key(settings, escrow, on_exec=argvs.append)
    assert [o.result for o in outcomes] == ["added", "added"]
    assert argvs and all(FAKE_SECRET not in " ".join(a) for a in argvs)
    key_add = next(a for a in argvs if "add" in a)
    assert "--new-password-file" in key_add
    # The new-password file is a private temp file, gone afterwards.
    new_file = key_add[key_add.index("--new-password-file") + 1]
    assert not Path(new_file).exists()
    # The escrow password may not be the organisation's own.
    assert settings.repository_password is not None
    with pytest.raises(UsageError, match="escrow password is the repository password"):
        add_escrow_key(settings, settings.repository_password)
    # A key id that exists nowhere is reported per location, not an error per se.
    results = revoke_escrow_key(settings, "deadbeef", on_exec=argvs.append)
    assert {r.result for r in results} == {"not-found"}
    cli = vk(config, "escrow", "key", "revoke", "deadbeef")
    assert cli.returncode == 2 and "no key deadbeef in any repository" in cli.stderr
    # Offline disk not plugged in: skipped, the run is partial (exit 3), the rest done.
    text = config.read_text().replace('name = "disk"\nurl = "',
                                      'name = "disk"\noffline = true\nurl = "')
    text = text.replace(str(tmp_path / "loc" / "disk"), str(tmp_path / "unplugged" / "x" / "d"))
    config.write_text(text)
    revoked = vk(config, "escrow", "key", "revoke", "--all", "--json")
    assert revoked.returncode == 3, revoked.stderr
    results_json = {r["location"]: r["result"] for r in json.loads(revoked.stdout)["locations"]}
    assert results_json == {"nas": "removed", "disk": "skipped"}
    assert "usage" not in revoked.stderr.lower()


def test_append_only_location_gets_the_key_but_revoke_says_why_it_cannot(tmp_path):
    port = free_port()
    config = make_config(tmp_path, locations=[
        ("nas", str(tmp_path / "loc" / "nas")),
        ("vault", f"rest:http://127.0.0.1:{port}/repo/")])
    config.write_text(config.read_text().replace(
        f'url = "rest:http://127.0.0.1:{port}/repo/"\n',
        f'url = "rest:http://127.0.0.1:{port}/repo/"\nappend_only = true\n'))
    escrow_pw = tmp_path / "escrow.key"
    with rclone_restic(tmp_path / "rest", port, append_only=True):
        assert vk(config, "locations", "init").returncode == 0
        added = vk_json(config, "escrow", "key", "add", "--out", str(escrow_pw))
        assert [r["result"] for r in added["locations"]] == ["added", "added"]
        revoked = vk(config, "escrow", "key", "revoke", "--all", "--json")
        assert revoked.returncode == 3
        results = {r["location"]: r for r in json.loads(revoked.stdout)["locations"]}
        assert results["nas"]["result"] == "removed"
        assert results["vault"]["result"] == "failed"
        assert "on the server itself" in results["vault"]["detail"]
        # Still recorded as active there, so `escrow key list` keeps showing it.
        listed = vk_json(config, "escrow", "key", "list")
        vault = next(loc for loc in listed["locations"] if loc["location"] == "vault")
        assert sorted(k["role"] for k in vault["keys"]) == ["escrow", "vaultkeeper"]
