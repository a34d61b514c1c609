"""The writer contract: what every CRM target offers to ``restore``, ``drill --into-crm`` and
migration rehearsals (the write-side twin of ``connectors.base.Connector``).

Object names are the reader's (``ObjectSpec.name``: HubSpot ``contacts``, Salesforce
``Contact``); record ids are the vendor's own strings. Every bulk method takes any number of
inputs, splits them into the vendor's batch size, honours its rate limits, and returns one
``WriteOutcome`` per input, in input order, carrying the vendor's own message for each failure.
A batch the vendor refuses as a whole (HubSpot answers 400/409 for one bad input) is split
until each bad record stands alone, so the good ones are still written and every failure is
attributed to its record. Transport failures and throttling are retried (connectors/http.py);
what still fails after the retries raises ``ConnectorError`` (exit 6): the caller's journal
tells what was done before.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from vaultkeeper.connectors.base import http_request_stats
from vaultkeeper.connectors.http import HttpClient, Validator
from vaultkeeper.errors import ConnectorError
from vaultkeeper.registry import WriterEndpoint

if TYPE_CHECKING:
    from vaultkeeper.connectors.file_writer import FileWriter

Status = Literal["created", "updated", "undeleted", "archived", "linked", "skipped", "failed"]
LEGACY_ID_PROPERTY = "vaultkeeper_legacy_id"
"""Default name of the HubSpot property that carries a re-created record's old id."""


class WriterUnsupported(ConnectorError):
    """The vendor's API does not offer this write (e.g. un-archiving a HubSpot record)."""


@dataclass(frozen=True)
class LinkSpec:
    """One relation to (re)create: ``from_object/from_id`` → ``to_object/to_id``.

    ``kind`` is the relation type exactly as the reader exported it (``Relation.type``): for
    HubSpot an association label/name such as ``contact_to_company`` or
    ``HUBSPOT_DEFINED:279`` (several joined by ``;``; empty means the default association); for
    Salesforce the lookup field on the *from* record, e.g. ``AccountId`` on ``Contact``.
    """

    from_object: str
    from_id: str
    to_object: str
    to_id: str
    kind: str = ""


@dataclass(frozen=True)
class NewRecord:
    """A record to create. ``key`` is the caller's handle (usually the snapshot's id) and comes
    back in the outcome; ``links`` point at records that already exist in the target (their
    target ids) and are created together with the record when the vendor allows it (HubSpot
    inline ``associations``; Salesforce lookup fields in the same insert)."""

    key: str
    properties: Mapping[str, Any]
    links: Sequence[LinkSpec] = ()


@dataclass(frozen=True)
class RecordUpdate:
    """New values for some properties of an existing record (only those are sent)."""

    id: str
    properties: Mapping[str, Any]
    key: str = ""
    """Caller's handle (defaults to ``id``)."""


@dataclass(frozen=True)
class LiveRecord:
    """What the target holds now for one id (``fetch``)."""

    id: str
    properties: dict[str, Any]
    archived: bool = False
    """HubSpot: archived (recycle bin, 90 days). Salesforce: ``IsDeleted`` (recycle bin)."""
    archived_at: str | None = None


@dataclass(frozen=True)
class WriteOutcome:
    """The result for one input of a bulk write."""

    key: str
    status: Status
    id: str | None = None
    """The vendor's id of the record after the write (the new id for ``created``)."""
    error: str = ""
    """The vendor's own message for a failure (empty on success)."""
    code: str = ""
    """The vendor's error code/category (``INVALID_EMAIL``, ``REQUIRED_FIELD_MISSING`` …)."""

    @property
    def ok(self) -> bool:
        """True unless the write failed."""
        return self.status != "failed"


