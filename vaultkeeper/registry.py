"""The source registry: one record per CRM source (HubSpot, Salesforce, CSV, the sandbox,
Airbyte sources and Singer taps).

A vendor's knowledge lives in its own module, which builds one ``SourceKind`` and calls
``register`` when it is imported: how to open it from ``[source]`` settings, what it requires
of those settings, its standard objects, how the mirror and the emergency package read its
exported schema and records, the import files the package writes for it, and for a source that
starts its own CRM (the sandbox) a ``writer`` opener. Vendors' writers (connectors/*_writer.py)
register a factory with ``register_writer``; ``writer_factory`` imports them on first use.
Likewise a vendor that can be a rehearsal target (``emergency rehearse --into``) declares a
``Rehearsal`` record in its own module (connectors/*_rehearsal.py), which ``rehearsal`` imports
on first use: the rehearse service names no vendor.

This module is core: it imports no vendor module, so config and policies can ask it. The
``ENTRIES`` index names each source's module, and ``get`` imports that module (by name, with
importlib) the first time the source is asked for. So ``[source] connector = "sandbox"`` loads
``vaultkeeper.sandbox.source`` only when a configuration names it: no production module
imports the sandbox, and nothing imports a vendor module it does not use. The two facts the
settings need before any vendor is loaded (which names can be a sandbox flavour, which have
import files) are flags of the index.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from vaultkeeper.errors import ConfigError

if TYPE_CHECKING:
    from vaultkeeper.canonical import ImportFile
    from vaultkeeper.config import SourceSettings
    from vaultkeeper.shapes import ObjectShape, PackageReader


@dataclass(frozen=True)
class Entry:
    """One line of the index: a source's name, its module, and what settings need early."""

    name: str
    module: str
    flavour: bool = False
    """The sandbox can speak its API (``[source] flavour``)."""
    import_target: bool = False
    """The emergency package can write its import files (``--target``)."""
    writer_module: str | None = None
    """The module holding its writer (restore, rehearsal), imported on first use."""
    sign_in: bool = False
    """Signs in with an OAuth flow (``[source] auth``) besides a static token."""
    rehearsal_module: str | None = None
    """The module holding its ``Rehearsal`` record (a rehearsal target), imported on first use."""


ENTRIES: tuple[Entry, ...] = (
    Entry("hubspot", "vaultkeeper.connectors.hubspot", flavour=True, import_target=True,
          writer_module="vaultkeeper.connectors.hubspot_writer",
          rehearsal_module="vaultkeeper.connectors.hs_rehearsal"),
    Entry("salesforce", "vaultkeeper.connectors.salesforce", flavour=True, import_target=True,
          writer_module="vaultkeeper.connectors.salesforce_writer", sign_in=True,
          rehearsal_module="vaultkeeper.connectors.sf_rehearsal"),
    Entry("csv", "vaultkeeper.connectors.csv_source"),
    Entry("sandbox", "vaultkeeper.sandbox.source"),
    # The long tail: an Airbyte source or a Singer tap from PyPI, run in its own virtualenv.
    Entry("airbyte", "vaultkeeper.connectors.thirdparty"),
    Entry("singer", "vaultkeeper.connectors.thirdparty"),
)
DEFAULT = ENTRIES[0].name
"""The source ``vaultkeeper init`` writes and the example of ``[source] connector``."""
GENERIC = "csv"
"""The source whose readers serve an export of a source the registry does not know."""
SANDBOX = "sandbox"

Fail = Callable[[str, str, str], ConfigError]
"""``fail(key, message, fix)``: the ConfigError naming ``[source] key`` in the file."""


def _unchanged(source: SourceSettings, fail: Fail) -> SourceSettings:
    return source


def _unknown(source: SourceSettings) -> tuple[set[str], str] | None:
    return None


