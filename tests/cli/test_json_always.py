"""`--json` always prints exactly one JSON object on stdout — also when the command fails —
with the exit code and the error inside, so scripts never parse an empty stdout."""

from __future__ import annotations

import json

import pytest
from vk_backup import FAKE_SECRET, make_config, vk


def one_object(stdout: str) -> dict:
    """stdout holds exactly one JSON object (json.loads refuses trailing data)."""
    value = json.loads(stdout)
    assert isinstance(value, dict), stdout
    return value


@pytest.mark.parametrize(("args", "code"), [
    (("backup",), 7),                              # repositories never initialised
    (("drill",), 7),                               # nothing to drill
    (("export", "--out", "{tmp}/x", "--objects", "contcts"), 2),   # misspelt object
    (("status", "--no-such-option"), 2),           # usage error
])
def test_failures_print_one_json_object(tmp_path, args, code) -> None:
    config = make_config(tmp_path)
    args = tuple(a.replace("{tmp}", str(tmp_path)) for a in args)
    result = vk(config, *args, "--json")
    assert result.returncode == code, result.stderr
    data = one_object(result.stdout)
    assert data["ok"] is False and data["exit_code"] == code and data["error"]
    assert result.stderr.strip(), "people still get their line on stderr"
    assert FAKE_SECRET not in result.stdout + result.stderr


def test_broken_config_prints_one_json_object(tmp_path) -> None:
    config = make_config(tmp_path)
    config.write_text(config.read_text() + '\n[source]\ntoken = "inline-secret"\n')
    result = vk(config, "status", "--json")
    assert result.returncode == 5, result.stderr
    data = one_object(result.stdout)
    assert data["exit_code"] == 5 and data["error_kind"]
    assert "inline-secret" not in result.stdout


def test_success_prints_only_the_commands_object(tmp_path) -> None:
    config = make_config(tmp_path)
    assert vk(config, "locations", "init").returncode == 0
    result = vk(config, "backup", "--json")
    assert result.returncode == 0, result.stderr
    assert one_object(result.stdout)["status"] == "ok"


def test_misspelt_object_lists_what_the_source_has(tmp_path) -> None:
    """A configured object list narrows discovery; the error still names every object the
    source offers (it said "the source has: nothing") and the likely intended one."""
    config = make_config(tmp_path)
    result = vk(config, "export", "--out", str(tmp_path / "x"), "--objects", "contcts")
    assert result.returncode == 2
    assert "did you mean contcts → contacts?" in result.stderr
    assert "the source has: " in result.stderr and "companies" in result.stderr
    assert "nothing" not in result.stderr
