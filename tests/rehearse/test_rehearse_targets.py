"""Target resolution and the rehearsal mapping file: refusals name the cause and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultkeeper.config import load_settings
from vaultkeeper.errors import ConfigError, SecretError, UsageError
from vaultkeeper.services.rehearse import tryton
from vaultkeeper.services.rehearse.model import load_mapping, parse_lines, text_lines
from vaultkeeper.services.rehearse.targets import resolve_target


def _config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "vaultkeeper.toml"
    path.write_text('[source]\nconnector = "sandbox"\n\n' + extra, encoding="utf-8")
    return path


def test_tryton_url_target_takes_the_password_from_trytonpassfile(tmp_path):
    secret = tmp_path / "pass"
    secret.write_text("s3cret\n", encoding="utf-8")
    t = resolve_target("tryton:http://clerk@127.0.0.1:8000/crm", None,
                       env={"TRYTONPASSFILE": str(secret)})
    assert t.password is not None
    with pytest.raises(SecretError, match="readable by group or others"):
        t.password.reveal()            # 0644: refused, like every secret file
    secret.chmod(0o600)
    assert (t.kind, t.url, t.database, t.user) == ("tryton", "http://127.0.0.1:8000", "crm",
                                                   "clerk")
    assert t.password is not None and t.password.reveal() == "s3cret"
    assert "s3cret" not in repr(t) and "s3cret" not in str(t.as_json())


@pytest.mark.parametrize(("spec", "env", "error", "text"), [
    ("tryton:http://admin:pw@127.0.0.1:8000/crm", {"TRYTONPASSFILE": "x"}, UsageError,
     "holds a password"),
    ("tryton:http://127.0.0.1:8000/", {"TRYTONPASSFILE": "x"}, UsageError, "names no database"),
    ("tryton:http://127.0.0.1:8000/crm", {}, ConfigError, "no password"),
    ("sandbox:pipedrive", {}, UsageError, "no built-in sandbox"),
    ("nowhere", {}, UsageError, "unknown target"),
])
def test_bad_targets_are_refused_with_a_fix(spec, env, error, text):
    with pytest.raises(error) as info:
        resolve_target(spec, None, env=env)
    assert text in info.value.message and info.value.fix


def test_named_target_from_the_config_file(tmp_path):
    config = _config(tmp_path, '[rehearsal.test]\nkind = "tryton"\n'
                     'url = "http://127.0.0.1:8000/crm"\npassword = { env = "TRYTON_PW" }\n')
    settings = load_settings(config)
    t = resolve_target("test", settings)
    assert (t.kind, t.database, t.password.describe()) == ("tryton", "crm", "env:TRYTON_PW")
    with pytest.raises(UsageError, match="unknown target 'other' \\(test\\)"):
        resolve_target("other", settings)


def test_inline_password_in_a_target_is_refused(tmp_path):
    config = _config(tmp_path, '[rehearsal.test]\nkind = "tryton"\n'
                     'url = "http://127.0.0.1:8000/crm"\npassword = "hunter2"\n')
    with pytest.raises(SecretError) as info:
        load_settings(config)
    assert "hunter2" not in str(info.value) + info.value.fix


def test_mapping_file_is_checked(tmp_path):
    bad = tmp_path / "m.toml"
    bad.write_text('[person]\ncity = "address.town"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="not a tryton destination"):
        load_mapping("tryton", tryton.DEFAULT_MAPPING, bad, tryton.DESTINATIONS)
    bad.write_text('[person]\ntown = "address.city"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"person\.town is not a canonical field"):
        load_mapping("tryton", tryton.DEFAULT_MAPPING, bad, tryton.DESTINATIONS)
    good = tmp_path / "ok.toml"
    good.write_text('[person]\ncity = "address.city"\n', encoding="utf-8")
    mapping = load_mapping("tryton", tryton.DEFAULT_MAPPING, good, tryton.DESTINATIONS)
    assert mapping.dest("person", "city") == "address.city"
    assert "email" in mapping.dropped("person") and mapping.dropped("donation")


def test_text_lines_round_trip_any_value():
    pairs = [("body", "line 1\nline 2\\n not a newline\r\n"), ("subject", "a: b: c"),
             ("empty-ish", " ")]
    header, values = parse_lines(text_lines("vaultkeeper activity:7", pairs))
    assert header == "vaultkeeper activity:7" and values == dict(pairs)
