"""docs/configuration.md documents every key and environment variable the loader accepts."""

from __future__ import annotations

from pathlib import Path

from vaultkeeper.config import LOCATION_FIELDS, SECTIONS, env_var

DOC = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()


def test_every_key_is_documented() -> None:
    for section, spec in SECTIONS.items():
        assert f"`[{section}]`" in DOC
        for key in spec:
            assert f"`{key}`" in DOC, f"[{section}] {key} is not in docs/configuration.md"
            assert env_var(section, key) in DOC, env_var(section, key)
    for key in LOCATION_FIELDS:
        assert f"`{key}`" in DOC, f"[[locations]] {key} is not in docs/configuration.md"
