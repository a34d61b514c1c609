"""Frozen dataclasses passed between layers (connectors → services → cli)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ObjectSpec:
    """One CRM object type (contacts, Account …) as discovered from the source."""

    name: str
    """Our name for it, used in file names (``contacts``, ``Account``)."""
    primary_key: str
    """Field holding the record id in the vendor JSON (``id``, ``Id``)."""
    properties: tuple[str, ...]
    """Every property/field name the source has for this object."""
    schema: Any = None
    """The vendor's own schema document (HubSpot properties, Salesforce describe), kept whole."""
    vendor_name: str = ""
    """The vendor's name when it differs from ``name`` (HubSpot objectTypeId, SObject name)."""


@dataclass(frozen=True)
class Record:
    """One record exactly as the vendor returned it."""

    data: dict[str, Any]
    archived: bool = False


@dataclass(frozen=True)
class Relation:
    """An association from one record to another, written to ``relations/<from>__<to>.ndjson``."""

    from_object: str
    from_id: str
    to_object: str
    to_id: str
    type: str = ""

    def as_json(self) -> dict[str, str]:
        """The line written to the relation file."""
        return {"from_id": self.from_id, "to_id": self.to_id, "type": self.type}

    @property
    def file_stem(self) -> str:
        """``contacts__companies``."""
        return f"{self.from_object}__{self.to_object}"


@dataclass(frozen=True)
class Malformed:
    """A record that could not be parsed: kept raw in ``quarantine/`` and counted."""

    raw: str
    reason: str
    location: str = ""
    """Where it came from (page cursor, CSV file and line)."""


Item = Record | Relation | Malformed


@dataclass(frozen=True)
class SourceCount:
    """What the source itself says it holds (HubSpot search total, Salesforce totalSize)."""

    live: int | None
    """Records not archived/deleted, as reported by the source (None: the source cannot say)."""
    total: int | None = None
    """Live plus archived/deleted, when the source reports that (Salesforce queryAll)."""
    method: str = ""
    """How it was obtained (``search total``, ``queryAll totalSize``, ``rows in file``)."""


@dataclass(frozen=True)
class FileEntry:
    """One data file of an export."""

    path: str
    sha256: str
    bytes: int
    count: int
    content_digest: str


@dataclass
class ObjectResult:
    """Per-object outcome of an export, serialised into the manifest."""

    name: str
    count: int = 0
    archived: int = 0
    quarantined: int = 0
    source_count: SourceCount | None = None
    file: FileEntry | None = None
    quarantine_file: str | None = None
    schema_sha256: str = ""
    schema_file: str = ""
    properties: int = 0
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    distinct_live: int | None = None
    """Distinct record ids among live records (None: the object has no id field)."""
    distinct_archived: int | None = None
    """Distinct record ids among archived/deleted records."""
    recount: SourceCount | None = None
    """The source's count asked again after reading (paging that can shift under writes)."""

    @property
    def duplicates(self) -> int:
        """Lines whose id was already written in the same archived state."""
        if self.distinct_live is None or self.distinct_archived is None:
            return 0
        return self.count - self.distinct_live - self.distinct_archived

    @property
    def live(self) -> int:
        """Exported records that are not archived."""
        return self.count - self.archived

    @property
    def difference(self) -> int | None:
        """Exported live records minus what the source reported (negative: records missing)."""
        if self.source_count is None or self.source_count.live is None:
            return None
        return self.live - self.source_count.live
