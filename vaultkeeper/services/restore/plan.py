"""Plan first: compare the selected snapshot records with the live CRM (batch reads) and decide
per record: skip (unchanged), update (only the differing writable fields), undelete (in the
recycle bin, where the vendor can bring it back) or re-create; plus the relations to re-link."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vaultkeeper.connectors.writer import LEGACY_ID_PROPERTY, CrmWriter
from vaultkeeper.db.selection import MirrorReader
from vaultkeeper.errors import UsageError
from vaultkeeper.services.restore.records import differing, properties_of
from vaultkeeper.services.restore.selection import Selection, stems, touching

FETCH_CHUNK = 500
Link = tuple[str, str, str, str, str]


@dataclass
class PlanItem:
    """One record's planned action (``anchor``: a live record a relation points at)."""

    obj: str
    old_id: str
    action: str
    fields: list[str] = field(default_factory=list)
    target_id: str = ""
    reason: str = ""


@dataclass
class Plan:
    """Every planned item and relation, and notes for the report."""

    items: list[PlanItem] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per object: how many records skip / update / undelete / create."""
        out: dict[str, dict[str, int]] = {}
        for item in self.items:
            if item.action != "anchor":
                row = out.setdefault(item.obj, {"skip": 0, "update": 0, "undelete": 0,
                                                "create": 0})
                row[item.action] += 1
        return out


def reference_fields(reader: MirrorReader, obj: str) -> set[str]:
    """Relation kinds held on ``obj``'s records (Salesforce lookup fields such as AccountId):
    they are restored as relations with the target's ids, never copied as values."""
    found: set[str] = set()
    for stem, a, _b in stems(reader):
        if a == obj:
            found.update(k for k in reader.relation_kinds(stem) if k)
    return found


def compare_fields(reader: MirrorReader, writer: CrmWriter, obj: str,
                   only: Sequence[str]) -> list[str]:
    """The writable fields compared (and restored) for ``obj``; ``only`` = ``--fields``."""
    writable = writer.writable_fields(obj)
    if only:
        bad = [f for f in only if f not in writable.updateable]
        if bad:
            raise UsageError(f"{obj}: {', '.join(bad)} cannot be written back (read-only or "
                             "unknown in the target)",
                             "name writable properties in --fields (the vendor's schema says "
                             "which)")
        return list(only)
    skip = reference_fields(reader, obj) | {LEGACY_ID_PROPERTY}
    return sorted(writable.updateable - skip)


def build_plan(reader: MirrorReader, writer: CrmWriter, selection: Selection, *,
               only_fields: Sequence[str] = (), deleted_only: bool = False,
               previous: dict[tuple[str, str], str] | None = None) -> Plan:
    """Compare ``selection`` with the target and decide what to do with each record."""
    previous = previous or {}
    plan = Plan()
    connector = reader.connector
    undelete = writer.capabilities.undelete
    for obj, ids in selection.items():
        fields = compare_fields(reader, writer, obj, only_fields)
        for start in range(0, len(ids), FETCH_CHUNK):
            part = ids[start:start + FETCH_CHUNK]
            raws = reader.raw(obj, part)
            target = {old: previous.get((obj, old), old) for old in part}
            live = writer.fetch(obj, list(target.values()), properties=fields)
            for old in part:
                snap = properties_of(connector, raws[old])
                now = live.get(target[old])
                plan.items.append(_decide(obj, old, target[old], snap, now, fields,
                                          bool(only_fields), undelete))
    if deleted_only:
        plan.items = [i for i in plan.items if i.action in ("create", "undelete")]
    if not only_fields:
        _plan_links(reader, writer, plan, previous)
    return plan


def _decide(obj: str, old: str, tid: str, snap: dict[str, Any], now: Any, fields: list[str],
            fields_only: bool, undelete: bool) -> PlanItem:
    present = [f for f in fields if f in snap]
    if now is None:
        if fields_only:
            return PlanItem(obj, old, "skip", reason="not in the CRM (restore the record "
                            "without --fields to re-create it)")
        return PlanItem(obj, old, "create")
    if now.archived:
        if fields_only:
            return PlanItem(obj, old, "skip", target_id=tid,
                            reason="archived/deleted in the CRM")
        if undelete:
            return PlanItem(obj, old, "undelete", differing(snap, now.properties, present), tid)
        return PlanItem(obj, old, "create")
    diff = differing(snap, now.properties, present)
    if diff:
        return PlanItem(obj, old, "update", diff, tid)
    return PlanItem(obj, old, "skip", target_id=tid, reason="unchanged")


def _plan_links(reader: MirrorReader, writer: CrmWriter, plan: Plan,
                previous: dict[tuple[str, str], str]) -> None:
    """Relations of re-created and undeleted records whose other end is selected or live."""
    selected = {(i.obj, i.old_id) for i in plan.items}
    wanted: dict[str, list[str]] = {}
    for item in plan.items:
        if item.action in ("create", "undelete"):
            wanted.setdefault(item.obj, []).append(item.old_id)
    seen: set[Link] = set()
    outside: dict[str, set[str]] = {}
    for obj, ids in wanted.items():
        for link in touching(reader, obj, ids):
            if link in seen:
                continue
            seen.add(link)
            a, f, b, t, _k = link
            for end in ((a, f), (b, t)):
                if end not in selected:
                    outside.setdefault(end[0], set()).add(end[1])
    alive: set[tuple[str, str]] = set()
    for obj, ends in outside.items():
        target = {old: previous.get((obj, old), old) for old in sorted(ends)}
        live = writer.fetch(obj, list(target.values()))
        for old, tid in target.items():
            rec = live.get(tid)
            if rec is not None and not rec.archived:
                alive.add((obj, old))
                plan.items.append(PlanItem(obj, old, "anchor", target_id=tid))
    gone = 0
    for link in sorted(seen):
        a, f, b, t, _k = link
        if ((a, f) in selected or (a, f) in alive) and ((b, t) in selected or (b, t) in alive):
            plan.links.append(link)
        else:
            gone += 1
    if gone:
        plan.warnings.append(f"{gone} relation(s) not re-linked: the record at the other end "
                             "is neither restored nor live in the CRM")