@dataclass
class WriteResult:
    """Outcomes of one bulk call, in input order, plus the requests it took."""

    outcomes: list[WriteOutcome] = field(default_factory=list)
    requests: int = 0

    @property
    def failed(self) -> list[WriteOutcome]:
        """The outcomes that failed."""
        return [o for o in self.outcomes if not o.ok]

    @property
    def ok(self) -> bool:
        """True when every input succeeded."""
        return not self.failed

    def by_key(self) -> dict[str, WriteOutcome]:
        """Outcomes indexed by the caller's key."""
        return {o.key: o for o in self.outcomes}

    def extend(self, other: WriteResult) -> None:
        """Append another result (used when one call is split into batches)."""
        self.outcomes.extend(other.outcomes)
        self.requests += other.requests


@dataclass(frozen=True)
class WritableFields:
    """Which properties the vendor's schema lets us write, per operation.

    Built from the vendor's own metadata: HubSpot ``modificationMetadata.readOnlyValue`` and
    ``calculated``; Salesforce describe ``createable`` / ``updateable`` (formula fields,
    system fields and auto-numbers are neither).
    """

    obj: str
    createable: frozenset[str]
    updateable: frozenset[str]
    read_only: frozenset[str]
    """Known properties the vendor computes or protects (never sent)."""

    def for_create(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        """The subset of ``properties`` an insert may carry."""
        return {k: v for k, v in properties.items() if k in self.createable}

    def for_update(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        """The subset of ``properties`` an update may carry."""
        return {k: v for k, v in properties.items() if k in self.updateable}

    def dropped(self, properties: Iterable[str], create: bool = True) -> list[str]:
        """Names that ``for_create``/``for_update`` would leave out (read-only or unknown)."""
        allowed = self.createable if create else self.updateable
        return sorted(k for k in properties if k not in allowed)


@dataclass(frozen=True)
class WriterCapabilities:
    """What the vendor's public API allows (see docs/connectors.md, "Writing back")."""

    batch_size: int
    """Largest number of records per create/update/archive request."""
    link_batch_size: int
    """Largest number of relations per association request (Salesforce: records per update)."""
    undelete: bool
    """True if a deleted/archived record can be brought back with its id (Salesforce)."""
    inline_links: bool
    """True if ``NewRecord.links`` are written in the create request itself."""
    legacy_id_property: bool
    """True if ``ensure_legacy_id_property`` can create a property to carry the old id."""


class CrmWriter(abc.ABC):
    """A CRM target that records can be written back into.

    Typical restore flow: ``writable_fields`` → ``fetch`` (live state incl. archived) →
    ``update`` / ``restore`` (undelete where offered) / ``create`` (re-create, new ids) →
    ``link`` (relations with the new ids). All methods are safe to call with empty inputs.
    """

    name: ClassVar[str]
    """Vendor name, as the reader's ``Connector.name``."""
    capabilities: ClassVar[WriterCapabilities]
    http: HttpClient
    batch_size: int
    """Records per request: the caller's wish, capped by ``capabilities.batch_size``."""

    def _connect(self, at: WriterEndpoint, *, validate: Validator,
                 sleep: Callable[[float], None], batch_size: int,
                 headers: Mapping[str, str] | None = None, **hooks: Any) -> None:
        """Open ``http`` to the vendor with the endpoint's token as the bearer (``hooks``:
        HttpClient's ``on_response``/``before_request``) and set ``batch_size`` within the
        API's limit."""
        self.http = HttpClient(
            at.url, headers={"Authorization": f"Bearer {at.token}", **(headers or {})},
            ca_file=at.ca_file, timeout=at.timeout, max_retries=at.max_retries,
            validate=validate, sleep=sleep, **hooks)
        self.batch_size = max(1, min(batch_size, self.capabilities.batch_size))

    @abc.abstractmethod
    def writable_fields(self, obj: str) -> WritableFields:
        """Which properties of ``obj`` can be written on create and on update (cached)."""

    @abc.abstractmethod
    def fetch(self, obj: str, ids: Sequence[str],
              properties: Sequence[str] = ()) -> dict[str, LiveRecord]:
        """The target's current state of ``ids`` (live *and* archived/deleted), by id.

        Ids the target does not hold at all (never existed, or purged) are absent from the
        result. ``properties`` empty means the vendor's defaults.
        """

    @abc.abstractmethod
    def create(self, obj: str, records: Sequence[NewRecord]) -> WriteResult:
        """Insert records (new vendor ids); read-only properties are dropped first.

        Outcome per record: ``created`` with the new id, or ``failed`` with the vendor's reason.
        """

    @abc.abstractmethod
    def update(self, obj: str, updates: Sequence[RecordUpdate]) -> WriteResult:
        """Set the given properties on existing records (only those; read-only ones dropped).

        Outcome per update: ``updated`` or ``failed`` (unknown/archived id, validation …).
        """

    @abc.abstractmethod
    def restore(self, obj: str, ids: Sequence[str]) -> WriteResult:
        """Bring archived/deleted records back with their ids (``undeleted`` per id).

        Raises ``WriterUnsupported`` when the vendor offers no way (HubSpot: re-create).
        """

    @abc.abstractmethod
    def archive(self, obj: str, ids: Sequence[str]) -> WriteResult:
        """Archive (HubSpot) / delete to the recycle bin (Salesforce); ``archived`` per id."""

    @abc.abstractmethod
    def link(self, links: Sequence[LinkSpec]) -> WriteResult:
        """Create relations between existing records (``linked`` per input; key = index).

        HubSpot: v4 associations batch create. Salesforce: the lookup field set by update.
        """

    def ensure_legacy_id_property(self, obj: str, name: str = LEGACY_ID_PROPERTY) -> str:
        """Make sure ``obj`` has a writable text property ``name`` to carry a re-created
        record's old id; return the property name to use. Raises ``WriterUnsupported`` where
        the vendor cannot add fields through this API (Salesforce: custom fields need the
        Metadata API — use an existing external-id field instead)."""
        raise WriterUnsupported(f"{self.name} cannot create a legacy-id property through its API",
                                "map old → new ids in the restore journal instead")

    def find_by_property(self, obj: str, prop: str, values: Sequence[str]) -> dict[str, str]:
        """Live records whose ``prop`` equals one of ``values``: value → vendor id (for
        resuming a restore by legacy id). Values with no match are absent."""
        raise WriterUnsupported(f"{self.name} writer cannot look records up by {prop}")

    def identity_fields(self, obj: str) -> list[str]:
        """Properties that identify one record of ``obj`` in the target (unique or external-id
        fields in the vendor's schema), best first; empty when the vendor declares none."""
        return []

    def file_writer(self) -> FileWriter:
        """What puts files back into this CRM (ConnectorError: this vendor takes none)."""
        raise ConnectorError(f"files cannot be written into a {self.name} CRM")

    def request_stats(self) -> dict[str, object]:
        """Requests sent and retries absorbed (same shape as ``Connector.request_stats``)."""
        return http_request_stats(self)

    def close(self) -> None:
        """Release network connections."""
        http = getattr(self, "http", None)
        if http is not None:
            http.close()

    def __enter__(self) -> CrmWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), max(1, size)):
        yield items[start:start + size]


Indexed = list[tuple[int, RecordUpdate]]


def distinct_batches(updates: Sequence[RecordUpdate], size: int) -> list[Indexed]:
    """Batches of at most ``size`` (input position, update) with no id twice in a batch
    (HubSpot and Salesforce refuse duplicate ids): a repeated id waits for a later batch."""
    batches: list[Indexed] = []
    pending: Indexed = list(enumerate(updates))
    while pending:
        batch: Indexed = []
        rest: Indexed = []
        seen: set[str] = set()
        for n, u in pending:
            if len(batch) < size and u.id not in seen:
                batch.append((n, u))
                seen.add(u.id)
            else:
                rest.append((n, u))
        batches.append(batch)
        pending = rest
    return batches
