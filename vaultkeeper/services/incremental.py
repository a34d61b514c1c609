"""Incremental exports merged into a synthetic full export (issue 16).

``SyntheticConnector`` wraps the real connector: for each object it can read incrementally it
replays the previous snapshot's export (restored from restic into the private staging folder)
minus the records that changed, then the changed records as the vendor gives them now; other
objects are read in full. ``run_export`` writes the result like any export, so counts, content
digests, relations and checks are those of a full export, and drills, diffs and packages are
unchanged. The manifest's ``incremental`` block says which objects came incrementally, since
when, and each object's high-water mark (taken before anything is read; the next run starts
``OVERLAP`` earlier, so a record changed while this run read is read again, never lost).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from vaultkeeper.connectors.base import Connector
from vaultkeeper.connectors.changes import ChangeFeed, ChangeSet, Previous
from vaultkeeper.connectors.files_base import FileSource
from vaultkeeper.errors import ConnectorError
from vaultkeeper.exportfmt import ExportFolder, iter_lines
from vaultkeeper.models import Item, ObjectSpec, Record, Relation, SourceCount

OVERLAP = timedelta(minutes=10)
"""Each incremental read starts this long before the previous high-water mark (clock skew
between vaultkeeper and the vendor, and records committed late)."""


def feed_for(connector: Connector) -> ChangeFeed | None:
    """The change feed of ``connector`` (None: it is always exported in full)."""
    return connector.change_feed()


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_iso(value: Any) -> datetime | None:
    """An ISO 8601 time from a manifest (None when absent or unreadable)."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def high_water(manifest: Mapping[str, Any], name: str) -> datetime | None:
    """Object ``name``'s high-water mark in a previous manifest (None: none recorded)."""
    block = manifest.get("incremental")
    objects = block.get("objects") if isinstance(block, dict) else None
    entry = objects.get(name) if isinstance(objects, dict) else None
    if isinstance(entry, dict) and entry.get("high_water"):
        return parse_iso(entry["high_water"])
    # a full run's mark covers every object it read
    return parse_iso(block.get("high_water")) if isinstance(block, dict) and \
        block.get("mode") == "full" and name in manifest.get("objects", {}) else None


@dataclass
class ObjectPlan:
    """How one object is exported in this run."""

    mode: str                      # incremental | full | carried
    reason: str = ""
    since: datetime | None = None
    changes: ChangeSet | None = None
    high_water: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        """The object's entry in the manifest's ``incremental`` block."""
        out: dict[str, Any] = {"mode": self.mode,
                               "high_water": iso(self.high_water) if self.high_water else None}
        if self.since is not None:
            out["since"] = iso(self.since)
        if self.reason:
            out["reason"] = self.reason
        if self.changes is not None:
            out["changed"] = len(self.changes.records)
            out["removed"] = len(self.changes.removed)
            out["notes"] = self.changes.notes
        return out


BudgetCheck = Callable[[ChangeFeed, list[ObjectSpec], Mapping[str, "ObjectPlan"]], None]
"""Called with the objects and their plans before any record is read (services/budget.py)."""


