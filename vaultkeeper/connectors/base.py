"""The connector contract: what every CRM source provides to the export service."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import ClassVar

from vaultkeeper.models import Item, ObjectSpec, SourceCount


class Connector(abc.ABC):
    """A CRM source. Subclasses set the class attributes and implement the four methods.

    The export service calls, in this order: ``discover()`` once, then for each object in the
    configured order ``source_count(obj)`` and ``read(obj)``, and finally ``close()``.
    """

    name: ClassVar[str]
    """Registry name used in ``[source] connector = …``."""
    version: ClassVar[str] = "1"
    """Bumped when the connector's output for the same source changes."""
    default_order: ClassVar[tuple[str, ...]] = ()
    """Objects exported first, in this order; other discovered objects follow alphabetically."""
    recount_after_read: ClassVar[bool] = True
    """Ask ``source_count`` again after reading an object: completeness is then judged against
    the smaller count, so a record skipped because paging shifted under a delete is caught
    (docs/connectors.md, "Paging under writes"). False for sources that cannot change (files)."""

    @abc.abstractmethod
    def discover(self) -> list[ObjectSpec]:
        """Every object the source holds, with its full property list and vendor schema."""

    @abc.abstractmethod
    def source_count(self, obj: ObjectSpec) -> SourceCount | None:
        """What the source itself reports it holds for ``obj`` (None if it cannot say)."""

    @abc.abstractmethod
    def read(self, obj: ObjectSpec) -> Iterator[Item]:
        """Stream every record of ``obj`` (live *and* archived/deleted), its relations, and
        any record that cannot be parsed as ``Malformed``. Never silently skip anything."""

    def problems(self) -> list[str]:
        """Things discovery could not read (missing scopes …); each makes the export incomplete."""
        return []

    def request_stats(self) -> dict[str, object]:
        """Requests sent and retries absorbed (reported in the manifest)."""
        http = getattr(self, "http", None)
        stats = getattr(http, "stats", None)
        if stats is None:
            return {}
        return {"requests": stats.requests, "retries": stats.retries,
                "retries_by_cause": dict(stats.by_cause), "waited_s": round(stats.waited_s, 3),
                "elapsed_s": round(getattr(stats, "elapsed_s", 0.0), 3),
                "deprecations": dict(getattr(stats, "deprecations", {}))}

    def describe_source(self) -> dict[str, str]:
        """Non-secret facts about the source for the manifest (base URL, API version …)."""
        return {}

    def close(self) -> None:
        """Release network connections and temporary resources."""
        return None

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
