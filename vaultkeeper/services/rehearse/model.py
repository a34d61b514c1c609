"""What a rehearsal moves: the package's canonical rows, the target mapping, what came back.

The canonical model (``canonical/<entity>.csv``) is the package's promise in target-neutral
form: every import file of every target is derived from it. A rehearsal therefore imports and
reconciles canonical rows: a field is *carried* when its non-empty value comes back from the
target equal (after normalisation), a relation is *linked* when the reference field (``*_id``)
comes back pointing at the same legacy id.
"""

from __future__ import annotations

import csv
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vaultkeeper.canonical import ENTITIES, ENTITY_ORDER
from vaultkeeper.errors import ConfigError, UsageError

FLAGS = ("archived", "inactive")
"""Canonical columns beyond the entity's fields that every row has and a rehearsal carries."""

def entity_fields(entity: str) -> tuple[str, ...]:
    """The fields of one entity a rehearsal checks (its canonical fields, then the flags)."""
    return (*ENTITIES[entity], *FLAGS)


def fields_to(home: str, entity: str, given: dict[str, str]) -> dict[str, str]:
    """A built-in mapping of one entity: the ``given`` destinations, every other field to the
    target's free-text ``home``."""
    return {**{f: home for f in entity_fields(entity)}, **given}


def ref_target(entity: str, name: str) -> str | None:
    """The entity a reference field points at (``person.organisation_id`` → organisation)."""
    kind = ENTITIES[entity].get(name, ("",))[0]
    return kind.split(":", 1)[1] if kind.startswith("ref:") else None


