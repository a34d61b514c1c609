"""Carry out a journaled plan: undelete, update, re-create (parents first), then re-link.

Journal-before-write: each batch of items is marked ``pending`` before its request leaves and
settled when the answer is in. A run resumed after a crash first reconciles ``pending`` creates
against the target (by the legacy-id property where the vendor has one, else by a natural key
confirmed by every written value), so nothing is created twice; pending updates, undeletes and
relations are simply sent again (they are idempotent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from vaultkeeper.connectors.writer import (
    LEGACY_ID_PROPERTY,
    CrmWriter,
    LinkSpec,
    NewRecord,
    RecordUpdate,
    WriterUnsupported,
)
from vaultkeeper.db import restores as journal
from vaultkeeper.db.selection import MirrorReader
from vaultkeeper.services.restore.plan import reference_fields
from vaultkeeper.services.restore.records import (
    NATURAL_KEYS,
    differing,
    properties_of,
    update_values,
)

Progress = Callable[[str, str, int], None]


class Applier:
    """Executes one run's journal against the target."""

    def __init__(self, db: Any, run_id: int, reader: MirrorReader,
                 writer: CrmWriter, progress: Progress | None = None) -> None:
        self.db, self.run_id, self.reader, self.writer = db, run_id, reader, writer
        self.connector = reader.connector
        self.batch = max(1, writer.capabilities.batch_size)
        self.progress = progress or (lambda obj, what, n: None)
        self.legacy: dict[str, str | None] = {}
        self.batch_no = 0
        self.warnings: list[str] = []
        self.unknown: list[str] = []

    # -- entry point ---------------------------------------------------------------------
    def run(self, order: Sequence[str]) -> None:
        """Every object in ``order``, then the relations."""
        for obj in order:
            pending = journal.items(self.db, self.run_id, obj=obj, state="pending")
            if pending:
                self._reconcile(obj, pending)
            planned = journal.items(self.db, self.run_id, obj=obj, state="planned")
            for action, step in (("undelete", self._undelete), ("update", self._update),
                                 ("create", self._create)):
                todo = [i for i in planned if i["action"] == action]
                for start in range(0, len(todo), self.batch):
                    step(obj, todo[start:start + self.batch])
        self._links()

    def _pending(self, obj: str, rows: Sequence[dict[str, Any]]) -> None:
        self.batch_no += 1
        journal.mark_pending(self.db, self.run_id, obj, [r["old_id"] for r in rows],
                             self.batch_no)

    def _snapshot(self, obj: str, rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        raws = self.reader.raw(obj, [r["old_id"] for r in rows])
        return {k: properties_of(self.connector, v) for k, v in raws.items()}

    # -- steps ---------------------------------------------------------------------------
    def _update(self, obj: str, rows: Sequence[dict[str, Any]]) -> None:
        snap = self._snapshot(obj, rows)
        self._pending(obj, rows)
        updates = [RecordUpdate(r["new_id"], update_values(self.connector, snap[r["old_id"]],
                                                           r["fields"]), key=r["old_id"])
                   for r in rows]
        result = self.writer.update(obj, updates)
        journal.record_outcomes(self.db, self.run_id, obj, [
            (o.key, "Updated" if o.ok else "Failed", None, o.error, o.code)
            for o in result.outcomes])
        self.progress(obj, "update", len(rows))

    def _undelete(self, obj: str, rows: Sequence[dict[str, Any]]) -> None:
        snap = self._snapshot(obj, rows)
        self._pending(obj, rows)
        by_target = {r["new_id"]: r for r in rows}
        result = self.writer.restore(obj, list(by_target))
        outcomes: dict[str, tuple[str, str, str]] = {}
        back = []
        for o in result.outcomes:
            row = by_target.get(o.key) or by_target.get(o.id or "")
            if row is None:
                continue
            outcomes[row["old_id"]] = ("Undeleted", "", "") if o.ok else ("Failed", o.error,
                                                                          o.code)
            if o.ok and row["fields"]:
                back.append(RecordUpdate(row["new_id"], update_values(
                    self.connector, snap[row["old_id"]], row["fields"]), key=row["old_id"]))
        for o in self.writer.update(obj, back).outcomes if back else []:
            if not o.ok:
                outcomes[o.key] = ("Failed", f"undeleted, but its values could not be put "
                                   f"back: {o.error}", o.code)
        journal.record_outcomes(self.db, self.run_id, obj, [
            (old, outcome, None, reason, code) for old, (outcome, reason, code) in
            outcomes.items()])
        self.progress(obj, "undelete", len(rows))

    def create_values(self, obj: str, snap: dict[str, Any]) -> dict[str, Any]:
        """The values a re-created record is inserted with (writable, non-empty, no lookups)."""
        skip = reference_fields(self.reader, obj) | {LEGACY_ID_PROPERTY}
        props = {k: v for k, v in snap.items() if k not in skip and v not in (None, "")}
        return self.writer.writable_fields(obj).for_create(props)

    def _legacy_property(self, obj: str) -> str | None:
        if obj not in self.legacy:
            self.legacy[obj] = None
            if self.writer.capabilities.legacy_id_property:
                try:
                    self.legacy[obj] = self.writer.ensure_legacy_id_property(obj)
                except WriterUnsupported as exc:
                    self.warnings.append(f"{obj}: no legacy-id property ({exc.message})")
        return self.legacy[obj]

    def _create(self, obj: str, rows: Sequence[dict[str, Any]]) -> None:
        snap = self._snapshot(obj, rows)
        legacy = self._legacy_property(obj)
        inline = self._inline_links(obj, rows)
        records = []
        for r in rows:
            values = self.create_values(obj, snap[r["old_id"]])
            if legacy:
                values[legacy] = r["old_id"]
            records.append(NewRecord(r["old_id"], values,
                                     [spec for _seq, spec in inline.get(r["old_id"], [])]))
        self._pending(obj, rows)
        result = self.writer.create(obj, records)
        journal.record_outcomes(self.db, self.run_id, obj, [
            (o.key, "Created" if o.ok else "Failed", o.id if o.ok else None, o.error, o.code)
            for o in result.outcomes])
        done = [seq for o in result.outcomes if o.ok for seq, _ in inline.get(o.key, [])]
        journal.mark_links(self.db, self.run_id, [(seq, "done", "") for seq in done])
        self.progress(obj, "create", len(rows))

    def _inline_links(self, obj: str, rows: Sequence[dict[str, Any]],
                      ) -> dict[str, list[tuple[int, LinkSpec]]]:
        """Relations a new record can carry in its insert: it is the *from* side and the other
        end already has its id in the target."""
        if not self.writer.capabilities.inline_links:
            return {}
        ids = {r["old_id"] for r in rows}
        known = journal.id_map(self.db, self.run_id)
        out: dict[str, list[tuple[int, LinkSpec]]] = {}
        for link in journal.links(self.db, self.run_id, states=("planned",)):
            if link["from_object"] != obj or link["from_id"] not in ids:
                continue
            to = known.get((link["to_object"], link["to_id"]))
            if to is None:
                continue
            out.setdefault(link["from_id"], []).append((link["seq"], LinkSpec(
                obj, link["from_id"], link["to_object"], to, link["kind"] or "")))
        return out

    def _links(self) -> None:
        rows = journal.links(self.db, self.run_id)
        if not rows:
            return
        known = journal.id_map(self.db, self.run_id)
        failed = {(r["object"], r["old_id"]) for r in journal.items(self.db, self.run_id,
                                                                     state="failed")}
        specs: list[tuple[int, LinkSpec]] = []
        settled: list[tuple[int, str, str]] = []
        for r in rows:
            a, b = (r["from_object"], r["from_id"]), (r["to_object"], r["to_id"])
            if a in failed or b in failed or a not in known or b not in known:
                settled.append((r["seq"], "failed", "the record at one end was not restored"))
                continue
            specs.append((r["seq"], LinkSpec(a[0], known[a], b[0], known[b], r["kind"] or "")))
        journal.mark_links(self.db, self.run_id, settled)
        size = max(1, self.writer.capabilities.link_batch_size)
        for start in range(0, len(specs), size):
            part = specs[start:start + size]
            journal.mark_links(self.db, self.run_id, [(seq, "pending", "") for seq, _ in part])
            result = self.writer.link([spec for _, spec in part])
            journal.mark_links(self.db, self.run_id, [
                (seq, "done" if o.ok else "failed", o.error)
                for (seq, _), o in zip(part, result.outcomes, strict=False)])
            self.progress("relations", "link", len(part))

    # -- after a crash -------------------------------------------------------------------
    def _reconcile(self, obj: str, pending: Sequence[dict[str, Any]]) -> None:
        """Settle items whose write was in flight when the previous run died."""
        creates = [r for r in pending if r["action"] == "create"]
        again = [r for r in pending if r["action"] != "create"]
        found: dict[str, str] = {}
        self.unknown = []
        why = "it has no unique value to search by"
        if creates:
            try:
                found = self._find_created(obj, creates)
            except WriterUnsupported as exc:
                self.unknown, why = [r["old_id"] for r in creates], exc.message
        if self.unknown:
            journal.record_outcomes(self.db, self.run_id, obj, [
                (old, "Failed", None, "the create was in flight when the previous run stopped "
                 f"and the target cannot be searched for it ({why}); check by hand before "
                 "restoring it again", "OUTCOME_UNKNOWN") for old in self.unknown])
            creates = [r for r in creates if r["old_id"] not in self.unknown]
        journal.record_outcomes(self.db, self.run_id, obj, [
            (old, "Created", new, "found in the target after an interrupted run", "")
            for old, new in found.items()])
        inline = self._inline_links(obj, [r for r in creates if r["old_id"] in found])
        journal.mark_links(self.db, self.run_id,
                           [(seq, "done", "") for v in inline.values() for seq, _ in v])
        back = [r["old_id"] for r in again] + [r["old_id"] for r in creates
                                               if r["old_id"] not in found]
        if back:
            journal.replan(self.db, self.run_id, obj, back)
        if found:
            self.warnings.append(f"{obj}: {len(found)} record(s) created just before the "
                                 "previous run stopped were found in the target (not created "
                                 "again)")

    def _find_created(self, obj: str, rows: Sequence[dict[str, Any]]) -> dict[str, str]:
        """Old id → new id of pending creates that reached the target."""
        legacy = self._legacy_property(obj)
        if legacy:
            return self.writer.find_by_property(obj, legacy, [r["old_id"] for r in rows])
        snap = {old: self.create_values(obj, values)
                for old, values in self._snapshot(obj, rows).items()}
        keys = identity_keys(obj, self.writer.identity_fields(obj), snap)
        self.unknown = [old for old in snap if old not in keys]
        taken = set(journal.id_map(self.db, self.run_id).values())
        found: dict[str, str] = {}
        for prop in dict.fromkeys(k[0] for k in keys.values()):
            olds = {value: old for old, (p, value) in keys.items() if p == prop}
            hits = {v: new for v, new in self.writer.find_by_property(obj, prop, list(olds))
                    .items() if new not in taken}
            names = sorted({k for old in olds.values() for k in snap[old]})
            live = self.writer.fetch(obj, list(hits.values()), properties=names)
            for value, new in hits.items():
                old, rec = olds[value], live.get(new)
                # Confirmed only if the record holds every value the lost create sent.
                if rec is not None and not differing(snap[old], rec.properties,
                                                     list(snap[old])):
                    found[old] = new
                    taken.add(new)
        return found


def identity_keys(obj: str, identity: Sequence[str], snap: dict[str, dict[str, Any]],
                  ) -> dict[str, tuple[str, str]]:
    """Per old id, the (property, value) to search the target by: the vendor's unique or
    external-id fields first, then natural keys whose value no other pending record shares.
    A record with none is absent (its outcome cannot be settled by searching)."""
    out: dict[str, tuple[str, str]] = {}
    candidates = [*identity, *NATURAL_KEYS.get(obj, ())]
    counts: dict[tuple[str, str], int] = {}
    for values in snap.values():
        for name in candidates:
            if values.get(name) not in (None, ""):
                key = (name, str(values[name]))
                counts[key] = counts.get(key, 0) + 1
    for old, values in snap.items():
        for name in candidates:
            value = values.get(name)
            if value not in (None, "") and counts[(name, str(value))] == 1:
                out[old] = (name, str(value))
                break
        else:
            raise WriterUnsupported(f"{obj} {old} has no value that identifies it in the "
                                    "target (no unique field, no distinct natural key)")
    return out
