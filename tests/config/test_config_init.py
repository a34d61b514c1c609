"""`vaultkeeper init [--demo]`: files written, key protected, no silent overwrite, check passes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from vaultkeeper.config import load_settings
from vaultkeeper.policies import POLICY_NAMES, default_policy_texts


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_demo_writes_a_config_that_passes_check(vk, tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    result = vk("init", "--demo", "--dir", str(demo))
    assert result.returncode == 0, result.stderr
    assert "Next steps:" in result.stdout and "vaultkeeper config check" in result.stdout
    for name in POLICY_NAMES:
        assert (demo / "policies" / f"{name}.toml").read_text() == default_policy_texts()[name]
    key = demo / "secrets" / "repository.key"
    assert _mode(key) == 0o600 and _mode(key.parent) == 0o700
    assert len(key.read_text().strip()) >= 32
    check = vk("config", "check", cwd=demo)
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith(f"Configuration OK: {demo / 'vaultkeeper.toml'}")
    assert "sandbox" in check.stdout and "office-nas" in check.stdout
    assert key.read_text().strip() not in result.stdout + check.stdout + check.stderr
    assert check.stderr == ""   # no warnings: two locations, every process object exported
    data = json.loads(vk("--config", str(demo / "vaultkeeper.toml"), "config", "check",
                         "--json").stdout)
    assert data["ok"] is True and data["warnings"] == []
    assert data["settings"]["source"]["connector"] == "sandbox"
    assert data["settings"]["source"]["records"] == 2000
    assert data["settings"]["source"]["objects"][:4] == ["contacts", "companies", "deals", "notes"]
    assert [loc["url"] for loc in data["settings"]["locations"]] == [
        str(demo / "demo-locations" / "office-nas"), str(demo / "demo-locations" / "second-disk"),
        "s3:http://127.0.0.1:18455/vaultkeeper-demo/crm"]
    assert data["secrets"][0] == {"setting": "[repository] password",
                                  "reference": f"file:{key}", "resolved": True}
    assert [s["resolved"] for s in data["secrets"]] == [True, True, True]
    for name in ("s3-access-key", "s3-secret-key"):
        assert (demo / "secrets" / name).stat().st_mode & 0o777 == 0o600
    assert set(data["policies"]["sources"].values()) == {
        str(demo / "policies" / f"{n}.toml") for n in POLICY_NAMES}


def test_demo_keys_are_random(vk, tmp_path: Path) -> None:
    for d in ("a", "b"):
        assert vk("init", "--demo", "--dir", str(tmp_path / d)).returncode == 0
    key_a, key_b = (tmp_path / d / "secrets/repository.key" for d in ("a", "b"))
    assert key_a.read_text() != key_b.read_text()


def test_init_refuses_to_overwrite(vk, config_error, tmp_path: Path) -> None:
    assert vk("init").returncode == 0
    config = tmp_path / "vaultkeeper.toml"
    config.write_text("# my edits\n" + config.read_text())
    config_error(vk("init"), file=str(config), key=None,
                 message="already exists (and 5 more file(s) init writes); init does not "
                         "overwrite", fix="pass --force to replace it, or choose another --dir")
    assert config.read_text().startswith("# my edits")


def test_init_refuses_when_only_a_policy_exists(vk, config_error, tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "processes.toml").write_text("# ours\n")
    config_error(vk("init"), file=str(tmp_path / "policies" / "processes.toml"), key=None,
                 message="already exists", fix="--force")
    assert not (tmp_path / "vaultkeeper.toml").exists()


def test_force_replaces_files_but_keeps_the_demo_key(vk, tmp_path: Path) -> None:
    assert vk("init", "--demo").returncode == 0
    key = tmp_path / "secrets" / "repository.key"
    original = key.read_text()
    key.chmod(0o644)
    (tmp_path / "vaultkeeper.toml").write_text("# broken\n")
    result = vk("init", "--demo", "--force")
    assert result.returncode == 0, result.stderr
    assert "kept" in result.stdout
    assert key.read_text() == original and _mode(key) == 0o600
    assert vk("config", "check").returncode == 0


def test_starter_config_is_valid_once_secrets_exist(vk, tmp_path: Path, home: Path) -> None:
    result = vk("init")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "vaultkeeper.toml").read_text()
    assert text.count("#") > 30   # every section explained
    assert 'token = { env = "HUBSPOT_TOKEN" }' in text
    settings = load_settings(tmp_path / "vaultkeeper.toml", env={})
    assert settings.source.connector == "hubspot" and len(settings.locations) == 1
    missing = vk("config", "check")
    assert missing.returncode == 5 and "HUBSPOT_TOKEN is not set" in missing.stderr
    key = home / ".config" / "vaultkeeper" / "repository.key"
    key.parent.mkdir(parents=True)
    key.write_text("correct horse battery staple\n")
    key.chmod(0o600)
    ok = vk("config", "check", env={"HUBSPOT_TOKEN": "pat-test"})
    assert ok.returncode == 0, ok.stderr
    assert "only one location" in ok.stderr   # a warning, not a failure


def test_config_show_prints_references(vk, tmp_path: Path) -> None:
    assert vk("init", "--demo").returncode == 0
    shown = vk("config", "show", env={"VAULTKEEPER_SOURCE_RECORDS": "300"})
    assert shown.returncode == 0, shown.stderr
    assert "records = 300" in shown.stdout
    assert f'password = {{ file = "{tmp_path / "secrets/repository.key"}" }}' in shown.stdout
    data = json.loads(vk("config", "show", "--json").stdout)
    assert data["repository"]["password"] == f"file:{tmp_path / 'secrets/repository.key'}"
    assert data["source"]["records"] == 2000