@dataclass(frozen=True)
class SourceKind:
    """Everything vaultkeeper knows about one source, owned by the source's module."""

    name: str
    open: Callable[[SourceSettings, ExitStack], Any]
    """Build the connector (a ``connectors.base.Connector``); clean-ups go on the stack."""
    check_settings: Callable[[SourceSettings, Fail], SourceSettings] = _unchanged
    """What the source requires of ``[source]`` (and defaults it fills in), at load time."""
    known_objects: Callable[[SourceSettings], tuple[set[str], str] | None] = _unknown
    """The objects the source can have and a description; None: not known in advance."""
    standard_objects: tuple[str, ...] = ()
    connect: Callable[[SourceSettings, str, str, Path | None], Any] | None = None
    """For a sandbox flavour: the connector to ``(url, token, ca_file)``."""
    mirror_shape: Callable[[str, Any], ObjectShape | None] | None = None
    """The mirror's reading of one object from its stored schema (None: not this vendor's)."""
    package: PackageReader | None = None
    """The emergency package's reading of an object's schema and records."""
    import_files: tuple[ImportFile, ...] = ()
    """The import files the emergency package writes for ``--target <name>``."""
    associations_how: str = ""
    """The runbook step for the package's ``import/<target>/associations/*.csv`` files."""
    summary: Callable[[SourceSettings], str] | None = None
    """One line for ``vaultkeeper config show`` (default: the base URL)."""
    writer: Callable[[SourceSettings, ExitStack], Any] | None = None
    """For a source that starts its own CRM (the sandbox): open a writer to it. Vendors' own
    writers are found with ``writer_factory``."""


_T = TypeVar("_T")


class Plugins(Generic[_T]):
    """One kind of per-vendor record (sources, writers, rehearsal targets): declared by a
    module the index names for it, imported the first time a name is asked for."""

    def __init__(self, module_of: Callable[[Entry], str | None], refusal: str, fix: str,
                 key: str) -> None:
        self.module_of = module_of
        # The ConfigError for a name without a record: ``refusal`` (formatted with {name}),
        # ``fix`` (with {names}, the names that have one) and ``key``, the setting to change.
        self.refusal, self.fix, self.key = refusal, fix, key
        self._records: dict[str, _T] = {}

    def add(self, name: str, record: _T) -> None:
        """Keep ``record`` for ``name`` (its module calls this once, when imported)."""
        self._records[name] = record

    def names(self) -> tuple[str, ...]:
        """The index's names that have such a record, in the index's order."""
        return tuple(e.name for e in ENTRIES if self.module_of(e))

    def find(self, name: str) -> _T | None:
        """The record of ``name``, importing its module the first time; None when the index
        names no module for it."""
        module = next((self.module_of(e) for e in ENTRIES if e.name == name), None)
        if module is None:
            return None
        if name not in self._records:
            importlib.import_module(module)
        return self._records[name]

    def get(self, name: str) -> _T:
        """The record of ``name``, or the ConfigError saying there is none."""
        record = self.find(name)
        if record is None:
            raise ConfigError(self.refusal.format(name=name),
                              self.fix.format(names=", ".join(self.names())), key=self.key)
        return record


_KINDS: Plugins[SourceKind] = Plugins(lambda e: e.module, "unknown connector {name!r}",
                                      "use one of {names}", "[source] connector")


def register(kind: SourceKind) -> SourceKind:
    """Add a source's record (each source module calls this once, when imported)."""
    if kind.name not in names():
        raise ValueError(f"{kind.name} is not in vaultkeeper.registry.ENTRIES")
    _KINDS.add(kind.name, kind)
    return kind


def names() -> tuple[str, ...]:
    """Every ``[source] connector`` value, in the index's order."""
    return tuple(e.name for e in ENTRIES)


def flavours() -> tuple[str, ...]:
    """The APIs the sandbox can speak (``[source] flavour``)."""
    return tuple(e.name for e in ENTRIES if e.flavour)


def import_targets() -> tuple[str, ...]:
    """The CRMs the emergency package writes import files for (besides ``generic``)."""
    return tuple(e.name for e in ENTRIES if e.import_target)


def exporters() -> tuple[str, ...]:
    """The names an export manifest can carry (the sandbox exports as one of its flavours)."""
    return tuple(e.name for e in ENTRIES if e.name != SANDBOX)


