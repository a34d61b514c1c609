"""``policies/privacy.toml``: what goes with an erased person, sensitive columns, and roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vaultkeeper.canonical import ENTITIES
from vaultkeeper.errors import ConfigError
from vaultkeeper.policies.common import as_table
from vaultkeeper.tomlcheck import Bad, Field, Origin, as_choice, as_names, read_fields

MODES = ("alone", "any", "keep")
DEFAULT_SUPPRESS = {"membership": "alone", "donation": "alone", "activity": "alone",
                    "organisation": "keep"}


@dataclass(frozen=True)
class Role:
    """Who may read what in ``mirror serve --role``: processes, extra fields, sensitive ones."""

    name: str
    processes: tuple[str, ...] = ()
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sensitive: tuple[str, ...] = ()


@dataclass(frozen=True)
class PrivacyPolicy:
    """Suppression per canonical entity, sensitive columns, roles by name."""

    suppress: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SUPPRESS))
    sensitive: tuple[str, ...] = ()
    roles: dict[str, Role] = field(default_factory=dict)


def _as_field_table(value: Any, origin: Origin) -> dict[str, tuple[str, ...]]:
    table = as_table(value, origin)
    out: dict[str, tuple[str, ...]] = {}
    for entity, names in table.items():
        if entity not in ENTITIES:
            raise Bad(f"{entity!r} is not a canonical entity",
                      fix=f"use one of {', '.join(ENTITIES)}")
        listed = as_names(names, origin)
        unknown = [n for n in listed if n not in ENTITIES[entity]]
        if unknown:
            raise Bad(f"{entity}: {', '.join(unknown)} is not a field of {entity}",
                      fix=f"fields of {entity}: {', '.join(ENTITIES[entity])}")
        out[entity] = listed
    return out


def _as_dotted(value: Any, origin: Origin) -> tuple[str, ...]:
    names = as_names(value, origin)
    bad = [n for n in names if n.count(".") != 1]
    if bad:
        raise Bad(f"{bad[0]!r} is not entity.field or object.field",
                  fix='sensitive = ["person.birth_date", "contacts.dietary_requirements"]')
    return names


_ROLE = {"processes": Field(as_names, ["membership"]),
         "fields": Field(_as_field_table, {"person": ["first_name", "last_name"]}),
         "sensitive": Field(_as_dotted, ["donation.gift_aid"])}


def parse_privacy(doc: dict[str, Any], file: str) -> PrivacyPolicy:
    """``privacy.toml`` as a PrivacyPolicy; errors name the file, the key and the fix."""
    top = read_fields(doc, {"suppress": Field(as_table, None),
                            "sensitive": Field(_as_dotted, ["person.birth_date"]),
                            "roles": Field(as_table, None)}, Origin(file, ""))
    spec = {name: Field(as_choice(*MODES), "alone") for name in ENTITIES if name != "person"}
    suppress = dict(DEFAULT_SUPPRESS) | read_fields(top.get("suppress", {}), spec,
                                                    Origin(file, "[suppress]"))
    roles: dict[str, Role] = {}
    for name, table in (top.get("roles") or {}).items():
        if not isinstance(table, dict):
            raise ConfigError("must be a table", f"write it as [roles.{name}]", file=file,
                              key=f"roles.{name}")
        values = read_fields(table, _ROLE, Origin(file, f"[roles.{name}]"))
        roles[name] = Role(name=name, processes=values.get("processes", ()),
                           fields=values.get("fields", {}),
                           sensitive=values.get("sensitive", ()))
    return PrivacyPolicy(suppress=suppress, sensitive=top.get("sensitive", ()), roles=roles)
