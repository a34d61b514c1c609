"""The change-feed contract: what a connector offers for incremental exports.

A feed reads, for one object, what changed since a moment (records created, updated, archived
or deleted, with their relations) and which records left the source altogether. The export
service (services/incremental.py) merges that into the previous snapshot's export to make a
synthetic full export. Connectors without a feed are always exported in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from vaultkeeper.models import ObjectSpec, Relation, SourceCount


@dataclass
class Previous:
    """What the previous snapshot held of one object: ids of live and archived records."""

    live: set[str] = field(default_factory=set)
    archived: set[str] = field(default_factory=set)


@dataclass
class ChangeSet:
    """One object's changes since a moment.

    ``records``: id → the record as a full export writes it (live or archived/deleted);
    ``relations``: the relations of those records (they replace the old ones);
    ``removed``: ids that are no longer in the source at all (purged, hard-deleted);
    ``gone``: ids no longer live (archived, deleted, removed): relations pointing at them
    from other objects are dropped, as a full export would not see them either;
    ``count``: the source's own count (None: unknown), checked against the merge and
    reported as the object's source count; ``notes``: what the feed did, for the manifest."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)
    removed: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)
    count: SourceCount | None = None
    notes: list[str] = field(default_factory=list)


class ChangeFeed(Protocol):
    """A connector's incremental reader (HubSpot: hs_changes.py; Salesforce: sf_changes.py)."""

    def supports(self, obj: ObjectSpec) -> bool:
        """True when ``obj`` can be read incrementally (else it is read in full)."""

    def is_archived(self, record: dict[str, Any]) -> bool:
        """Whether a record as exported is archived/deleted."""

    def discover(self, reusable: Mapping[str, Any]) -> list[ObjectSpec]:
        """The connector's discovery; ``reusable`` (name → the schema document the base
        stored) holds objects that were empty in the base: a feed may keep that schema for
        one that is still empty rather than read it again."""

    def changes(self, obj: ObjectSpec, since: datetime, previous: Previous) -> ChangeSet:
        """What changed in ``obj`` since ``since`` (raises ConnectorError when it cannot
        say; the object is then read in full)."""

    def estimate(self, obj: ObjectSpec, since: datetime | None) -> int:
        """Requests that reading ``obj`` will cost: in full (``since`` None) or since then."""

    def quota(self) -> tuple[int, int] | None:
        """The vendor's daily request limit and what remains of it (None: not reported)."""
