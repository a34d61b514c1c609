"""Parse and validate ``policies/*.toml``: retention, business processes, vendor risk, mappings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from vaultkeeper.canonical import CanonicalMapping, load_canonical
from vaultkeeper.config import SCHEDULE_JOBS, Settings
from vaultkeeper.errors import ConfigError
from vaultkeeper.tomlcheck import (
    Bad,
    Field,
    Origin,
    as_duration,
    as_float,
    as_int,
    as_names,
    as_schedule,
    as_str,
    read_fields,
    read_toml,
    suggest,
)

POLICY_NAMES = ("retention", "processes", "risk", "mappings")
DEFAULTS_PACKAGE = "vaultkeeper.default_policies"
"""The default policy files ship as package data (``policies/`` in the source tree)."""
BUILT_IN = "built-in"

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@dataclass(frozen=True)
class RetentionPolicy:
    """How many snapshots each location keeps, and the mass-deletion guard."""

    keep_last: int = 3
    keep_hourly: int = 24
    keep_daily: int = 14
    keep_weekly: int = 8
    keep_monthly: int = 12
    keep_yearly: int = 7
    mass_deletion_threshold: float = 0.20

    def forget_args(self) -> list[str]:
        """``restic forget`` options for this policy: ``--keep-daily 14 …`` (zeros left out)."""
        args: list[str] = []
        for unit in ("last", "hourly", "daily", "weekly", "monthly", "yearly"):
            count = getattr(self, f"keep_{unit}")
            if count:
                args += [f"--keep-{unit}", str(count)]
        return args


@dataclass(frozen=True)
class Process:
    """A business process that depends on the CRM, with its recovery targets."""

    name: str
    title: str
    priority: int
    rto: timedelta
    rpo: timedelta
    objects: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class RiskSignal:
    """A kind of vendor warning sign and how much it weighs."""

    kind: str
    weight: float
    half_life_days: float = 90.0
    description: str = ""


@dataclass(frozen=True)
class RiskLevel:
    """From ``min_score`` up, this level's schedule replaces the matching ``[schedule]`` entries."""

    name: str
    min_score: float
    schedule: dict[str, str]
    description: str = ""


@dataclass(frozen=True)
class RiskPolicy:
    """Signal kinds with weights, and the levels that tighten the schedule."""

    signals: tuple[RiskSignal, ...]
    levels: tuple[RiskLevel, ...]

    def signal(self, kind: str) -> RiskSignal | None:
        """The signal of this kind, if the policy knows it."""
        return next((s for s in self.signals if s.kind == kind), None)

    def level_for(self, score: float) -> RiskLevel:
        """The highest level whose ``min_score`` the score reaches (levels start at 0)."""
        return [lvl for lvl in self.levels if lvl.min_score <= score][-1]


@dataclass(frozen=True)
class ObjectMapping:
    """How one exported object is named in the target CRM, field by field."""

    name: str
    target: str
    fields: dict[str, str]


@dataclass(frozen=True)
class MappingPolicy:
    """The field mapping used by the emergency package."""

    target: str
    objects: tuple[ObjectMapping, ...]


@dataclass(frozen=True)
class Policies:
    """All four policies, and where each came from (a file path or ``built-in``)."""

    retention: RetentionPolicy
    processes: tuple[Process, ...]
    risk: RiskPolicy
    mappings: MappingPolicy
    sources: dict[str, str]
    canonical: dict[str, CanonicalMapping] = field(default_factory=dict)
    """Canonical-model mappings of the emergency package, per connector (policies/mappings/)."""


def default_policy_texts() -> dict[str, str]:
    """The shipped default policy files: name → TOML text."""
    root = resources.files(DEFAULTS_PACKAGE)
    return {name: root.joinpath(f"{name}.toml").read_text(encoding="utf-8")
            for name in POLICY_NAMES}


