"""``privacy status``: per erasure request, the date by which every copy holding the person
has aged out of every location.

A snapshot leaves a location when retention forgets it (``policies/retention.toml`` keep rules,
applied after every backup) *and* its data may be deleted (an S3 Object Lock default retention
keeps objects until the snapshot's time + the lock period). ``forget_date`` simulates restic's
keep rules over the location's snapshots plus the backups still to come (every backup after the
erasure no longer holds the person), removing what each run forgets, until no snapshot holding
the person is kept. Append-only and immutable locations are never pruned by vaultkeeper, and
escrow deposits are kept until removed: those copies have no age-out date (docs/privacy.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from vaultkeeper.db import escrow as escrowdb
from vaultkeeper.db import privacy as privacydb
from vaultkeeper.errors import StorageError
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.retention import keeps
from vaultkeeper.storage.locations import preflight

HORIZON = timedelta(days=366 * 30)
_EVERY = re.compile(r"every(?: (\d+))? (minute|hour|day|week)s?")


def _bucket(rule: str, when: datetime, index: int) -> object:
    if rule == "last":
        return index
    if rule == "hourly":
        return (when.year, when.month, when.day, when.hour)
    if rule == "daily":
        return (when.year, when.month, when.day)
    if rule == "weekly":
        return when.isocalendar()[:2]
    if rule == "monthly":
        return (when.year, when.month)
    return when.year


def kept(times: Sequence[datetime], rules: dict[str, int]) -> set[datetime]:
    """The snapshots restic's ``forget --keep-*`` keeps (restic 0.14's ApplyPolicy: newest
    first, a rule keeps a snapshot whose period differs from the last one it kept)."""
    counts = dict(rules)
    last: dict[str, object] = {}
    keep: set[datetime] = set()
    for index, when in enumerate(sorted(times, reverse=True)):
        for rule, left in counts.items():
            if left <= 0:
                continue
            value = _bucket(rule, when, index)
            if value != last.get(rule):
                keep.add(when)
                last[rule] = value
                counts[rule] = left - 1
    return keep


def forget_date(snapshots: Sequence[datetime], holding: Sequence[datetime],
                rules: dict[str, int], now: datetime, interval: timedelta) -> datetime | None:
    """The first backup run (from ``now``, every ``interval``) after which retention keeps no
    snapshot in ``holding``; None beyond the horizon or without rules."""
    if not rules:
        return None
    current = set(snapshots) | set(holding)
    held = set(holding)
    when = now
    while when <= now + HORIZON:
        current.add(when)
        current = kept(sorted(current), rules)
        if not current & held:
            return when
        when += interval
    return None


def backup_interval(schedule: str) -> timedelta:
    """The period of a ``[schedule] backup`` phrase (``every 6 hours``, ``every day at 02:00``,
    a weekday: weekly); one day when it cannot be read."""
    text = schedule.strip().lower()
    m = _EVERY.match(text)
    if m:
        return timedelta(**{m[2] + "s": int(m[1] or 1)})
    if any(day in text for day in ("monday", "tuesday", "wednesday", "thursday", "friday",
                                   "saturday", "sunday")):
        return timedelta(weeks=1)
    return timedelta(days=1)


def age_out(holdings: list[dict[str, Any]], snapshots: dict[str, list[datetime]],
            rules: dict[str, int], lock_days: dict[str, int | None], never: dict[str, str],
            now: datetime, interval: timedelta) -> dict[str, Any]:
    """Per location: when retention forgets the last snapshot holding the person, until when an
    Object Lock keeps it, and the later of the two; overall the latest (None: never)."""
    by_location: dict[str, list[datetime]] = {}
    for h in holdings:
        if h.get("where") == "snapshot" and h.get("time"):
            by_location.setdefault(h["location"], []).append(datetime.fromisoformat(h["time"]))
    rows: list[dict[str, Any]] = []
    overall: datetime | None = now
    for location, held in sorted(by_location.items()):
        row: dict[str, Any] = {"location": location, "snapshots": len(held)}
        if location in never:
            row.update(aged_out_by=None, note=never[location])
            overall = None
            rows.append(row)
            continue
        forgotten = forget_date(snapshots.get(location, held), held, rules, now, interval)
        days = lock_days.get(location)
        locked = max(held) + timedelta(days=days) if days else None
        row.update(forgotten_by=_iso(forgotten), locked_until=_iso(locked),
                   lock_days=days)
        out = None if forgotten is None else max(forgotten, locked or forgotten)
        row["aged_out_by"] = _iso(out)
        if out is None:
            overall = None
            row["note"] = "retention keeps it beyond the horizon (no keep rule lets it go)"
        elif overall is not None:
            overall = max(overall, out)
        rows.append(row)
    return {"locations": rows, "aged_out_by": _iso(overall) if rows else _iso(now)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def privacy_status(settings: Any, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every erasure request with its age-out dates (locations queried live when reachable)."""
    ctx = CommandContext.of(settings)
    now = now or datetime.now(UTC)
    rules = keeps(ctx.policies.retention)
    interval = backup_interval(ctx.settings.schedule.get("backup", "every day"))
    snapshots: dict[str, list[datetime]] = {}
    lock_days: dict[str, int | None] = {}
    never: dict[str, str] = {}
    for location in ctx.locations():
        if location.append_only or location.immutable:
            never[location.name] = ("append-only/immutable: vaultkeeper never prunes it; "
                                    "remove the snapshots by hand (docs/privacy.md)")
        check = preflight(location)
        lock_days[location.name] = check.lock_days
        if check.present and check.reachable is not False:
            try:
                snapshots[location.name] = [s.time for s in ctx.restic(location).snapshots()]
            except StorageError:
                pass
    deposit = escrowdb.last_deposit(ctx.db) if ctx.settings.escrow.url else None
    out = []
    for req in privacydb.requests(ctx.db):
        result = age_out(req["holdings"], snapshots, rules, lock_days, never, now, interval)
        if deposit is not None:
            result["escrow"] = {
                "last_deposit": deposit.get("created_at"),
                "note": "escrow deposits are kept until removed; a deposit made after "
                        f"{req['registered_at'][:10]} suppresses the person on release"}
        until = result["aged_out_by"]
        status = ("held (no age-out date)" if until is None else
                  "ageing out" if until > (_iso(now) or "") else "aged out")
        out.append({"ref": req["ref"], "registered_at": req["registered_at"],
                    "found": req["found"], "status": status, **result})
    return out
