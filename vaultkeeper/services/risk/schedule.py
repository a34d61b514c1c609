"""Pure: what a risk level does to the schedule, and the actions it triggers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from vaultkeeper.policies import RiskLevel, RiskPolicy

PRIORITY_BACKUP_JOB = "priority_backup"
"""Schedule key for the extra backup of top-priority objects (see ``level_actions``)."""
_PHRASE = re.compile(r"every(?: (\d+))? (second|minute|hour|day|week)s?(?: at .*)?")
_WEEKDAY = re.compile(r"every (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b.*")
_UNIT = {"second": timedelta(seconds=1), "minute": timedelta(minutes=1),
         "hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
DEFAULT_BACKUP = "every day at 02:00"


def schedule_interval(phrase: str) -> timedelta:
    """How often a schedule phrase runs: ``every 6 hours`` → 6 h, ``every monday …`` → 1 w."""
    text = " ".join(phrase.lower().split())
    if _WEEKDAY.fullmatch(text):
        return timedelta(weeks=1)
    m = _PHRASE.fullmatch(text)
    if m is None:
        raise ValueError(f"not a schedule phrase: {phrase!r}")
    return int(m[1] or 1) * _UNIT[m[2]]


def interval_phrase(interval: timedelta) -> str:
    """The phrase for an interval: ``every 12 hours``, ``every 2 days``, ``every 20 minutes``."""
    minutes = max(1, round(interval.total_seconds() / 60))
    for size, unit in ((1440, "day"), (60, "hour"), (1, "minute")):
        if minutes % size == 0:
            n = minutes // size
            return f"every {unit}" if n == 1 else f"every {n} {unit}s"
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class LevelAction:
    """One thing a risk level does: ``kind`` is tighten | schedule | priority_backup |
    immediate | alert."""

    kind: str
    description: str
    job: str | None = None
    when: str | None = None
    factor: float | None = None
    max_rank: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


def level_actions(level: RiskLevel) -> list[LevelAction]:
    """What a level does while it holds (schedule changes) and when entered (immediate jobs,
    alert), for the scheduler and for `vaultkeeper status`."""
    out = []
    if level.backup_factor > 1:
        out.append(LevelAction("tighten", f"back up {level.backup_factor:g}× as often",
                               job="backup", factor=level.backup_factor))
    for job, when in level.schedule.items():
        out.append(LevelAction("schedule", f"{job} {when}", job=job, when=when))
    if level.priority_backup:
        out.append(LevelAction("priority_backup", f"export the objects of processes ranked "
                                                  f"≤ {level.priority_rank} "
                                                  f"{level.priority_backup}",
                               job=PRIORITY_BACKUP_JOB, when=level.priority_backup,
                               max_rank=level.priority_rank))
    for job in level.immediate:
        out.append(LevelAction("immediate", f"run {job} now", job=job))
    if level.alert:
        out.append(LevelAction("alert", "alert people"))
    return out


def _level(level: RiskLevel | str, policy: RiskPolicy) -> RiskLevel:
    return policy.level(level) if isinstance(level, str) else level


def effective_schedule(base_schedule: Mapping[str, str], level: RiskLevel | str,
                       policy: RiskPolicy) -> tuple[dict[str, str], list[str]]:
    """The schedule while ``level`` holds, and why each entry differs from ``base_schedule``.

    A level only ever tightens: an entry already more frequent than the level's stays.
    """
    lvl = _level(level, policy)
    schedule = dict(base_schedule)
    reasons: list[str] = []
    why = f"risk level {lvl.name}"
    if lvl.backup_factor > 1:
        base = schedule.get("backup", DEFAULT_BACKUP)
        tighter = interval_phrase(schedule_interval(base) / lvl.backup_factor)
        schedule["backup"] = tighter
        reasons.append(f"{why}: backup {base} → {tighter} ({lvl.backup_factor:g}× as often)")
    for job, when in lvl.schedule.items():
        current = schedule.get(job)
        if current is not None and schedule_interval(current) <= schedule_interval(when):
            reasons.append(f"{why}: {job} stays {current} (already at least as often as "
                           f"{when})")
            continue
        schedule[job] = when
        reasons.append(f"{why}: {job} {current or 'not scheduled'} → {when}")
    if lvl.priority_backup:
        schedule[PRIORITY_BACKUP_JOB] = lvl.priority_backup
        reasons.append(f"{why}: objects of processes ranked ≤ {lvl.priority_rank} exported "
                       f"{lvl.priority_backup}")
    return schedule, reasons


def entering_actions(previous: RiskLevel | str | None, current: RiskLevel | str,
                     policy: RiskPolicy) -> list[LevelAction]:
    """The immediate jobs and alert due when the level changes from ``previous`` to
    ``current``: only when it rises (dropping back relaxes the schedule, nothing runs)."""
    now = _level(current, policy)
    if previous is not None and policy.rank_of(_level(previous, policy).name) >= \
            policy.rank_of(now.name):
        return []
    return [a for a in level_actions(now) if a.kind in ("immediate", "alert")]
