"""Precedence (defaults < file < VAULTKEEPER_* environment < overrides) and config discovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultkeeper.config import Secret, find_config_file, load_settings
from vaultkeeper.connectors.hubspot import API_URL as HUBSPOT_URL
from vaultkeeper.errors import ConfigError

MINIMAL = '[source]\nconnector = "sandbox"\n'


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "vaultkeeper.toml"
    path.write_text(MINIMAL + 'page_size = 10\nobjects = ["contacts"]\n'
                              '[schedule]\nbackup = "every day at 02:00"\n'
                              '[paths]\nexport_dir = "exports"\n')
    return path


def test_defaults(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('[source]\nconnector = "hubspot"\n'
                                     'token = { env = "T" }\n')
    s = load_settings(tmp_path / "c.toml", env={})
    assert s.config_file == tmp_path / "c.toml" and s.base_dir == tmp_path
    assert s.source.base_url == HUBSPOT_URL   # filled in for hubspot
    assert (s.source.page_size, s.source.max_retries, s.source.timeout) == (None, 8, 60.0)
    assert (s.source.api_version, s.source.max_url_length, s.source.objects) == ("59.0", 12000, ())
    assert s.repository_password is None and s.locations == () and s.schedule == {}
    assert s.state_dir == tmp_path / ".vaultkeeper" and s.policies_dir == tmp_path / "policies"
    assert s.export_dir is None


def test_file_then_env_then_overrides(cfg: Path) -> None:
    assert load_settings(cfg, env={}).source.page_size == 10
    env = {"VAULTKEEPER_SOURCE_PAGE_SIZE": "50", "VAULTKEEPER_SOURCE_OBJECTS": "deals, notes",
           "VAULTKEEPER_SCHEDULE_BACKUP": "Every  6 Hours"}
    s = load_settings(cfg, env=env)
    assert s.source.page_size == 50 and s.source.objects == ("deals", "notes")
    assert s.schedule == {"backup": "every 6 hours"}
    s = load_settings(cfg, env=env, overrides={"source.page_size": 7,
                                               "source.objects": ("tasks",),
                                               "source.exclude": None})
    assert s.source.page_size == 7 and s.source.objects == ("tasks",)
    assert s.source.exclude == ()   # None = option not given: no override


def test_empty_environment_variable_is_unset(cfg: Path) -> None:
    assert load_settings(cfg, env={"VAULTKEEPER_SOURCE_PAGE_SIZE": ""}).source.page_size == 10


def test_relative_paths(cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # File values resolve against the file's directory, environment values against the cwd.
    assert load_settings(cfg, env={}).export_dir == tmp_path / "exports"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    s = load_settings(cfg, env={"VAULTKEEPER_PATHS_EXPORT_DIR": "out"})
    assert s.export_dir == elsewhere / "out"
    s = load_settings(cfg, env={}, overrides={"paths.export_dir": Path("/srv/x")})
    assert s.export_dir == Path("/srv/x")


def test_secret_from_environment_references_the_variable(cfg: Path) -> None:
    env = {"VAULTKEEPER_REPOSITORY_PASSWORD": "pw-value"}
    secret = load_settings(cfg, env=env).repository_password
    assert secret == Secret("env", "VAULTKEEPER_REPOSITORY_PASSWORD")
    assert secret is not None and secret.reveal() == "pw-value"


def test_override_cannot_carry_an_inline_secret(cfg: Path) -> None:
    with pytest.raises(ConfigError, match="inline secrets are refused") as info:
        load_settings(cfg, env={}, overrides={"repository.password": "pw-value"})
    assert "pw-value" not in info.value.one_line()


def test_override_errors_name_the_option(cfg: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, env={}, overrides={"source.page_size": 0})
    assert info.value.one_line().startswith(
        "command-line option for [source] page_size: must be at least 1")
    with pytest.raises(ConfigError, match=r"unknown setting 'source\.pages'"):
        load_settings(cfg, env={}, overrides={"source.pages": 1})


def test_local_location_urls_are_absolute(tmp_path: Path, cfg: Path) -> None:
    cfg.write_text(MINIMAL + '[repository]\npassword = { env = "P" }\n'
                             '[[locations]]\nname = "a"\nurl = "repos/a"\n'
                             '[[locations]]\nname = "b"\nurl = "local:~/b"\n'
                             '[[locations]]\nname = "c"\nurl = "sftp:u@h:/srv/c"\n')
    urls = [loc.url for loc in load_settings(cfg, env={}).locations]
    assert urls == [str(tmp_path / "repos/a"), str(Path("~/b").expanduser()), "sftp:u@h:/srv/c"]


def test_find_config_file_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, work, xdg = tmp_path / "home", tmp_path / "work", tmp_path / "xdg"
    for d in (home / ".config/vaultkeeper", work, xdg / "vaultkeeper"):
        d.mkdir(parents=True)
    monkeypatch.chdir(work)
    env: dict[str, str] = {"HOME": str(home)}
    assert find_config_file(None, env) is None
    user = home / ".config/vaultkeeper/vaultkeeper.toml"
    user.write_text(MINIMAL)
    assert find_config_file(None, env) == user
    (xdg / "vaultkeeper/vaultkeeper.toml").write_text(MINIMAL)
    assert find_config_file(None, {**env, "XDG_CONFIG_HOME": str(xdg)}) == \
        xdg / "vaultkeeper/vaultkeeper.toml"
    (work / "vaultkeeper.toml").write_text(MINIMAL)
    assert find_config_file(None, env) == work / "vaultkeeper.toml"
    named = tmp_path / "named.toml"
    named.write_text(MINIMAL)
    assert find_config_file(None, {**env, "VAULTKEEPER_CONFIG": str(named)}) == named
    explicit = tmp_path / "explicit.toml"
    explicit.write_text(MINIMAL)
    assert find_config_file(explicit, {**env, "VAULTKEEPER_CONFIG": str(named)}) == explicit
