"""``policies/risk.toml``: the vendor-risk signals (their kinds), weights, measures and levels."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from vaultkeeper.config import SCHEDULE_JOBS
from vaultkeeper.errors import ConfigError
from vaultkeeper.policies.common import as_table, as_tables, item_label, require, unique_name
from vaultkeeper.tomlcheck import (
    Bad,
    Converter,
    Field,
    Origin,
    as_bool,
    as_choice,
    as_float,
    as_int,
    as_names,
    as_schedule,
    as_str,
    read_fields,
    suggest,
)


@dataclass(frozen=True)
class SignalKind:
    """A vendor risk signal vaultkeeper knows: what its value is and how it is usually read."""

    name: str
    value: str            # "number" | "bool" | "date"
    measure: str          # "level" | "change" | "age" | "flag"
    good: float | bool
    bad: float | bool
    unit: str
    collected: bool
    description: str


SIGNAL_KINDS: dict[str, SignalKind] = {
    row[0]: SignalKind(*row) for row in json.loads(
        resources.files("vaultkeeper.policies").joinpath("signals.json")
        .read_text(encoding="utf-8"))["signals"]}
"""Every signal vaultkeeper knows; policies/risk.toml weighs a selection of them."""
MEASURES = {"number": ("level", "change"), "bool": ("flag",), "date": ("age",)}
IMMEDIATE_JOBS = ("backup", "drill", "check", "emergency", "risk")
"""Jobs a risk level may run at once when it is entered."""


@dataclass(frozen=True)
class RiskSignal:
    """A signal the policy weighs, and how its value turns into a severity from 0 to 1."""

    kind: str
    weight: float
    half_life_days: float = 90.0
    description: str = ""
    measure: str = "level"
    good: float | bool = 0.0
    bad: float | bool = 1.0
    trigger: str | None = None
    """A level reached at once (whatever the score) when the severity reaches trigger_at."""
    trigger_at: float = 1.0


@dataclass(frozen=True)
class RiskLevel:
    """From ``min_score`` up this level holds, and its actions apply."""

    name: str
    min_score: float
    schedule: dict[str, str]
    description: str = ""
    backup_factor: float = 1.0
    """Backups run this many times as often as [schedule] backup says."""
    priority_backup: str | None = None
    """An extra backup of the top-priority objects on this schedule (e.g. every hour)."""
    priority_rank: int = 1
    """Which processes count as top priority for priority_backup (rank ≤ this)."""
    immediate: tuple[str, ...] = ()
    """Jobs run at once when the level is entered: backup, drill, check, emergency, risk."""
    alert: bool = False


@dataclass(frozen=True)
class RiskPolicy:
    """Signals with weights, and the levels that tighten the schedule."""

    signals: tuple[RiskSignal, ...]
    levels: tuple[RiskLevel, ...]

    def signal(self, kind: str) -> RiskSignal | None:
        """The signal of this kind, if the policy knows it."""
        return next((s for s in self.signals if s.kind == kind), None)

    def level_for(self, score: float) -> RiskLevel:
        """The highest level whose ``min_score`` the score reaches (levels start at 0)."""
        return [lvl for lvl in self.levels if lvl.min_score <= score][-1]

    def level(self, name: str) -> RiskLevel:
        """The level called ``name`` (KeyError if none)."""
        for lvl in self.levels:
            if lvl.name == name:
                return lvl
        raise KeyError(name)

    def rank_of(self, name: str) -> int:
        """0 for the lowest level, 1 for the next …"""
        return [lvl.name for lvl in self.levels].index(name)


def _signal_value(kind: SignalKind, measure: str, key: str) -> Converter:
    """good/bad: a number for level/change/age, true or false for flag."""
    def convert(value: Any, origin: Origin) -> float | bool:
        if measure == "flag":
            if key == "good":
                raise Bad("a flag has no good value, only bad (the value that alarms)",
                          fix="remove good; set bad = true or bad = false")
            return as_bool(value, origin)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Bad(f"must be a number ({kind.unit})", kind.good if key == "good" else kind.bad)
        return float(value)
    return convert


def _signal_spec(kind: SignalKind, measure: str) -> dict[str, Field]:
    return {"weight": Field(as_float(0.0, open_low=False), 1.0),
            "half_life_days": Field(as_float(0.0), 90),
            "description": Field(as_str, "…"),
            "measure": Field(as_choice(*MEASURES[kind.value]), kind.measure),
            "good": Field(_signal_value(kind, measure, "good"), kind.good),
            "bad": Field(_signal_value(kind, measure, "bad"), kind.bad),
            "trigger": Field(as_str, "red"),
            "trigger_at": Field(as_float(0.0, 1.0), 1.0)}


_LEVEL = {"name": Field(as_str, "amber"),
          "min_score": Field(as_float(0.0, 100.0, open_low=False), 35),
          "description": Field(as_str, "…"), "schedule": Field(as_table, None),
          "backup_factor": Field(as_float(1.0, 720.0, open_low=False), 2),
          "priority_backup": Field(as_schedule, "every hour"),
          "priority_rank": Field(as_int(1), 1),
          "immediate": Field(as_names, ["backup", "drill"]),
          "alert": Field(as_bool, True)}


def parse_risk(doc: dict[str, Any], file: str) -> RiskPolicy:
    """``risk.toml`` as a RiskPolicy."""
    top = read_fields(doc, {"signals": Field(as_table, None), "level": Field(as_tables, None)},
                      Origin(file, ""))
    signals: list[RiskSignal] = []
    for name, item in top.get("signals", {}).items():
        section = f"[signals.{name}]"
        kind = SIGNAL_KINDS.get(name)
        if kind is None:
            near = suggest(name, SIGNAL_KINDS)
            raise ConfigError("unknown signal", f"did you mean [signals.{near}]?" if near else
                              "signals are: " + ", ".join(SIGNAL_KINDS), file=file, key=section)
        if not isinstance(item, dict):
            raise ConfigError(f"must be a table (got {type(item).__name__})",
                              f"write it as {section} with weight = 1.0 below", file=file,
                              key=section)
        measure = read_fields({"measure": item["measure"]} if "measure" in item else {},
                              {"measure": _signal_spec(kind, kind.measure)["measure"]},
                              Origin(file, section)).get("measure", kind.measure)
        values = read_fields(item, _signal_spec(kind, measure), Origin(file, section))
        require(values, ("weight",), _signal_spec(kind, measure), file, section)
        values.setdefault("measure", measure)
        if measure == kind.measure:
            values.setdefault("good", kind.good)
            values.setdefault("bad", kind.bad)
        elif "bad" not in values or "good" not in values:
            raise ConfigError(f"measure {measure} needs its own good and bad values",
                              f"add good = … and bad = … ({kind.unit})", file=file,
                              key=f"{section} {'good' if 'good' not in values else 'bad'}")
        if measure != "flag" and values["good"] == values["bad"]:
            raise ConfigError("good and bad are equal, so no value could be scored",
                              f"make bad the value that alarms (now {values['bad']:g}) and good "
                              "the one that reassures", file=file, key=f"{section} bad")
        if measure == "age":
            values.setdefault("half_life_days", 0.0)   # an age grows by itself: no decay
        signals.append(RiskSignal(kind=name, **values))
    if not signals or not any(s.weight for s in signals):
        raise ConfigError("no signal with a weight above 0",
                          "add [signals.status_incidents] weight = 2", file=file, key="[signals]")
    levels: list[RiskLevel] = []
    seen: set[str] = set()
    for i, item in enumerate(top.get("level", []), 1):
        section = item_label("level", i, item)
        values = read_fields(item, _LEVEL, Origin(file, section))
        require(values, ("name", "min_score"), _LEVEL, file, section)
        unique_name(values, seen, file, section)
        jobs = {job: Field(as_schedule, "every 6 hours") for job in SCHEDULE_JOBS}
        values["schedule"] = read_fields(values.get("schedule", {}), jobs,
                                         Origin(file, f"{section} schedule"))
        for job in values.get("immediate", ()):
            if job not in IMMEDIATE_JOBS:
                near = suggest(job, IMMEDIATE_JOBS)
                raise ConfigError(f'"{job}" is not a job', f'did you mean "{near}"?' if near
                                  else f"use {', '.join(IMMEDIATE_JOBS)}", file=file,
                                  key=f"{section} immediate")
        if levels and values["min_score"] <= levels[-1].min_score:
            raise ConfigError(f"must be above the previous level's ({levels[-1].min_score:g})",
                              "list levels from the lowest min_score up", file=file,
                              key=f"{section} min_score")
        levels.append(RiskLevel(**values))
    if not levels or levels[0].min_score != 0:
        raise ConfigError("the first level must start at min_score = 0",
                          'begin with [[level]] name = "green", min_score = 0', file=file,
                          key="[[level]] #1")
    names = [lvl.name for lvl in levels]
    for sig in signals:
        if sig.trigger is not None and sig.trigger not in names:
            near = suggest(sig.trigger, names)
            raise ConfigError(f'"{sig.trigger}" is not a level', f'did you mean "{near}"?' if
                              near else f"use one of {', '.join(names)}", file=file,
                              key=f"[signals.{sig.kind}] trigger")
    return RiskPolicy(signals=tuple(signals), levels=tuple(levels))