@dataclass
class SyntheticConnector(Connector):
    """The previous export plus this run's changes, presented as a connector.

    Without a previous export (``previous`` None) every object is read in full: the wrapper
    then only adds the budget check and the manifest's ``incremental`` block."""

    inner: Connector
    feed: ChangeFeed
    previous: ExportFolder | None
    started: datetime
    carried: frozenset[str] = frozenset()
    budget: BudgetCheck | None = None
    summary_into: dict[str, Any] = field(default_factory=dict)
    plans: dict[str, ObjectPlan] = field(default_factory=dict)
    _gone: dict[str, set[str]] = field(default_factory=dict)
    _reading: str = "full"

    name = "synthetic"

    def __post_init__(self) -> None:
        self.name = self.inner.name  # type: ignore[misc]
        self.version = self.inner.version  # type: ignore[misc]
        self.default_order = self.inner.default_order  # type: ignore[misc]

    @property
    def recount_after_read(self) -> bool:  # type: ignore[override]
        """Recount objects read in full; a merge was checked against the count read before."""
        return self._reading == "full" and self.inner.recount_after_read

    # -- planning (in discover: every object's changes before any is written) --------------
    def discover(self) -> list[ObjectSpec]:
        """The source's objects now; the budget is checked and each object's changes read
        here, before anything is written."""
        specs = self.feed.discover(self._empty_in_base()) if self.previous is not None \
            else self.inner.discover()
        for spec in specs:
            self.plans[spec.name] = self._preplan(spec)
        if self.budget is not None:
            self.budget(self.feed, specs, self.plans)
        for spec in specs:
            plan = self.plans[spec.name]
            if plan.mode == "incremental":
                self.plans[spec.name] = self._read_changes(spec, plan)
        self.summary_into.update(self.summary())
        return specs

    def _empty_in_base(self) -> dict[str, Any]:
        """Objects the base holds no record of (live or archived), with their stored schema:
        the feed may keep that schema when the object is still empty and not due in full."""
        if self.previous is None:
            return {}
        out = {}
        for name, entry in self.previous.manifest.objects.items():
            if entry.count or entry.archived or entry.quarantined or name in self.carried:
                continue
            if high_water(self.previous.manifest.raw, name) is None:
                continue
            schema = self.previous.schema(name)
            if isinstance(schema, dict):
                out[name] = schema
        return out

    def _preplan(self, spec: ObjectSpec) -> ObjectPlan:
        if self.previous is None:
            return ObjectPlan("full", "", high_water=self.started)
        old = self.previous.manifest.objects.get(spec.name)
        mark = high_water(self.previous.manifest.raw, spec.name)
        if old is None or mark is None:
            return ObjectPlan("full", "not in the previous snapshot", high_water=self.started)
        if not self.feed.supports(spec):
            return ObjectPlan("full", "no change feed for this object", high_water=self.started)
        schema = old.raw.get("schema")
        names = schema.get("property_names") if isinstance(schema, dict) else None
        if names is not None and sorted(spec.properties) != list(names):
            return ObjectPlan("full", "its properties changed", high_water=self.started)
        if spec.name in self.carried:
            return ObjectPlan("carried", "not due (per-object cadence)", high_water=mark)
        return ObjectPlan("incremental", "", mark - OVERLAP, high_water=self.started)

    def _read_changes(self, spec: ObjectSpec, plan: ObjectPlan) -> ObjectPlan:
        assert plan.since is not None
        previous = self._previous_ids(spec)
        try:
            changes = self.feed.changes(spec, plan.since, previous)
        except ConnectorError as exc:
            return ObjectPlan("full", f"change feed failed: {exc.message}", plan.since,
                              high_water=self.started)
        problem = _reconcile(previous, changes, self.feed)
        if problem:
            return ObjectPlan("full", problem, plan.since, high_water=self.started)
        self._gone.setdefault(spec.name, set()).update(changes.gone)
        return ObjectPlan("incremental", "", plan.since, changes, high_water=self.started)

    def _previous_ids(self, spec: ObjectSpec) -> Previous:
        out = Previous()
        for record in self._previous_records(spec.name):
            key = str(record.get(spec.primary_key))
            (out.archived if self.feed.is_archived(record) else out.live).add(key)
        return out

    def _previous_records(self, name: str) -> Iterator[dict[str, Any]]:
        if self.previous is None or name not in self.previous.manifest.objects:
            return
        path = self.previous.object_path(name)
        if not path.exists():
            return
        for line in iter_lines(path):
            if line:
                yield orjson.loads(line)

    # -- the connector contract -------------------------------------------------------------
    def file_source(self) -> FileSource | None:
        """The source's files: listed in full every run (unchanged ones are not downloaded
        again: services/file_reuse.py)."""
        return self.inner.file_source()

    def source_count(self, obj: ObjectSpec) -> SourceCount | None:
        """The count the change feed read (carried objects: none, they were not read)."""
        plan = self.plans.get(obj.name)
        if plan is not None and plan.mode == "carried":
            return None
        if plan is not None and plan.changes is not None and plan.changes.count is not None:
            return plan.changes.count
        return self.inner.source_count(obj)

    def read(self, obj: ObjectSpec) -> Iterator[Item]:
        """Full objects from the source; the others merged from the previous export."""
        plan = self.plans.get(obj.name)
        self._reading = "full" if plan is None else plan.mode
        if plan is None or plan.mode == "full" or self.previous is None:
            yield from self.inner.read(obj)
            return
        changes = plan.changes or ChangeSet()
        touched = set(changes.records) | changes.removed
        for record in self._previous_records(obj.name):
            if str(record.get(obj.primary_key)) not in touched:
                yield Record(record, archived=self.feed.is_archived(record))
        for entry in self.previous.manifest.relations.values():
            if entry.from_object != obj.name:
                continue
            gone = self._gone.get(entry.to_object, set())
            for line in iter_lines(self.previous.root / entry.path):
                if not line:
                    continue
                rel = orjson.loads(line)
                if rel["from_id"] in touched or rel["to_id"] in gone:
                    continue
                yield Relation(obj.name, rel["from_id"], entry.to_object, rel["to_id"],
                               rel.get("type", ""))
        yield from changes.relations
        for record in changes.records.values():
            yield Record(record, archived=self.feed.is_archived(record))

    def problems(self) -> list[str]:
        """The source's discovery problems."""
        return self.inner.problems()

    def object_names(self) -> list[str]:
        """Every object the source offers."""
        return self.inner.object_names()

    def request_stats(self) -> dict[str, object]:
        """The real connector's requests (the previous export costs none)."""
        return self.inner.request_stats()

    def describe_source(self) -> dict[str, str]:
        """The source's own description."""
        return self.inner.describe_source()

    def summary(self) -> dict[str, Any]:
        """The manifest's ``incremental`` block (objects part)."""
        return {name: plan.as_json() for name, plan in self.plans.items()}


def _reconcile(previous: Previous, changes: ChangeSet, feed: ChangeFeed) -> str:
    """Why the merged object would not match the source's own count ('' when it would)."""
    count = changes.count
    if count is None:
        return ""
    live, archived = set(previous.live), set(previous.archived)
    for key in changes.removed:
        live.discard(key)
        archived.discard(key)
    for key, record in changes.records.items():
        now_archived = feed.is_archived(record)
        (archived if now_archived else live).add(key)
        (live if now_archived else archived).discard(key)
    if count.live is not None and count.live != len(live):
        return (f"the merge holds {len(live)} live records, the source counts {count.live} "
                "(records left without a trace)")
    if count.total is not None and count.total != len(live) + len(archived):
        return (f"the merge holds {len(live) + len(archived)} records with the deleted ones, "
                f"the source counts {count.total}")
    return ""
