"""The long-tail source's settings and record rules, without running a connector: pinned
packages, secrets by reference only (also deep inside ``[source.config]``), relation and
archived rules, and masking of secrets in connector messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultkeeper.config import load_settings
from vaultkeeper.config.secrets import Secret
from vaultkeeper.connectors.thirdparty import ThirdPartyConnector
from vaultkeeper.connectors.thirdparty_shapes import ARCHIVED_FROM, is_archived, targets
from vaultkeeper.errors import ConfigError, SecretError

BASE = '[source]\nconnector = "airbyte"\npackage = "airbyte-source-close-com==0.5.30"\n'


def _load(tmp_path: Path, text: str, env: dict[str, str] | None = None):
    path = tmp_path / "vaultkeeper.toml"
    path.write_text(text)
    return load_settings(path, env=env or {})


def test_config_secrets_are_references_at_any_depth(tmp_path):
    settings = _load(tmp_path, BASE + '[source.config]\nstart_date = "2021-01-01"\n'
                     '[source.config.credentials]\nauth_type = "Token"\n'
                     'api_key = { env = "CLOSE_KEY" }\n', env={"CLOSE_KEY": "k-123"})
    credentials = settings.source.config["credentials"]
    assert isinstance(credentials["api_key"], Secret)
    assert credentials["auth_type"] == "Token"
    assert [s.setting for s in settings.secrets()] == ["[source] config.credentials.api_key"]
    assert settings.source.state_dir == tmp_path / ".vaultkeeper"


def test_inline_secret_in_connector_config_is_refused(tmp_path):
    with pytest.raises(SecretError) as err:
        _load(tmp_path, BASE + '[source.config]\napi_key = "k-123-plain"\n')
    assert "k-123-plain" not in err.value.one_line()
    assert "api_key" in err.value.one_line()


@pytest.mark.parametrize(("text", "key"), [
    ('[source]\nconnector = "singer"\n', "package"),
    ('[source]\nconnector = "singer"\npackage = "tap-pipedrive"\n', "package"),
    (BASE + '[source.relations]\n"deals" = "persons"\n', "relations"),
    (BASE + '[source.archived]\ndeals = { column = "x" }\n', "archived"),
])
def test_bad_long_tail_settings_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert f"[source] {key}" in err.value.one_line()
    assert "Fix:" in err.value.one_line()


def test_tables_cannot_come_from_the_environment(tmp_path):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, BASE, env={"VAULTKEEPER_SOURCE_CONFIG": "api_key=1"})
    assert "table in the configuration file" in err.value.one_line()


def test_archived_rules():
    assert is_archived({"status": "deleted"}, {"field": "status", "equals": "deleted"})
    assert not is_archived({"status": "won"}, {"field": "status", "equals": "deleted"})
    assert is_archived({"flags": {"deleted": True}}, {"field": "flags.deleted"})
    assert not is_archived({"flags": {"deleted": False}}, {"field": "flags.deleted"})
    assert is_archived({"is_deleted": 1}, {"field": "is_deleted", "equals": 1})
    assert is_archived({"id": 1, ARCHIVED_FROM: "deleted_deals"}, {"stream": "deleted_deals"})
    assert not is_archived({"id": 1}, {})


def test_relationtargets():
    record = {"person_id": {"name": "Ann", "value": 7}, "org_id": 3, "none": None,
              "owners": [{"id": "u1"}, {"id": "u2"}], "deep": {"ref": "x9"}, "flag": True}
    assert list(targets(record, "person_id")) == ["7"]
    assert list(targets(record, "org_id")) == ["3"]
    assert list(targets(record, "none")) == []
    assert list(targets(record, "owners")) == ["u1", "u2"]
    assert list(targets(record, "deep.ref")) == ["x9"]
    assert list(targets(record, "flag")) == []
    assert list(targets(record, "missing")) == []


def test_messages_are_masked():
    connector = ThirdPartyConnector.__new__(ThirdPartyConnector)
    connector._secrets = ["s3cr3t-value"]
    text = ("401 for https://api.pipedrive.com/v1/deals?api_token=abc123&limit=50 "
            "with key s3cr3t-value")
    masked = connector.redact(text)
    assert "abc123" not in masked and "s3cr3t-value" not in masked
    assert "api_token=***&limit=50" in masked
