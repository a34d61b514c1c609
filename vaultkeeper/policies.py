"""Parse and validate ``policies/*.toml``: retention, business processes, vendor risk, mappings."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
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
    Converter,
    Field,
    Origin,
    as_bool,
    as_choice,
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
_EXPECT = re.compile(r"\s*(>=|<=|==|!=|=|>|<)\s*(-?\d+(?:\.\d+)?)\s*")
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "=": operator.eq,
    "==": operator.eq, "!=": operator.ne}
_SQL_START = re.compile(r"\s*(select|with)\b", re.IGNORECASE)


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
class AcceptanceCheck:
    """A query against the drilled mirror whose first value must meet a condition."""

    name: str
    sql: str
    expect: str            # "> 0", ">= 0.9", "= 0"
    description: str = ""

    def passes(self, value: object) -> bool:
        """Whether ``value`` (the query's first column of the first row) meets ``expect``."""
        op, limit = parse_expect(self.expect)
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                value = float(str(value))
            except (TypeError, ValueError):
                return False
        return _OPS[op](float(value), limit)


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
    owner: str = ""
    mtd: timedelta | None = None
    """Maximum tolerable downtime: beyond it the organisation is harmed for good."""
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per object, the fields the process cannot work without."""
    checks: tuple[AcceptanceCheck, ...] = ()

    @property
    def rank(self) -> int:
        """The priority rank: 1 is restored first."""
        return self.priority


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


def _kind(name: str, value: str, measure: str, good: float | bool, bad: float | bool,
          unit: str, description: str, collected: bool = False) -> SignalKind:
    return SignalKind(name, value, measure, good, bad, unit, collected, description)


SIGNAL_KINDS: dict[str, SignalKind] = {k.name: k for k in (
    # recorded by hand (`vaultkeeper risk record`)
    _kind("revenue", "number", "change", 0.0, -0.2, "currency",
          "Annual revenue from the vendor's annual report; a fall is the warning."),
    _kind("net_result", "number", "level", 0.0, -1.0, "currency",
          "Net profit or loss of the last financial year; losses are the warning."),
    _kind("equity", "number", "change", 0.0, -0.3, "currency",
          "Shareholders' equity; shrinking (or negative) equity eats the buffer."),
    _kind("growth", "number", "level", 10.0, -5.0, "%",
          "Revenue or customer growth in percent per year."),
    _kind("headcount", "number", "change", 0.0, -0.15, "people",
          "Employees (annual report, LinkedIn); layoffs are the warning."),
    _kind("developer_count", "number", "change", 0.0, -0.25, "people",
          "Engineers working on the product (job ads, commits, LinkedIn)."),
    _kind("release_count", "number", "change", 0.0, -0.4, "releases",
          "Releases or changelog entries per quarter, counted by hand."),
    _kind("support_response_time", "number", "level", 8.0, 72.0, "hours",
          "How long support takes to answer a ticket."),
    _kind("database_copy_delivered", "bool", "flag", True, False, "yes/no",
          "Whether the vendor delivered a database copy we asked for."),
    _kind("last_escrow_deposit", "date", "age", 200.0, 400.0, "date",
          "Date of the vendor's last source-code escrow deposit."),
    _kind("ownership_change", "bool", "flag", False, True, "yes/no",
          "Acquired, merged, or an announced end of life for the product."),
    _kind("insolvency_notice", "bool", "flag", False, True, "yes/no",
          "An insolvency filing or notice about the vendor."),
    # collected (`vaultkeeper risk collect`)
    _kind("status_incidents", "number", "level", 0.0, 8.0, "incidents / 30 days",
          "Incidents on the vendor's status page in the last 30 days.", True),
    _kind("status_indicator", "number", "level", 0.0, 3.0, "0-3",
          "The status page's overall indicator now: 0 none, 1 minor, 2 major, 3 critical.",
          True),
    _kind("release_cadence", "number", "level", 30.0, 120.0, "days",
          "Days between releases in the vendor's release feed (or since the last one).", True),
    _kind("export_error_rate", "number", "level", 0.0, 0.3, "share of runs",
          "Share of our recent backup runs whose export failed or came back incomplete.", True),
    _kind("rate_limit_rate", "number", "level", 0.02, 0.2, "share of requests",
          "Share of our last export's requests the vendor answered with 429.", True),
    _kind("latency_trend", "number", "level", 1.2, 3.0, "× usual",
          "Our last export's time per request against the median of earlier runs.", True),
    _kind("vanished_fields", "number", "level", 0.0, 5.0, "fields",
          "Fields that disappeared from the vendor's schema since the previous export.", True),
    _kind("deprecation_headers", "number", "level", 0.0, 3.0, "notices",
          "API endpoints our last export used that answered with Deprecation/Sunset headers.",
          True),
)}
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


def parse_expect(text: str) -> tuple[str, float]:
    """``"> 0"`` → ``(">", 0.0)``; ValueError if it is not a comparison with a number."""
    m = _EXPECT.fullmatch(text)
    if m is None:
        raise ValueError(text)
    return m[1], float(m[2])


def as_expect(value: Any, origin: Origin) -> str:
    """A condition on a number: ``> 0``, ``>= 0.9``, ``= 0``, ``!= 0``, ``< 5``."""
    text = as_str(value, origin)
    try:
        op, limit = parse_expect(text)
    except ValueError:
        raise Bad(f'"{text}" is not a condition', "> 0",
                  note="a comparison >, >=, <, <=, = or != followed by a number") from None
    return f"{op} {limit:g}"


def as_sql(value: Any, origin: Origin) -> str:
    """One read-only SELECT (or WITH … SELECT) statement."""
    text = as_str(value, origin).rstrip().rstrip(";")
    if not _SQL_START.match(text) or ";" in text:
        raise Bad("must be one SELECT statement (read-only, no ';' inside)",
                  "select count(*) from contacts where _archived = 0")
    return text


def _fields_table(value: Any, origin: Origin) -> dict[str, tuple[str, ...]]:
    table = _table(value, origin)
    out = {}
    for obj, names in table.items():
        try:
            out[obj] = as_names(names, origin)
        except Bad as bad:
            raise Bad(f"{obj}: {bad.message}", fix=f'{origin.name} = {{ {obj} = ["email"] }}') \
                from None
    return out


_PROCESS = {"name": Field(as_str, "donations"), "title": Field(as_str, "Donations"),
            "owner": Field(as_str, "Fundraising team"), "priority": Field(as_int(1), 1),
            "rto": Field(as_duration, "1d"), "rpo": Field(as_duration, "1d"),
            "mtd": Field(as_duration, "1w"), "objects": Field(as_names, ["contacts"]),
            "fields": Field(_fields_table, None), "description": Field(as_str, "…"),
            "check": Field(_tables, None)}
_CHECK = {"name": Field(as_str, "active members"),
          "sql": Field(as_sql, "select count(*) from contacts where _archived = 0"),
          "expect": Field(as_expect, "> 0"), "description": Field(as_str, "…")}


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
        if "mtd" in values and values["mtd"] < values["rto"]:
            raise ConfigError("the maximum tolerable downtime is shorter than the rto",
                              "make mtd at least as long as rto (the rto is the target, the "
                              "mtd the point of no return)", file=file, key=f"{section} mtd")
        for obj in values.get("fields", {}):
            if obj not in values["objects"]:
                raise ConfigError(f"names object {obj}, which is not in this process's objects",
                                  f"add {obj} to objects, or remove it from fields", file=file,
                                  key=f"{section} fields")
        checks: list[AcceptanceCheck] = []
        names: set[str] = set()
        for j, raw in enumerate(values.pop("check", []), 1):
            where = f"{section} [[process.check]] #{j}"
            check = read_fields(raw, _CHECK, Origin(file, where))
            _require(check, ("name", "sql", "expect"), _CHECK, file, where)
            if check["name"] in names:
                raise ConfigError("duplicate check name", "give each check a unique name",
                                  file=file, key=f"{where} name")
            names.add(check["name"])
            checks.append(AcceptanceCheck(**check))
        found.append(Process(**values, checks=tuple(checks)))
    return tuple(found)


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
          "description": Field(as_str, "…"), "schedule": Field(_table, None),
          "backup_factor": Field(as_float(1.0, 720.0, open_low=False), 2),
          "priority_backup": Field(as_schedule, "every hour"),
          "priority_rank": Field(as_int(1), 1),
          "immediate": Field(as_names, ["backup", "drill"]),
          "alert": Field(as_bool, True)}


def _risk(doc: dict[str, Any], file: str) -> RiskPolicy:
    top = read_fields(doc, {"signals": Field(_table, None), "level": Field(_tables, None)},
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
        _require(values, ("weight",), _signal_spec(kind, measure), file, section)
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
        section = _label("level", i, item)
        values = read_fields(item, _LEVEL, Origin(file, section))
        _require(values, ("name", "min_score"), _LEVEL, file, section)
        _unique_name(values, seen, file, section)
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


def known_objects(settings: Settings) -> tuple[set[str], str] | None:
    """The objects the configured source can have, and a pattern description; None = unknown.

    HubSpot: its standard objects plus whatever [source] objects lists (custom objects must be
    listed there); Salesforce: sObject names (capitalised); the sandbox: exactly its objects;
    CSV: whatever files the vendor delivered, so nothing is known in advance.
    """
    source = settings.source
    kind = source.flavour if source.connector == "sandbox" else source.connector
    if source.connector == "sandbox":
        from vaultkeeper.sandbox.data import HUBSPOT_OBJECTS, SALESFORCE_OBJECTS

        names = set(HUBSPOT_OBJECTS if kind == "hubspot" else SALESFORCE_OBJECTS)
        return names, f"the sandbox ({kind} flavour) has {', '.join(sorted(names))}"
    if kind == "hubspot":
        from vaultkeeper.connectors.hubspot import STANDARD_OBJECTS

        return (set(STANDARD_OBJECTS) | set(source.objects),
                "HubSpot objects are contacts, companies, deals, notes … (list custom objects "
                "in [source] objects)")
    if kind == "salesforce":
        from vaultkeeper.connectors.salesforce import DEFAULT_ORDER

        return (set(DEFAULT_ORDER) | set(source.objects),
                "Salesforce objects are sObject names: Account, Contact, Opportunity … (list "
                "others in [source] objects)")
    if source.objects:
        return set(source.objects), "[source] objects lists the CSV objects"
    return None


def cross_check(policies: Policies, settings: Settings) -> list[str]:
    """Warnings where policies and settings disagree (a process needing an object not backed up).

    A process naming an object the source cannot have at all is an error (ConfigError naming the
    file and key), unless the processes are the built-in defaults, which only warn.
    """
    warnings = []
    source = settings.source
    known = known_objects(settings)
    file = policies.sources.get("processes", BUILT_IN)
    for i, process in enumerate(policies.processes, 1):
        for obj in process.objects:
            if known is not None and obj not in known[0]:
                near = suggest(obj, known[0]) or _salesforce_name(obj, known[0])
                if file == BUILT_IN:
                    warnings.append(f"the built-in process {process.name} needs {obj}, which "
                                    f"the {source.connector} source does not have: run "
                                    "`vaultkeeper init` and edit policies/processes.toml")
                    continue
                raise ConfigError(f"names object {obj}, which the {source.connector} source "
                                  "cannot have", f"did you mean {near}?" if near else
                                  f"{known[1]}", file=file,
                                  key=f'[[process]] #{i} "{process.name}" objects')
            if obj in source.exclude or (source.objects and obj not in source.objects):
                where = "excluded by" if obj in source.exclude else "not listed in"
                warnings.append(f"process {process.name} needs {obj}, which is {where} "
                                f"[source] {'exclude' if obj in source.exclude else 'objects'}")
    return warnings


def _salesforce_name(obj: str, known: set[str]) -> str | None:
    """``contacts`` → ``Contact`` when the source speaks Salesforce."""
    single = obj.rstrip("s").lower()
    aliases = {"company": "Account", "deal": "Opportunity"}
    guess = aliases.get(single) or next((k for k in known if k.lower() == single), None)
    return guess if guess in known else None