def load_policies(policies_dir: Path | None) -> Policies:
    """Read every policy from ``policies_dir``; a missing file (or dir) uses the built-in one."""
    defaults = default_policy_texts()
    sources: dict[str, str] = {}
    docs: dict[str, tuple[dict[str, Any], str]] = {}
    if policies_dir is not None and policies_dir.is_dir():
        for extra in sorted(policies_dir.glob("*.toml")):
            if extra.stem not in POLICY_NAMES:
                near = suggest(extra.stem, POLICY_NAMES)
                raise ConfigError("not a policy file vaultkeeper knows, so it would be ignored",
                                  f"rename it to {near}.toml" if near else "remove it (policy "
                                  f"files are {', '.join(n + '.toml' for n in POLICY_NAMES)})",
                                  file=str(extra))
    for name in POLICY_NAMES:
        path = policies_dir / f"{name}.toml" if policies_dir is not None else None
        if path is not None and path.is_file():
            docs[name], sources[name] = (read_toml(path), str(path)), str(path)
        else:
            label = f"{BUILT_IN} {name}.toml"   # how errors name the file (a bug if ever seen)
            docs[name], sources[name] = (read_toml(Path(label), defaults[name]), label), BUILT_IN
    return Policies(retention=_retention(*docs["retention"]),
                    processes=_processes(*docs["processes"]), risk=_risk(*docs["risk"]),
                    mappings=_mappings(*docs["mappings"]), sources=sources,
                    canonical=load_canonical(policies_dir))


def _table(value: Any, origin: Origin) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Bad(f"must be a table (got {type(value).__name__})",
                  fix=f"write it as a [{origin.name}] section or {origin.name} = {{ … }}")
    return value


def _tables(value: Any, origin: Origin) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise Bad("must be an array of tables",
                  fix=f"write one [[{origin.name}]] block (double brackets) per entry")
    return value


def _label(kind: str, i: int, item: dict[str, Any]) -> str:
    name = item.get("name")
    return f'[[{kind}]] #{i} "{name}"' if isinstance(name, str) else f"[[{kind}]] #{i}"


def _require(values: dict[str, Any], keys: tuple[str, ...], spec: dict[str, Field], file: str,
             section: str) -> None:
    for key in keys:
        if key not in values:
            raise Origin(file, section, key).error("missing", spec[key].example)


def _unique_name(values: dict[str, Any], seen: set[str], file: str, section: str) -> None:
    name = values["name"]
    if not _NAME.fullmatch(name):
        raise ConfigError("use lower-case letters, digits, '-' or '_'", 'name = "donations"',
                          file=file, key=f"{section} name")
    if name in seen:
        raise ConfigError("duplicate name", "give each one a unique name", file=file,
                          key=f"{section} name")
    seen.add(name)


_KEEP = {unit: Field(as_int(0), 14) for unit in ("last", "hourly", "daily", "weekly", "monthly",
                                                  "yearly")}


def _retention(doc: dict[str, Any], file: str) -> RetentionPolicy:
    top = read_fields(doc, {"mass_deletion_threshold": Field(as_float(0.0, 1.0), 0.2),
                            "keep": Field(_table, None)}, Origin(file, ""))
    keep = read_fields(top.get("keep", {}), _KEEP, Origin(file, "[keep]"))
    if "keep" in top:   # what the file lists is the policy: a rule left out is off
        keep = dict.fromkeys(_KEEP, 0) | keep
    policy = RetentionPolicy(**{f"keep_{k}": v for k, v in keep.items()},
                             **{k: v for k, v in top.items() if k != "keep"})
    if not policy.forget_args():
        # restic would refuse, but only after the first backup; say it now.
        raise ConfigError("every rule is 0, so no snapshot would be kept", "daily = 14",
                          file=file, key="[keep]")
    return policy


_PROCESS = {"name": Field(as_str, "donations"), "title": Field(as_str, "Donations"),
            "priority": Field(as_int(1), 1), "rto": Field(as_duration, "1d"),
            "rpo": Field(as_duration, "1d"), "objects": Field(as_names, ["contacts"]),
            "description": Field(as_str, "…")}


def _processes(doc: dict[str, Any], file: str) -> tuple[Process, ...]:
    top = read_fields(doc, {"process": Field(_tables, None)}, Origin(file, ""))
    items = top.get("process", [])
    found: list[Process] = []
    seen: set[str] = set()
    for i, item in enumerate(items, 1):
        section = _label("process", i, item)
        values = read_fields(item, _PROCESS, Origin(file, section))
        _require(values, ("name", "title", "priority", "rto", "rpo", "objects"), _PROCESS, file,
                 section)
        _unique_name(values, seen, file, section)
        if not values["objects"]:
            raise ConfigError("a process needs at least one object", 'objects = ["contacts"]',
                              file=file, key=f"{section} objects")
        found.append(Process(**values))
    return tuple(found)


