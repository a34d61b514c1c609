"""The [escrow] section: references only, credentials borrowed from a location, refresh as a
duration or a schedule phrase, a clear error when it is missing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from vk_backup import FAKE_SECRET, make_config, vk

from vaultkeeper.config import load_settings
from vaultkeeper.errors import ConfigError, SecretError
from vaultkeeper.services.escrow.deposit import deposit_age, deposit_stale, refresh_interval


def _config(tmp_path: Path, escrow: str) -> Path:
    s3 = "s3:http://127.0.0.1:9/bucket/offsite"
    config = make_config(tmp_path, locations=[("nas", str(tmp_path / "nas")), ("offsite", s3)],
                         extra="[escrow]\n" + escrow)
    config.write_text(config.read_text().replace(
        f'url = "{s3}"\n', f'url = "{s3}"\naccess_key = {{ env = "K" }}\n'
        'secret_key = { env = "S" }\n'))
    return config


def test_credentials_from_a_location_and_refresh(tmp_path: Path) -> None:
    config = _config(tmp_path, 'url = "s3:http://127.0.0.1:9/escrow/x"\n'
                               'credentials_from = "offsite"\nrefresh = "every 14 days"\n'
                               'escrow_password = { env = "ESCROW_PW" }\n'
                               'release_conditions = ["acquisition"]\n')
    settings = load_settings(config, env={"K": "k", "S": "s"})
    assert settings.escrow.access_key is not None
    assert settings.escrow.access_key.describe() == "env:K"
    assert settings.escrow.release_conditions == ("acquisition",)
    assert refresh_interval(settings) == timedelta(days=14)
    assert deposit_age(settings) is None and deposit_stale(settings)
    assert any(s.describe() == "env:ESCROW_PW" for s in settings.secrets())


@pytest.mark.parametrize(("escrow", "message"), [
    ('url = "/x"\ncredentials_from = "nowhere"\n', "no location named"),
    ('url = "/x"\nrefresh = "sometimes"\n', "duration"),
    ('url = "/x"\nrelease_conditions = ["boredom"]\n', "boredom"),
    ('url = "/x"\naccess_key = { env = "A" }\n', "go together"),
])
def test_bad_escrow_settings_are_refused(tmp_path: Path, escrow: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_config(tmp_path, escrow), env={})
    assert message in str(caught.value.one_line())


def test_inline_escrow_password_is_refused_without_echoing_it(tmp_path: Path) -> None:
    config = _config(tmp_path, f'url = "/x"\nescrow_password = "{FAKE_SECRET}"\n')
    with pytest.raises(SecretError) as caught:
        load_settings(config, env={})
    assert FAKE_SECRET not in caught.value.one_line()
    assert "escrow_password" in caught.value.one_line()


def test_commands_without_an_escrow_section_exit_5(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    for args in (["escrow", "deposit"], ["escrow", "verify"]):
        result = vk(config, *args)
        assert result.returncode == 5, result.stderr
        assert "[escrow] url" in result.stderr
