"""Fault injection: the parsed ``--faults`` setting and the per-request decisions it drives.

Every decision is a pure function of the request number ``k`` (1, 2, 3 … in arrival order)
and, for server errors, of the number of cursor-carrying requests seen so far. A retry is a new
request with a new number, so it can always succeed; the same request sequence always meets
the same faults.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# canonical name → default parameters
DEFAULTS: dict[str, dict[str, float]] = {
    "rate_limit": {"every": 30, "burst": 2, "retry_after": 1},
    "server_error": {"every": 6},
    "slow": {"every": 20, "ms": 150},
    "drop": {"every": 40},
    "malformed": {"at": -1},
    "daily_limit": {"after": 100},
    "short": {"every": 5},
    "bulk_fail": {"jobs": 1},
    "repeat": {},
    "bad_utf8": {},
    "write_rate_limit": {"every": 4, "burst": 2, "retry_after": 1},
    "missing_files": {"every": 7},
    "upload_limit": {"bytes": 0},
}
ALIASES = {
    "429": "rate_limit", "rate_limit": "rate_limit", "ratelimit": "rate_limit",
    "5xx": "server_error", "server_error": "server_error", "500": "server_error",
    "slow": "slow", "drop": "drop", "malformed": "malformed",
    "daily_limit": "daily_limit", "daily": "daily_limit", "short": "short",
    "bulk_fail": "bulk_fail",
    "repeat": "repeat", "bad_utf8": "bad_utf8",
    "write_429": "write_rate_limit", "write_rate_limit": "write_rate_limit",
    "missing_files": "missing_files",
    "upload_limit": "upload_limit",
}
ALL = ("rate_limit", "server_error", "slow", "drop", "malformed")
HELP = (
    "none | all | a comma list of: 429 (rate_limit), 5xx (server_error), slow, drop, malformed,"
    " daily_limit, short, bulk_fail (the first N Bulk API jobs fail), write_429 (429s on write"
    " requests only), repeat (HubSpot lists: page 2 repeats page 1's last record and one record"
    " is never listed), bad_utf8 (HubSpot lists: one record's property holds bytes that are not"
    " UTF-8), missing_files (every Nth attachment's content answers 404), upload_limit:bytes=N"
    " (file uploads larger than N bytes are refused with 413); each optionally"
    " with :key=value parameters, e.g. '429:every=50:burst=3,slow:ms=200';"
    " plus drop_property=NAME (writes silently lose that property)."
    " 'all' = 429,5xx,slow,drop,malformed."
)


@dataclass(frozen=True)
class FaultConfig:
    """Which faults are switched on, with their parameters (see ``DEFAULTS``)."""

    enabled: dict[str, dict[str, float]] = field(default_factory=dict)
    drop_property: str | None = None
    """Writes silently lose this property (HubSpot name or Salesforce field, case-insensitive):
    the target answers success but never stores it — what ``drill --into-crm`` must catch."""

    @classmethod
    def none(cls) -> FaultConfig:
        """No faults at all."""
        return cls({})

    @classmethod
    def parse(cls, text: str | None) -> FaultConfig:
        """Parse ``none``, ``all`` or ``429:every=50:burst=3,5xx,slow:ms=200,drop,malformed``.

        Raises ``ValueError`` naming the valid choices for an unknown fault or parameter.
        """
        enabled: dict[str, dict[str, float]] = {}
        dropped: str | None = None
        for raw in (text or "none").split(","):
            item = raw.strip()
            if not item:
                continue
            if item.lower().startswith("drop_property"):
                _, sep, value = item.partition("=")
                value = value.strip()
                if not sep or not value:
                    raise ValueError("drop_property needs a property name, e.g. "
                                     "'drop_property=phone'")
                dropped = value
                continue
            name, *params = [p.strip() for p in item.split(":")]
            lowered = name.lower()
            if lowered == "none":
                continue
            if lowered == "all":
                for kind in ALL:
                    enabled.setdefault(kind, dict(DEFAULTS[kind]))
                if params:
                    raise ValueError("'all' takes no parameters; give them per fault, "
                                     "e.g. 'all,429:every=10'")
                continue
            found = ALIASES.get(lowered)
            if found is None:
                raise ValueError(f"unknown fault {name!r}; valid faults: {HELP}")
            kind = found
            values = dict(DEFAULTS[kind])
            for param in params:
                key, sep, value = param.partition("=")
                key = key.strip().lower()
                if not sep or key not in DEFAULTS[kind]:
                    valid = ", ".join(f"{k}=N" for k in DEFAULTS[kind])
                    raise ValueError(f"bad parameter {param!r} for fault {kind!r}; "
                                     f"valid: {valid}")
                try:
                    values[key] = float(value)
                except ValueError:
                    raise ValueError(f"parameter {key!r} of fault {kind!r} must be a number, "
                                     f"not {value!r}") from None
            _validate(kind, values)
            enabled[kind] = values
        return cls(enabled, dropped)

    def on(self, kind: str) -> bool:
        """True when fault ``kind`` (canonical name) is switched on."""
        return kind in self.enabled

    def param(self, kind: str, name: str) -> float:
        """A parameter of an enabled fault (its default when the fault is off)."""
        return self.enabled.get(kind, DEFAULTS[kind])[name]

    def __str__(self) -> str:
        if not self.enabled and not self.drop_property:
            return "none"
        parts = []
        for kind, values in self.enabled.items():
            params = "".join(f":{k}={v:g}" for k, v in values.items()
                             if not (kind == "malformed" and v < 0))
            parts.append(kind + params)
        if self.drop_property:
            parts.append(f"drop_property={self.drop_property}")
        return ",".join(parts)


def _validate(kind: str, values: dict[str, float]) -> None:
    every = values.get("every")
    if every is not None and (every < 2 or every != int(every)):
        # every=1 would fail each retry too: the export could never finish.
        raise ValueError(f"fault {kind!r}: every must be an integer >= 2")
    burst = values.get("burst")
    if burst is not None and every is not None and not 1 <= burst < every:
        raise ValueError(f"fault {kind!r}: burst must be >= 1 and smaller than every")
    for key in ("ms", "retry_after", "after", "jobs"):
        if values.get(key, 0) < 0:
            raise ValueError(f"fault {kind!r}: {key} must be >= 0")
    at = values.get("at", -1)
    if kind == "malformed" and at != -1 and not 0 <= at <= 1:
        raise ValueError("fault 'malformed': at must be between 0 and 1")


@dataclass
class Decision:
    """What the server does to one request before (or instead of) answering it."""

    k: int
    drop: str | None = None  # "before" (no bytes) or "mid" (headers + half the body)
    error: str | None = None  # "rate_limit" | "daily_limit" | "server_error"
    status: int = 0
    retry_after: int | None = None
    slow_ms: int = 0
    short: bool = False


class FaultState:
    """The live counters of one running sandbox: request numbers, decisions and statistics."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._k = 0
        self._cursor_k = 0
        self._write_k = 0
        self.counts: Counter[str] = Counter()

    def count(self, name: str, n: int = 1) -> None:
        """Add to a statistics counter (thread-safe)."""
        with self._lock:
            self.counts[name] += n

    def decide(self, cursor: bool, eligible: bool = True, write: bool = False) -> Decision:
        """Number the request and decide its faults.

        ``cursor``: it continues a pagination (only those get 5xx). ``eligible``: False for
        requests already refused (URL too long, bad token), which are numbered but not faulted.
        ``write``: it changes data (only those get ``write_rate_limit`` 429s).
        """
        cfg = self.config
        with self._lock:
            self._k += 1
            k = self._k
            self.counts["requests"] += 1
            d = Decision(k)
            if not eligible:
                return d
            if cursor:
                self._cursor_k += 1
            c = self._cursor_k
            if write:
                self._write_k += 1
            if write and cfg.on("write_rate_limit") and self._write_limited(self._write_k):
                d.error, d.status = "rate_limit", 429
                d.retry_after = int(cfg.param("write_rate_limit", "retry_after"))
                self.counts["fault.write_rate_limit"] += 1
                return d
            if cfg.on("daily_limit") and k > cfg.param("daily_limit", "after"):
                d.error, d.status = "daily_limit", 429
            elif cfg.on("drop") and (k + 11) % int(cfg.param("drop", "every")) == 0:
                hit = (k + 11) // int(cfg.param("drop", "every"))
                d.drop = "mid" if hit % 2 else "before"
            elif cfg.on("rate_limit") and self._rate_limited(k):
                every = int(cfg.param("rate_limit", "every"))
                d.error, d.status = "rate_limit", 429
                # Like the real API: some bursts say when to retry, others do not.
                if (k // every) % 2 == 0:
                    d.retry_after = int(cfg.param("rate_limit", "retry_after"))
            elif (cursor and cfg.on("server_error")
                  and c % int(cfg.param("server_error", "every")) == 0):
                hit = c // int(cfg.param("server_error", "every"))
                d.error, d.status = "server_error", (500, 503, 502)[hit % 3]
            if d.error is None and d.drop is None:
                if cfg.on("slow") and (k + 5) % int(cfg.param("slow", "every")) == 0:
                    d.slow_ms = int(cfg.param("slow", "ms"))
                if cfg.on("short") and (k + 3) % int(cfg.param("short", "every")) == 0:
                    d.short = True
            for name, on in (("drop", d.drop), ("slow", d.slow_ms)):
                if on:
                    self.counts[f"fault.{name}"] += 1
            if d.error:
                self.counts[f"fault.{d.error}"] += 1
            return d

    def _write_limited(self, k: int) -> bool:
        every = int(self.config.param("write_rate_limit", "every"))
        burst = int(self.config.param("write_rate_limit", "burst"))
        return k % every >= every - burst

    def _rate_limited(self, k: int) -> bool:
        every = int(self.config.param("rate_limit", "every"))
        burst = int(self.config.param("rate_limit", "burst"))
        return k % every >= every - burst

    def snapshot(self) -> dict[str, Any]:
        """Counters for ``Sandbox.stats()``: ``requests``, ``faults`` by kind (every enabled
        kind present, 0 when it has not fired yet), ``status`` by HTTP code, ``refused``,
        and per-vendor request counts."""
        with self._lock:
            counts = dict(self.counts)
        out: dict[str, Any] = {"requests": counts.pop("requests", 0),
                               "faults": dict.fromkeys(self.config.enabled, 0),
                               "status": {}, "refused": {}}
        for key, value in sorted(counts.items()):
            group, _, name = key.partition(".")
            group = "faults" if group == "fault" else group
            out.setdefault(group, {})[name] = value
        return out
