"""`config show` prints every setting the file can hold, in a form the file accepts again."""

from __future__ import annotations

import json
from pathlib import Path

from vaultkeeper.config import load_settings

CONFIG = """\
[source]
connector = "sandbox"
api_reserve = "30%"
files = { max_size = "25 MB", include = ["*.pdf", "*.jpg"], max_total = "5 GB" }

[repository]
password = { env = "VK_SHOW_PASSWORD" }

[schedule]
backup = "every hour"
full_every = "7d"

[[locations]]
name = "here"
url = "repo"
"""


def test_config_show_prints_full_every_api_reserve_and_files(vk, tmp_path: Path) -> None:
    (tmp_path / "vaultkeeper.toml").write_text(CONFIG, encoding="utf-8")
    shown = vk("config", "show")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert 'full_every = "7d"' in lines
    assert 'api_reserve = "30%"' in lines
    assert 'files = { max_size = "25 MB", include = ["*.pdf", "*.jpg"], max_total = "5 GB" }' \
        in lines
    data = json.loads(vk("config", "show", "--json").stdout)
    assert data["schedule"] == {"backup": "every hour", "full_every": "7d"}
    assert data["source"]["api_reserve"] == 0.3
    assert data["source"]["files"] == {"max_size": 25_000_000, "include": ["*.pdf", "*.jpg"],
                                       "max_total": 5_000_000_000}


def test_config_show_output_loads_back_to_the_same_settings(vk, tmp_path: Path) -> None:
    (tmp_path / "vaultkeeper.toml").write_text(
        CONFIG.replace('"7d"', "24").replace('"25 MB"', "1234567"), encoding="utf-8")
    shown = vk("config", "show")
    assert shown.returncode == 0, shown.stderr
    again = tmp_path / "again"
    again.mkdir()
    (again / "vaultkeeper.toml").write_text(shown.stdout, encoding="utf-8")
    first = load_settings(tmp_path / "vaultkeeper.toml")
    second = load_settings(again / "vaultkeeper.toml")
    assert second.full_every == first.full_every == 24
    assert second.source.api_reserve == first.source.api_reserve == 0.3
    assert second.source.files == first.source.files
    assert first.source.files is not None and first.source.files.max_size == 1234567
    assert second.schedule == first.schedule
