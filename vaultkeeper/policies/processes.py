"""``policies/processes.toml``: the business processes, their objects and acceptance checks."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from vaultkeeper.errors import ConfigError
from vaultkeeper.policies.common import as_table, as_tables, item_label, require, unique_name
from vaultkeeper.tomlcheck import (
    Bad,
    Field,
    Origin,
    as_duration,
    as_int,
    as_names,
    as_str,
    read_fields,
)

_EXPECT = re.compile(r"\s*(>=|<=|==|!=|=|>|<)\s*(-?\d+(?:\.\d+)?)\s*")
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "=": operator.eq,
    "==": operator.eq, "!=": operator.ne}
_SQL_START = re.compile(r"\s*(select|with)\b", re.IGNORECASE)


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
    table = as_table(value, origin)
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
            "check": Field(as_tables, None)}
_CHECK = {"name": Field(as_str, "active members"),
          "sql": Field(as_sql, "select count(*) from contacts where _archived = 0"),
          "expect": Field(as_expect, "> 0"), "description": Field(as_str, "…")}


def parse_processes(doc: dict[str, Any], file: str) -> tuple[Process, ...]:
    """``processes.toml`` as its processes."""
    top = read_fields(doc, {"process": Field(as_tables, None)}, Origin(file, ""))
    items = top.get("process", [])
    found: list[Process] = []
    seen: set[str] = set()
    for i, item in enumerate(items, 1):
        section = item_label("process", i, item)
        values = read_fields(item, _PROCESS, Origin(file, section))
        require(values, ("name", "title", "priority", "rto", "rpo", "objects"), _PROCESS, file,
                section)
        unique_name(values, seen, file, section)
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
            require(check, ("name", "sql", "expect"), _CHECK, file, where)
            if check["name"] in names:
                raise ConfigError("duplicate check name", "give each check a unique name",
                                  file=file, key=f"{where} name")
            names.add(check["name"])
            checks.append(AcceptanceCheck(**check))
        found.append(Process(**values, checks=tuple(checks)))
    return tuple(found)