@dataclass
class PackageData:
    """The canonical rows of one package, keyed by entity and legacy id."""

    root: Path
    rows: dict[str, dict[str, dict[str, str]]]
    extras: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per entity, source fields outside the canonical model → non-empty values."""
    relations: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """``data/relations/<from>__<to>.csv`` → (from_id, to_id) pairs."""

    def count(self, entity: str) -> int:
        """Rows of one entity."""
        return len(self.rows.get(entity, {}))


def read_package(root: Path) -> PackageData:
    """Read ``canonical/<entity>.csv`` of a package folder (built by ``vaultkeeper emergency``)."""
    canonical = root / "canonical"
    if not (root / "package.json").is_file() or not canonical.is_dir():
        raise UsageError(f"{root} is not an emergency package (no package.json / canonical/)",
                         "pass the folder `vaultkeeper emergency --out` wrote (decrypt an "
                         "encrypted package first)")
    csv.field_size_limit(sys.maxsize)
    rows: dict[str, dict[str, dict[str, str]]] = {}
    for entity in ENTITY_ORDER:
        path = canonical / f"{entity}.csv"
        if not path.is_file():
            continue
        with path.open(encoding="utf-8", newline="") as fh:
            rows[entity] = {r["legacy_id"]: r for r in csv.DictReader(fh)}
    extras: dict[str, dict[str, int]] = {}
    for entity in rows:
        path = canonical / f"{entity}.extra.csv"
        if path.is_file():
            with path.open(encoding="utf-8", newline="") as fh:
                counts: dict[str, int] = {}
                for r in csv.DictReader(fh):
                    for name, value in r.items():
                        if name != "legacy_id" and value:
                            counts[name] = counts.get(name, 0) + 1
            extras[entity] = counts
    relations: dict[str, list[tuple[str, str]]] = {}
    for path in sorted((root / "data" / "relations").glob("*__*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            relations[path.stem] = [(r["from_id"], r["to_id"]) for r in csv.DictReader(fh)]
    return PackageData(root, rows, extras, relations)


@dataclass(frozen=True)
class TargetMapping:
    """Where each canonical field goes in the target: ``entity → field → destination``."""

    kind: str
    fields: dict[str, dict[str, str]]
    source: str = "built-in"

    def dest(self, entity: str, name: str) -> str | None:
        """The destination of one field, None when the mapping drops it."""
        return self.fields.get(entity, {}).get(name)

    def dropped(self, entity: str) -> list[str]:
        """Fields of an entity the mapping sends nowhere (and says nothing about)."""
        return [f for f in entity_fields(entity) if self.dest(entity, f) is None]

    def declared(self, entity: str) -> dict[str, str]:
        """Fields the mapping deliberately does not import (``none:why``) and why."""
        return {f: d[5:] for f, d in self.fields.get(entity, {}).items()
                if d.startswith("none:")}


def load_mapping(kind: str, defaults: dict[str, dict[str, str]], path: Path | None,
                 valid: frozenset[str]) -> TargetMapping:
    """The built-in mapping of a target kind, or the one in ``path`` (a TOML file).

    The file has one table per entity, ``field = "destination"``; an entity or field it does
    not list is not imported (and the rehearsal reports it lost).
    """
    if path is None:
        return TargetMapping(kind, defaults)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the rehearsal mapping ({exc})",
                          "fix the file or drop --mapping to use the built-in one",
                          file=str(path)) from None
    out: dict[str, dict[str, str]] = {}
    for entity, table in doc.items():
        if entity not in ENTITIES or not isinstance(table, dict):
            raise ConfigError(f"[{entity}] is not an entity",
                              f"use tables named {', '.join(ENTITY_ORDER)}", file=str(path))
        for name, dest in table.items():
            if name != "legacy_id" and name not in entity_fields(entity):
                raise ConfigError(f"{entity}.{name} is not a canonical field",
                                  "see docs/emergency.md#the-canonical-model", file=str(path),
                                  key=f"[{entity}] {name}")
            if not isinstance(dest, str) or (dest not in valid and not (
                    dest.startswith("none:") and len(dest) > 5)):
                raise ConfigError(f"{dest!r} is not a {kind} destination",
                                  f"use one of {', '.join(sorted(valid))}", file=str(path),
                                  key=f"[{entity}] {name}")
        out[entity] = dict(table)
    return TargetMapping(kind, out, str(path))


def mapping_toml(mapping: TargetMapping) -> str:
    """The mapping as an editable TOML file."""
    lines = [f"# Rehearsal mapping for a {mapping.kind} target: canonical field = destination",
             "# A field left out is not imported (the rehearsal then names it as lost);",
             '# "none:why" says it is deliberately not imported (listed, not failed).']
    for entity in ENTITY_ORDER:
        table = mapping.fields.get(entity)
        if not table:
            continue
        lines += ["", f"[{entity}]"]
        lines += [f'{name} = "{dest}"' for name, dest in table.items()]
    return "\n".join(lines) + "\n"


@dataclass
class Returned:
    """What the export from the target gave back, keyed like :class:`PackageData`."""

    rows: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def put(self, entity: str, legacy_id: str, name: str, value: str) -> None:
        """Record one value that came back."""
        self.rows.setdefault(entity, {}).setdefault(legacy_id, {})[name] = value

    def ids(self, entity: str) -> Iterator[str]:
        """Legacy ids of one entity that came back."""
        return iter(self.rows.get(entity, {}))


@dataclass
class LoadStats:
    """What the import sent: records per entity and the records the target refused."""

    sent: dict[str, int] = field(default_factory=dict)
    refused: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


TEXT_HEADER = "vaultkeeper"
"""The first line of every free-text home a rehearsal writes (Tryton adds ``entity:id``)."""


def text_lines(header: str, pairs: list[tuple[str, str]]) -> str:
    """A free-text home (note, comment) holding fields as ``name: value`` lines."""
    out = [header]
    for name, value in pairs:
        escaped = value.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
        out.append(f"{name}: {escaped}")
    return "\n".join(out)


def parse_lines(text: str) -> tuple[str, dict[str, str]]:
    """The header and the ``name: value`` lines of :func:`text_lines` (unescaped)."""
    lines = (text or "").split("\n")
    values: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(": ")
        if not sep:
            continue
        out, i = [], 0
        while i < len(value):
            ch = value[i]
            if ch == "\\" and i + 1 < len(value):
                nxt = value[i + 1]
                out.append({"n": "\n", "r": "\r", "\\": "\\"}.get(nxt, nxt))
                i += 2
                continue
            out.append(ch)
            i += 1
        values[name] = "".join(out)
    return lines[0], values


def appended(text: str, more: str) -> str:
    """``text`` with the ``name: value`` lines of ``more`` added (one free-text home holding
    two records' fields, as a membership's on its person's record); ``more`` if ``text`` is
    empty."""
    if not text:
        return more
    return "\n".join([text, *more.split("\n")[1:]])
