"""Roles: which canonical fields ``mirror serve --role NAME`` may show.

A role names business processes (their ``fields`` in policies/processes.toml are source fields
of exported objects; the canonical mapping says which canonical field each feeds), plus extra
canonical fields. Sensitive columns (``policies/privacy.toml sensitive``: ``entity.field`` or
``object.source_field``) are masked unless the role lists them under ``sensitive``.
"""

from __future__ import annotations

from vaultkeeper.canonical import ENTITIES, CanonicalMapping
from vaultkeeper.errors import ConfigError, UsageError
from vaultkeeper.policies import Policies


def role_fields(policies: Policies, mapping: CanonicalMapping | None,
                name: str) -> dict[str, tuple[str, ...]]:
    """Entity → canonical fields role ``name`` may read (sensitive ones only if allowed)."""
    privacy = policies.privacy
    role = privacy.roles.get(name)
    if role is None:
        known = ", ".join(sorted(privacy.roles)) or "none defined"
        raise UsageError(f"no role named {name!r} (roles: {known})",
                         "define it as [roles.NAME] in policies/privacy.toml")
    processes = {p.name: p for p in policies.processes}
    allowed: dict[str, set[str]] = {e: set() for e in ENTITIES}
    for pname in role.processes:
        process = processes.get(pname)
        if process is None:
            raise ConfigError(f"role {name} names process {pname!r}, which does not exist",
                              f"use one of: {', '.join(processes)}", key=f"[roles.{name}]")
        for spec in mapping.entities if mapping else ():
            wanted = set(process.fields.get(spec.object, ()))
            allowed[spec.entity] |= {f for f, src in spec.fields.items()
                                     if src.kind == "field" and src.name in wanted}
    for ename, names in role.fields.items():
        allowed[ename] |= set(names)
    for item in role.sensitive:
        ename, _, fname = item.partition(".")
        if ename in ENTITIES and fname in ENTITIES[ename]:
            allowed[ename].add(fname)
    for ename, given in allowed.items():
        allowed[ename] = {f for f in given if not _sensitive(policies, mapping, ename, f)
                          or _allowed(role.sensitive, mapping, ename, f)}
    return {e: tuple(sorted(v)) for e, v in allowed.items()}


def _keys(mapping: CanonicalMapping | None, entity: str, fname: str) -> set[str]:
    keys = {f"{entity}.{fname}"}
    spec = mapping.entity(entity) if mapping else None
    src = spec.fields.get(fname) if spec else None
    if spec is not None and src is not None and src.kind == "field":
        keys.add(f"{spec.object}.{src.name}")
    return keys


def _sensitive(policies: Policies, mapping: CanonicalMapping | None, entity: str,
               fname: str) -> bool:
    return bool(_keys(mapping, entity, fname) & set(policies.privacy.sensitive))


def _allowed(listed: tuple[str, ...], mapping: CanonicalMapping | None, entity: str,
             fname: str) -> bool:
    return bool(_keys(mapping, entity, fname) & set(listed))