def get(name: str) -> SourceKind:
    """The record of ``name``, importing its module the first time; ConfigError if unknown."""
    return _KINDS.get(name)


def find(name: str) -> SourceKind | None:
    """The record of ``name`` (imported on first use), or None for a name not in the index."""
    return _KINDS.find(name)


def reader_for(connector: str) -> SourceKind:
    """The record that reads an export of ``connector`` (unknown ones read as generic)."""
    kind = find(connector)
    return kind if kind is not None and kind.name != SANDBOX else get(GENERIC)


@dataclass(frozen=True)
class WriterEndpoint:
    """Where and how a writer reaches its CRM: what every writer factory is given."""

    url: str
    token: str = field(repr=False)
    ca_file: Path | None = None
    api_version: str = ""
    """The vendor's API version where it has one (``[source] api_version``); empty: default."""
    max_retries: int = 8
    timeout: float = 60.0

    @classmethod
    def of(cls, source: SourceSettings, url: str, token: str,
           ca_file: Path | None) -> WriterEndpoint:
        """The CRM at ``url`` with ``[source]``'s API version, retries and timeout."""
        return cls(url, token, ca_file, source.api_version, source.max_retries, source.timeout)


WriterFactory = Callable[[WriterEndpoint], Any]
"""``factory(endpoint) -> CrmWriter`` (a writer class itself is one)."""
_WRITERS: Plugins[WriterFactory] = Plugins(lambda e: e.writer_module,
                                           "connector {name!r} cannot be written to",
                                           "restore into one of {names}", "[source] connector")


def register_writer(name: str, factory: WriterFactory) -> None:
    """Add a vendor's writer factory (its writer module calls this once, when imported)."""
    _WRITERS.add(name, factory)


def writable() -> tuple[str, ...]:
    """The CRMs vaultkeeper can write to (restore, rehearsal)."""
    return _WRITERS.names()


def writer_factory(name: str) -> WriterFactory:
    """The writer factory of CRM ``name``; ConfigError for a CRM that cannot be written to."""
    return _WRITERS.get(name)


def signs_in(name: str) -> bool:
    """Whether source ``name`` accepts ``[source] auth`` flows (the sandbox speaks them all)."""
    return name == SANDBOX or any(e.name == name and e.sign_in for e in ENTRIES)


class Opener(Protocol):
    """``opener(url, token, ca_file=…)``: a client of a vendor's API (close it after use);
    the vendor's connector class itself is one."""

    def __call__(self, url: str, token: str, /, *, ca_file: Path | None) -> Any:
        """Open the client."""


@dataclass(frozen=True)
class Rehearsal:
    """What ``emergency rehearse`` needs of a vendor target, owned by the vendor's module."""

    name: str
    objects: dict[str, str]
    """The vendor object each canonical entity is written to."""
    text_home: str
    """The field holding ``entity.field: value`` lines the vendor has no field for."""
    mapping: dict[str, dict[str, str]]
    """The built-in mapping (per entity, field → destination); unnamed fields go to text."""
    reader: Opener
    """vaultkeeper's reader of the vendor (a ``connectors.base.Connector``)."""
    fillers: dict[str, dict[str, str]] | None = None
    """Per object, values the vendor requires on create when the record has none."""
    creates_properties: bool = False
    """Missing properties are created (as text) before the records go in."""
    imports: Opener | None = None
    """The vendor's CSV imports API (``--via import``); None: it has none."""


_REHEARSALS: Plugins[Rehearsal] = Plugins(lambda e: e.rehearsal_module,
                                          "{name!r} cannot be a rehearsal target",
                                          "use one of tryton, {names}", "kind")


def register_rehearsal(record: Rehearsal) -> None:
    """Add a vendor's rehearsal record (its rehearsal module calls this once, when imported)."""
    _REHEARSALS.add(record.name, record)


def rehearsable() -> tuple[str, ...]:
    """The vendors a rehearsal can import into (besides Tryton, which is not a source)."""
    return _REHEARSALS.names()


def rehearsal(name: str) -> Rehearsal:
    """The rehearsal record of vendor ``name``; ConfigError for a vendor that has none."""
    return _REHEARSALS.get(name)
