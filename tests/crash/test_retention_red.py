"""Retention cannot lose good copies: priority snapshots are pruned apart from whole exports, the
newest complete and the newest verified snapshot survive every policy, through a red week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from vaultkeeper.policies import load_policies
from vaultkeeper.restic import Snapshot
from vaultkeeper.services.retention import keeps, plan_retention

DEFAULT_POLICIES = Path(__file__).resolve().parents[2] / "policies"


def _snap(i: int, moment: datetime, priority: bool, host: str = "vaultkeeper") -> Snapshot:
    tags = ("vaultkeeper", "source:sandbox", f"manifest:{i:016x}")
    tags += ("scope:priority",) if priority else ("export:complete",)
    return Snapshot(id=f"{i:064x}", short_id=f"{i:08x}", time=moment, tags=tags,
                    paths=("/x",), hostname=host, original=None)


def test_red_week_with_default_policies_keeps_the_good_copies() -> None:
    """A simulated red week: a whole export every day at 02:00, a priority backup every hour,
    a drill every day at 04:00 verifying that day's whole export; retention after every backup
    with the shipped default policy. At every step the newest whole export and the newest
    verified snapshot exist, and at the end every day keeps its whole export."""
    rules = keeps(load_policies(DEFAULT_POLICIES).retention)
    start = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)
    held: list[Snapshot] = []
    verified: set[str] = set()
    newest_whole = ""
    forgotten_whole: list[str] = []
    for hour in range(7 * 24):
        now = start + timedelta(hours=hour)
        whole = now.hour == 2
        held.append(_snap(hour + 1, now, priority=not whole))
        if whole:
            newest_whole = held[-1].id
        if now.hour == 4 and newest_whole:
            verified = {newest_whole}
        remove, _ = plan_retention(held, rules, verified=verified)
        forgotten_whole += [s.id for s in held if s.id in remove and "scope:priority" not in s.tags]
        held = [s for s in held if s.id not in remove]
        ids = {s.id for s in held}
        if newest_whole:
            assert newest_whole in ids, f"hour {hour}: the newest whole export was pruned"
        assert verified <= ids, f"hour {hour}: the verified snapshot was pruned"
    wholes = [s for s in held if "scope:priority" not in s.tags]
    assert len(wholes) == 7 and forgotten_whole == []
    priority = [s for s in held if "scope:priority" in s.tags]
    # Priority snapshots follow the same rules in their own group: 24 hourly + older dailies.
    assert 24 <= len(priority) <= 24 + 7 + 3


def test_two_hosts_and_copies_keep_their_own_groups() -> None:
    """A verified snapshot protects its copies (``original``) too."""
    rules = {"last": 1}
    t = datetime(2026, 3, 2, tzinfo=UTC)
    a = _snap(1, t, False)
    copy = Snapshot(id="c" * 64, short_id="cccccccc", time=t, tags=a.tags, paths=a.paths,
                    hostname="vaultkeeper", original="f" * 64)
    b = _snap(2, t + timedelta(hours=1), False)
    remove, protected = plan_retention([a, copy, b], rules, verified={"f" * 64})
    assert remove == [a.id] and protected == [copy.id]
