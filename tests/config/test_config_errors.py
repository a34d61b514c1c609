"""Every bad configuration gives one line naming file, key and fix, exit 5, and no secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MINIMAL = '[source]\nconnector = "sandbox"\n'
SECRET = "s3cr3t-VALUE-4242"
PASSWORD = '[repository]\npassword = { file = "repo.key" }\n'
LOCATION = '[[locations]]\nname = "nas"\nurl = "repo"\n'


def _case(id_: str, toml: str, key: str, message: str, fix: str, *,
          env: dict[str, str] | None = None) -> object:
    return pytest.param(toml, env or {}, key, message, fix, id=id_)


CASES = [
    # --- inline secrets: refused, value never echoed
    _case("inline-token", f'[source]\nconnector = "hubspot"\ntoken = "{SECRET}"\n',
          "[source] token", "inline secrets are refused",
          'use token = { env = "HUBSPOT_TOKEN" }, { file = "…" } (mode 0600) or '
          '{ command = "…" }'),
    _case("inline-password", MINIMAL + f'[repository]\npassword = "{SECRET}"\n',
          "[repository] password", "inline secrets are refused", "password = { env = "),
    _case("inline-location-secret-key",
          MINIMAL + PASSWORD + LOCATION + f'access_key = {{ env = "AK" }}\n'
          f'secret_key = "{SECRET}"\n',
          '[[locations]] #1 "nas" secret_key', "inline secrets are refused",
          'secret_key = { env = "NAS_SECRET_KEY" }'),
    _case("inline-unknown-consumer-secret",
          f'[source]\nconnector = "salesforce"\nconsumer_secret = "{SECRET}"\n',
          "[source] consumer_secret", "inline secrets are refused",
          "consumer_secret is not a vaultkeeper setting"),
    _case("inline-client-secret",
          f'[source]\nconnector = "salesforce"\nclient_secret = "{SECRET}"\n',
          "[source] client_secret", "inline secrets are refused",
          'use client_secret = { env = "SOURCE_CLIENT_SECRET" }'),
    _case("inline-refresh-token-nested",
          f'[source]\nconnector = "sandbox"\n[source.oauth]\nrefresh_token = "{SECRET}"\n',
          "[source.oauth] refresh_token", "inline secrets are refused", "remove it"),
    _case("inline-token-top-level", f'token = "{SECRET}"\n' + MINIMAL,
          "token", "inline secrets are refused", "written in [source]: token = { env = "),
    _case("password-in-location-url",
          MINIMAL + PASSWORD + f'[[locations]]\nname = "r"\nurl = "rest:https://u:{SECRET}@h/"\n',
          '[[locations]] #1 "r" url', "the URL holds a password", "secret_key"),
    _case("password-in-base-url",
          f'[source]\nconnector = "hubspot"\nbase_url = "https://u:{SECRET}@api.example"\n',
          "[source] base_url", "the URL holds a password", "token = { env"),
    # --- secret references that do not resolve
    _case("missing-env-var", '[source]\nconnector = "hubspot"\ntoken = { env = "HS_TOK" }\n',
          "[source] token", "environment variable HS_TOK is not set", "export HS_TOK="),
    _case("empty-env-var", '[source]\nconnector = "hubspot"\ntoken = { env = "HS_TOK" }\n',
          "[source] token", "environment variable HS_TOK is empty", "export HS_TOK=",
          env={"HS_TOK": "  "}),
    _case("missing-secret-file", MINIMAL + '[repository]\npassword = { file = "nope.key" }\n',
          "[repository] password", "nope.key does not exist", "chmod 600"),
    _case("command-prints-nothing", MINIMAL + '[repository]\npassword = { command = "true" }\n',
          "[repository] password", "printed nothing", "print the secret on stdout"),
    _case("command-not-found",
          MINIMAL + '[repository]\npassword = { command = "no-such-tool-xyz show k" }\n',
          "[repository] password", "'no-such-tool-xyz' not found", "install no-such-tool-xyz"),
    _case("command-unbalanced-quotes",
          MINIMAL + '[repository]\npassword = { command = "pass show \'crm" }\n',
          "[repository] password", "cannot be split into words", "quote it"),
    _case("unknown-secret-kind", MINIMAL + '[repository]\npassword = { vault = "x" }\n',
          "[repository] password", "unknown secret kind 'vault'", "{ env = "),
    _case("secret-two-kinds", MINIMAL + '[repository]\npassword = { env = "A", file = "b" }\n',
          "[repository] password", "must be a secret reference", "password = { env = "),
    _case("secret-bad-env-name", MINIMAL + '[repository]\npassword = { env = "A-B" }\n',
          "[repository] password", "is not an environment variable name", "password = {"),
    # --- unknown keys and sections
    _case("unknown-key", MINIMAL + "pagesize = 10\n", "[source] pagesize", "unknown key",
          "did you mean page_size?"),
    _case("unknown-section", '[sorce]\nconnector = "sandbox"\n', "[sorce]", "unknown section",
          "did you mean [source]?"),
    _case("unknown-location-key", MINIMAL + PASSWORD + LOCATION + "ofline = true\n",
          '[[locations]] #1 "nas" ofline', "unknown key", "did you mean offline?"),
    _case("key-in-wrong-section", MINIMAL + "[repository]\npage_size = 5\n",
          "[repository] page_size", "unknown key", "page_size belongs in [source]"),
    _case("key-outside-section", "records = 5\n" + MINIMAL, "records", "not inside a section",
          "records belongs in [source]"),
    _case("unknown-schedule-job", MINIMAL + '[schedule]\nbakup = "every day at 02:00"\n',
          "[schedule] bakup", "unknown key", "did you mean backup?"),
    # --- wrong types and values
    _case("page-size-string", MINIMAL + 'page_size = "ten"\n', "[source] page_size",
          "must be an integer (got a string)", "page_size = 100"),
    _case("records-negative", MINIMAL + "records = -5\n", "[source] records",
          "must be at least 0 (got -5)", "records = 1000"),
    _case("timeout-zero", MINIMAL + "timeout = 0\n", "[source] timeout", "must be above 0",
          "timeout = 60.0"),
    _case("connector-typo", '[source]\nconnector = "hubspt"\n', "[source] connector",
          '"hubspt" is not one of hubspot, salesforce, csv, sandbox',
          'did you mean connector = "hubspot"?'),
    _case("objects-not-array", MINIMAL + 'objects = "contacts"\n', "[source] objects",
          "must be an array of names", 'objects = ["contacts", "companies"]'),
    _case("objects-duplicate", MINIMAL + 'objects = ["deals", "deals"]\n', "[source] objects",
          "lists deals more than once", "objects = ["),
    _case("objects-and-exclude", MINIMAL + 'objects = ["deals"]\nexclude = ["deals"]\n',
          "[source] exclude", "deals also listed in objects", "not both"),
    _case("bool-as-string", MINIMAL + PASSWORD + LOCATION + 'offline = "yes"\n',
          '[[locations]] #1 "nas" offline', "must be true or false", "offline = true"),
    _case("bad-api-version", '[source]\nconnector = "sandbox"\napi_version = "latest"\n',
          "[source] api_version", "must look like 59.0", 'api_version = "59.0"'),
    _case("bad-schedule", MINIMAL + '[schedule]\nbackup = "daily at 2"\n', "[schedule] backup",
          '"daily at 2" is not a schedule', 'backup = "every day at 02:00"'),
    _case("bad-schedule-hour", MINIMAL + '[schedule]\ndrill = "every monday at 25:00"\n',
          "[schedule] drill", "is not a schedule", "every monday at HH:MM"),
    _case("source-not-table", 'source = "hubspot"\n', "[source]", "must be a table",
          "write it as [source]"),
    _case("no-connector", "[source]\npage_size = 5\n", "[source] connector",
          "no connector is configured", 'connector = "hubspot"'),
    _case("hubspot-without-token", '[source]\nconnector = "hubspot"\n', "[source] token",
          "required for connector hubspot", 'token = { env = "HUBSPOT_TOKEN" }'),
    _case("salesforce-without-base-url",
          '[source]\nconnector = "salesforce"\ntoken = { env = "SF" }\n', "[source] base_url",
          "required for connector salesforce", "my.salesforce.com"),
    _case("csv-without-path", '[source]\nconnector = "csv"\n', "[source] path",
          "required for connector csv", 'path = "crm-export.zip"'),
    _case("ca-file-missing", MINIMAL + 'ca_file = "corp-ca.pem"\n', "[source] ca_file",
          "corp-ca.pem does not exist", "PEM bundle"),
    # --- locations
    _case("location-without-url", MINIMAL + PASSWORD + '[[locations]]\nname = "nas"\n',
          '[[locations]] #1 "nas" url', "missing", 'url = "/srv/backup/vaultkeeper"'),
    _case("location-without-name", MINIMAL + PASSWORD + '[[locations]]\nurl = "r"\n',
          "[[locations]] #1 name", "missing", 'name = "office-nas"'),
    _case("duplicate-location-names", MINIMAL + PASSWORD + LOCATION + LOCATION,
          '[[locations]] #2 "nas" name', "duplicate location name (location #1 has it too)",
          "unique name"),
    _case("locations-single-brackets", MINIMAL + '[locations]\nname = "nas"\n',
          "[[locations]]", "must be an array of tables", "double brackets"),
    _case("location-unknown-scheme", MINIMAL + PASSWORD + '[[locations]]\nname = "x"\n'
          'url = "rclon:remote:crm"\n', '[[locations]] #1 "x" url',
          "unknown repository type rclon:", "did you mean rclone:?"),
    _case("location-bad-name", MINIMAL + PASSWORD + '[[locations]]\nname = "my nas"\nurl = "r"\n',
          '[[locations]] #1 "my nas" name', "letters, digits", 'name = "office-nas"'),
    _case("location-half-credentials", MINIMAL + PASSWORD + LOCATION +
          'access_key = { env = "AK" }\n', '[[locations]] #1 "nas" secret_key',
          "access_key and secret_key go together", "set both"),
    _case("locations-without-password", MINIMAL + LOCATION, "[repository] password",
          "restic needs it", 'password = { file = "~/.config/vaultkeeper/repository.key" }'),
]


@pytest.mark.parametrize(("toml", "env", "key", "message", "fix"), CASES)
def test_bad_configuration(vk, config_error, tmp_path: Path, toml: str, env: dict[str, str],
                           key: str, message: str, fix: str) -> None:
    (tmp_path / "repo.key").write_text("repository-password\n")
    (tmp_path / "repo.key").chmod(0o600)
    (tmp_path / "bad.toml").write_text(toml)
    result = vk("--config", "bad.toml", "config", "check", env=env)
    config_error(result, file="bad.toml", key=key, message=message, fix=fix,
                        secret=SECRET)


def test_toml_syntax_error_names_line_and_column(vk, config_error, tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text(f'[source]\nconnector = "sandbox"\ntoken = {SECRET}\n')
    line = config_error(vk("--config", "bad.toml", "config", "check"), file="bad.toml",
                               key="line 3, column 9", message="invalid TOML: Invalid value",
                               fix="correct the syntax at line 3, column 9", secret=SECRET)
    assert "toml.io" in line


def test_group_readable_secret_file(vk, config_error, tmp_path: Path) -> None:
    key = tmp_path / "repo.key"
    key.write_text(SECRET)
    key.chmod(0o640)
    (tmp_path / "c.toml").write_text(MINIMAL + '[repository]\npassword = { file = "repo.key" }\n')
    config_error(vk("--config", "c.toml", "config", "check"), file="c.toml",
                        key="[repository] password",
                        message=f"secret file {key} is readable by group or others (mode 0640)",
                        fix=f"chmod 600 {key}", secret=SECRET)


def test_secret_file_tilde_expands(vk, config_error, tmp_path: Path, home: Path) -> None:
    key = home / ".config" / "vk" / "repo.key"
    key.parent.mkdir(parents=True)
    key.write_text(SECRET)
    key.chmod(0o604)
    (tmp_path / "c.toml").write_text(MINIMAL + '[repository]\npassword = '
                                               '{ file = "~/.config/vk/repo.key" }\n')
    config_error(vk("--config", "c.toml", "config", "check"), file="c.toml",
                        key="[repository] password", message=f"secret file {key} is readable",
                        fix=f"chmod 600 {key}", secret=SECRET)
    key.chmod(0o600)
    ok = vk("--config", "c.toml", "config", "check")
    assert ok.returncode == 0, ok.stderr
    assert SECRET not in ok.stdout + ok.stderr


@pytest.mark.parametrize(("var", "value", "message", "fix"), [
    ("VAULTKEEPER_SOURCE_PAGE_SIZE", "ten", "must be an integer",
     "VAULTKEEPER_SOURCE_PAGE_SIZE=100"),
    ("VAULTKEEPER_SOURCE_RECORDS", "-5", "must be at least 0",
     "VAULTKEEPER_SOURCE_RECORDS=1000"),
    ("VAULTKEEPER_SOURCE_CONNECTOR", "hubspt", "is not one of",
     "did you mean VAULTKEEPER_SOURCE_CONNECTOR=hubspot?"),
    ("VAULTKEEPER_SCHEDULE_BACKUP", "whenever", "is not a schedule",
     "VAULTKEEPER_SCHEDULE_BACKUP=every day at 02:00 (forms:"),
    ("VAULTKEEPER_SOURCE_BASE_URL", f"https://u:{SECRET}@x", "the URL holds a password",
     "remove user:password@"),
])
def test_bad_environment_variable(vk, config_error, tmp_path: Path, var: str, value: str,
                                  message: str, fix: str) -> None:
    (tmp_path / "c.toml").write_text(MINIMAL)
    result = vk("--config", "c.toml", "config", "check", env={var: value})
    section, _, key = var.removeprefix("VAULTKEEPER_").lower().partition("_")
    config_error(result, file=None, key=f"environment variable {var} ([{section}] {key})",
                 message=message, fix=fix, secret=SECRET)


@pytest.mark.parametrize(("var", "message", "fix"), [
    ("VAULTKEEPER_SOURCE_PAGESIZE", "unknown setting [source] pagesize",
     "did you mean VAULTKEEPER_SOURCE_PAGE_SIZE?"),
    ("VAULTKEEPER_LOCATIONS_URL", "locations cannot be set from the environment",
     "edit [[locations]] in the file"),
])
def test_unknown_environment_variable(vk, config_error, tmp_path: Path, var: str, message: str,
                                      fix: str) -> None:
    (tmp_path / "c.toml").write_text(MINIMAL)
    result = vk("--config", "c.toml", "config", "check", env={var: "10"})
    config_error(result, file=None, key=f"environment variable {var}", message=message, fix=fix)


def test_failing_command_output_is_not_echoed(vk, config_error, tmp_path: Path) -> None:
    # The script prints the secret on both streams, then fails: neither may reach the user.
    (tmp_path / "leak.sh").write_text(f"echo {SECRET}; echo {SECRET} >&2; exit 3\n")
    (tmp_path / "c.toml").write_text(MINIMAL + '[repository]\npassword = '
                                               '{ command = "sh leak.sh" }\n')
    config_error(vk("--config", "c.toml", "config", "check"), file="c.toml",
                 key="[repository] password",
                 message="secret command `sh leak.sh` failed with exit status 3 (its output "
                         "is not shown)", fix="run `sh leak.sh` yourself", secret=SECRET)


def test_no_config_file_found(vk, config_error, tmp_path: Path) -> None:
    result = vk("config", "check", cwd=tmp_path)
    line = config_error(result, file=None, key=None, message="no configuration file found",
                        fix="run `vaultkeeper init`")
    assert "vaultkeeper init --demo" in line and "--config" in line


def test_missing_config_file(vk, config_error, tmp_path: Path) -> None:
    config_error(vk("--config", "gone.toml", "config", "check"), file="gone.toml",
                        key="gone.toml", message="configuration file not found",
                        fix="vaultkeeper init")


def test_vaultkeeper_config_points_nowhere(vk, config_error, tmp_path: Path) -> None:
    result = vk("config", "check", env={"VAULTKEEPER_CONFIG": str(tmp_path / "nope.toml")})
    config_error(result, file=str(tmp_path / "nope.toml"), key="nope.toml",
                        message="named by $VAULTKEEPER_CONFIG", fix="check the path")


def test_json_error_on_stdout(vk, config_error, tmp_path: Path) -> None:
    import json

    (tmp_path / "bad.toml").write_text(f'[source]\nconnector = "hubspot"\ntoken = "{SECRET}"\n')
    result = vk("--config", "bad.toml", "config", "check", "--json")
    assert result.returncode == 5
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["exit_code"] == 5
    assert data["key"] == "[source] token" and data["file"] == "bad.toml"
    assert "inline secrets are refused" in data["error"]
    assert SECRET not in result.stdout + result.stderr


def test_secret_never_in_config_show(vk, config_error, tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('[source]\nconnector = "hubspot"\n'
                                     'token = { env = "HS_TOKEN" }\n')
    env = {"HS_TOKEN": SECRET, "VAULTKEEPER_REPOSITORY_PASSWORD": SECRET}
    for args in (("config", "show"), ("config", "show", "--json"), ("config", "check"),
                 ("config", "check", "--json")):
        result = vk("--config", "c.toml", *args, env=env)
        assert result.returncode == 0, result.stderr
        assert SECRET not in result.stdout + result.stderr
    shown = vk("--config", "c.toml", "config", "show", env=env).stdout
    assert 'token = { env = "HS_TOKEN" }' in shown
    assert 'password = { env = "VAULTKEEPER_REPOSITORY_PASSWORD" }' in shown
    assert os.environ.get("HS_TOKEN") is None
