"""What every policy file's parser shares: tables, labels, required keys, unique names."""

from __future__ import annotations

import re
from typing import Any

from vaultkeeper.errors import ConfigError
from vaultkeeper.tomlcheck import Bad, Field, Origin

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def as_table(value: Any, origin: Origin) -> dict[str, Any]:
    """A TOML table, or Bad saying how to write one."""
    if not isinstance(value, dict):
        raise Bad(f"must be a table (got {type(value).__name__})",
                  fix=f"write it as a [{origin.name}] section or {origin.name} = {{ … }}")
    return value


def as_tables(value: Any, origin: Origin) -> list[dict[str, Any]]:
    """A TOML array of tables, or Bad saying how to write one."""
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise Bad("must be an array of tables",
                  fix=f"write one [[{origin.name}]] block (double brackets) per entry")
    return value


def item_label(kind: str, i: int, item: dict[str, Any]) -> str:
    """How errors name the i-th ``[[kind]]`` block (with its name when it has one)."""
    name = item.get("name")
    return f'[[{kind}]] #{i} "{name}"' if isinstance(name, str) else f"[[{kind}]] #{i}"


def require(values: dict[str, Any], keys: tuple[str, ...], spec: dict[str, Field], file: str,
            section: str) -> None:
    """ConfigError naming the first of ``keys`` that ``values`` lacks."""
    for key in keys:
        if key not in values:
            raise Origin(file, section, key).error("missing", spec[key].example)


def unique_name(values: dict[str, Any], seen: set[str], file: str, section: str) -> None:
    """Check ``values["name"]`` is a valid name not in ``seen``, and add it."""
    name = values["name"]
    if not NAME_RE.fullmatch(name):
        raise ConfigError("use lower-case letters, digits, '-' or '_'", 'name = "donations"',
                          file=file, key=f"{section} name")
    if name in seen:
        raise ConfigError("duplicate name", "give each one a unique name", file=file,
                          key=f"{section} name")
    seen.add(name)
