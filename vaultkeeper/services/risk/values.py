"""Risk signal values: parse and format what is recorded, and observations of a signal."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from vaultkeeper.policies import SIGNAL_KINDS, SignalKind

_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off"}
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

Value = float | bool | date


def parse_value(kind: SignalKind, text: str) -> Value:
    """A recorded value as its kind expects it; ValueError says what was expected."""
    raw = text.strip()
    if kind.value == "bool":
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ValueError(f"{kind.name} is yes or no (got {raw!r})")
    if kind.value == "date":
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"{kind.name} is a date YYYY-MM-DD (got {raw!r})") from None
    number = raw.replace("_", "").removesuffix("%").strip()
    if "," in number:
        raise ValueError(f"{kind.name} is a number without thousands separators "
                         f"(got {raw!r}; write 1250000 or 1_250_000, decimals with '.')")
    if not _NUMBER.fullmatch(number) or not math.isfinite(float(number)):
        raise ValueError(f"{kind.name} is a number in {kind.unit} (got {raw!r})")
    return float(number)


def format_value(value: Value) -> str:
    """The canonical text stored for a value."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return value.isoformat()
    return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.0f}"


@dataclass(frozen=True)
class Observation:
    """One recorded value of a signal."""

    signal: str
    value: Value
    date: date
    source: str = ""
    note: str = ""


def observations_from_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[list[Observation],
                                                                         list[str]]:
    """Stored rows as observations; rows that no longer parse are skipped with a warning."""
    out, warnings = [], []
    for row in rows:
        kind = SIGNAL_KINDS.get(row["signal"])
        try:
            if kind is None:
                raise ValueError(f"unknown signal {row['signal']}")
            out.append(Observation(row["signal"], parse_value(kind, row["value"]),
                                   date.fromisoformat(row["date"]), row.get("source") or "",
                                   row.get("note") or ""))
        except ValueError as exc:
            warnings.append(f"stored value #{row.get('id')} skipped: {exc}")
    return out, warnings
