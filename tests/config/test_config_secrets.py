"""The Secret type: hidden repr, resolution of env/file/command references, errors."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from pathlib import Path

import pytest

from vaultkeeper.config import Secret, load_settings
from vaultkeeper.config import secrets as config  # COMMAND_TIMEOUT lives in config.secrets
from vaultkeeper.errors import ExitCode, SecretError

VALUE = "hunter2-top-secret"


def test_repr_and_str_hide_the_value() -> None:
    secret = Secret("env", "HUBSPOT_TOKEN").bind_env({"HUBSPOT_TOKEN": VALUE})
    assert secret.reveal() == VALUE
    for text in (repr(secret), str(secret), f"{secret}", repr([secret]),
                 repr({"t": secret}), str(dataclasses.asdict(secret))):
        assert VALUE not in text
    assert repr(secret) == str(secret) == "Secret(env:HUBSPOT_TOKEN)"
    assert secret.describe() == "env:HUBSPOT_TOKEN"


def test_copies_and_pickles_carry_only_the_reference() -> None:
    secret = Secret("env", "T").bind_env({"T": VALUE})
    secret.reveal()
    assert VALUE.encode() not in pickle.dumps(secret)
    clone = copy.deepcopy(secret)
    assert clone == secret and "_value" not in vars(clone)


def test_settings_repr_hides_every_secret(tmp_path: Path) -> None:
    (tmp_path / "k").write_text(VALUE)
    (tmp_path / "k").chmod(0o600)
    (tmp_path / "c.toml").write_text(
        '[source]\nconnector = "hubspot"\ntoken = { env = "TOK" }\n'
        '[repository]\npassword = { file = "k" }\n'
        '[[locations]]\nname = "s3"\nurl = "s3:https://h/b"\n'
        'access_key = { env = "AK" }\nsecret_key = { command = "cat k" }\n')
    settings = load_settings(tmp_path / "c.toml", env={"TOK": VALUE, "AK": VALUE},
                             resolve_secrets=True)
    assert [s.describe() for s in settings.secrets()] == [
        "env:TOK", "file:k", "env:AK", "command:cat k"]
    assert VALUE not in repr(settings) and VALUE not in str(dataclasses.asdict(settings))


def test_file_secret_is_stripped_and_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(f"  {VALUE}\n")
    (tmp_path / "key").chmod(0o600)
    secret = Secret("file", "key", base_dir=tmp_path)
    assert secret.file_path() == tmp_path / "key"
    assert secret.reveal() == VALUE   # surrounding whitespace trimmed, as restic does


def test_file_secret_empty(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("\n")
    (tmp_path / "key").chmod(0o600)
    with pytest.raises(SecretError, match="is empty"):
        Secret("file", "key", base_dir=tmp_path, setting="[repository] password").reveal()


def test_file_secret_mode_checked(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(VALUE)
    (tmp_path / "key").chmod(0o604)
    secret = Secret("file", "key", base_dir=tmp_path, setting="[repository] password",
                    config_file="vk.toml")
    with pytest.raises(SecretError) as info:
        secret.reveal()
    err = info.value
    assert err.exit_code == ExitCode.CONFIG
    assert err.file == "vk.toml" and err.key == "[repository] password"
    assert err.fix == f"chmod 600 {tmp_path / 'key'}"
    assert VALUE not in err.one_line()


def test_command_secret_runs_once(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    script = tmp_path / "pw.sh"
    script.write_text(f'echo run >> "{counter}"\necho {VALUE}\n')
    secret = Secret("command", f"sh {script}")
    assert secret.reveal() == VALUE
    assert secret.reveal() == VALUE
    assert counter.read_text().count("run") == 1   # cached: a password manager asks once


def test_command_secret_runs_without_a_shell(tmp_path: Path) -> None:
    # `$HOME` and `;` reach the program as literal words: nothing is interpreted by a shell.
    secret = Secret("command", "echo $HOME; touch pwned")
    assert secret.reveal() == "$HOME; touch pwned"
    assert not (Path.cwd() / "pwned").exists()


def test_command_secret_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "COMMAND_TIMEOUT", 0.3)
    with pytest.raises(SecretError, match="did not finish within"):
        Secret("command", "sleep 5", setting="[source] token").reveal()


def test_env_secret_missing_names_key() -> None:
    secret = Secret("env", "NOPE_X", setting="[source] token", config_file="c.toml")
    with pytest.raises(SecretError) as info:
        secret.bind_env({}).reveal()
    assert info.value.one_line() == (
        "c.toml: [source] token: environment variable NOPE_X is not set. Fix: export NOPE_X=… "
        "before running vaultkeeper, or change the reference")