_SIGNAL = {"weight": Field(as_float(0.0, open_low=False), 1.0),
           "half_life_days": Field(as_float(0.0), 90), "description": Field(as_str, "…")}
_LEVEL = {"name": Field(as_str, "elevated"), "min_score": Field(as_float(0.0, 100.0,
                                                                         open_low=False), 35),
          "description": Field(as_str, "…"), "schedule": Field(_table, None)}


def _risk(doc: dict[str, Any], file: str) -> RiskPolicy:
    top = read_fields(doc, {"signals": Field(_table, None), "level": Field(_tables, None)},
                      Origin(file, ""))
    signals: list[RiskSignal] = []
    for kind, item in top.get("signals", {}).items():
        section = f"[signals.{kind}]"
        if not _NAME.fullmatch(kind):
            raise ConfigError("signal kinds use lower-case letters, digits and '_'",
                              "rename it, e.g. [signals.outages]", file=file, key=section)
        values = read_fields(item, _SIGNAL, Origin(file, section))
        _require(values, ("weight",), _SIGNAL, file, section)
        signals.append(RiskSignal(kind=kind, **values))
    if not signals or not any(s.weight for s in signals):
        raise ConfigError("no signal with a weight above 0", "add [signals.outages] weight = 2",
                          file=file, key="[signals]")
    levels: list[RiskLevel] = []
    seen: set[str] = set()
    for i, item in enumerate(top.get("level", []), 1):
        section = _label("level", i, item)
        values = read_fields(item, _LEVEL, Origin(file, section))
        _require(values, ("name", "min_score"), _LEVEL, file, section)
        _unique_name(values, seen, file, section)
        jobs = {job: Field(as_schedule, "every 6 hours") for job in SCHEDULE_JOBS}
        values["schedule"] = read_fields(values.get("schedule", {}), jobs,
                                         Origin(file, f"{section} schedule"))
        if levels and values["min_score"] <= levels[-1].min_score:
            raise ConfigError(f"must be above the previous level's ({levels[-1].min_score:g})",
                              "list levels from the lowest min_score up", file=file,
                              key=f"{section} min_score")
        levels.append(RiskLevel(**values))
    if not levels or levels[0].min_score != 0:
        raise ConfigError("the first level must start at min_score = 0",
                          'begin with [[level]] name = "normal", min_score = 0', file=file,
                          key="[[level]] #1")
    return RiskPolicy(signals=tuple(signals), levels=tuple(levels))


def _mappings(doc: dict[str, Any], file: str) -> MappingPolicy:
    top = read_fields(doc, {"target": Field(as_str, "generic CSV import"),
                            "objects": Field(_table, None)}, Origin(file, ""))
    objects: list[ObjectMapping] = []
    for name, item in top.get("objects", {}).items():
        section = f"[objects.{name}]"
        values = read_fields(item, {"target": Field(as_str, "People"),
                                    "fields": Field(_table, None)}, Origin(file, section))
        fields = values.get("fields", {})
        field_spec = {key: Field(as_str, "Column name") for key in fields}
        fields = read_fields(fields, field_spec, Origin(file, f"[objects.{name}.fields]"))
        objects.append(ObjectMapping(name=name, target=values.get("target", name),
                                     fields=fields))
    return MappingPolicy(target=top.get("target", "generic CSV import"), objects=tuple(objects))


def cross_check(policies: Policies, settings: Settings) -> list[str]:
    """Warnings where policies and settings disagree (a process needing an object not backed up)."""
    warnings = []
    source = settings.source
    for process in policies.processes:
        for obj in process.objects:
            if obj in source.exclude or (source.objects and obj not in source.objects):
                where = "excluded by" if obj in source.exclude else "not listed in"
                warnings.append(f"process {process.name} needs {obj}, which is {where} "
                                f"[source] {'exclude' if obj in source.exclude else 'objects'}")
    return warnings
