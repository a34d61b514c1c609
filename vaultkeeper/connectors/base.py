"""The connector contract: what every CRM source provides to the export service."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from vaultkeeper.errors import ConfigError
from vaultkeeper.models import Item, ObjectSpec, SourceCount

if TYPE_CHECKING:
    from vaultkeeper.config import SourceSettings
    from vaultkeeper.connectors.changes import ChangeFeed
    from vaultkeeper.connectors.files_base import FileSource
    from vaultkeeper.registry import Fail


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

    def object_names(self) -> list[str]:
        """Every object name the source offers, also those a configured ``objects`` list left
        out of ``discover()`` (said in errors about a misspelt object); after ``discover()``."""
        return list(getattr(self, "_offered", ()))

    def request_stats(self) -> dict[str, object]:
        """Requests sent and retries absorbed (reported in the manifest)."""
        return http_request_stats(self, timing=True)

    def check_access(self) -> dict[str, object]:
        """Which objects the credentials can read (``config check --online``)."""
        return {"readable_objects": [spec.name for spec in self.discover()]}

    def describe_source(self) -> dict[str, str]:
        """Non-secret facts about the source for the manifest (base URL, API version …)."""
        return {}

    def file_source(self) -> FileSource | None:
        """The source's files and attachments (connectors/files_base.py); None: it has none."""
        return None

    def change_feed(self) -> ChangeFeed | None:
        """What changed since a previous export (connectors/changes.py); None: the source is
        always exported in full."""
        return None

    def close(self) -> None:
        """Release network connections and temporary resources."""
        return None

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Connect = Callable[["SourceSettings", str, str, Path | None], Connector]
"""An HTTP vendor's constructor: ``(settings, base URL, token, CA file)`` → its connector."""


def require_token(source: SourceSettings, fail: Fail) -> SourceSettings:
    """``check_settings`` of a vendor reached with a token: ``[source] token`` is required."""
    if source.token is None:
        raise fail("token", f"required for connector {source.connector}",
                   f'token = {{ env = "{source.connector.upper()}_TOKEN" }}')
    return source


def http_opener(connect: Connect) -> Callable[[SourceSettings, ExitStack], Connector]:
    """``SourceKind.open`` for a vendor reached over HTTP with a base URL and a token."""
    def open_source(source: SourceSettings, stack: ExitStack) -> Connector:
        if not source.base_url:
            raise ConfigError("base_url is required for this connector",
                              "set [source] base_url", key="[source] base_url")
        if source.token is None:
            raise ConfigError("token is required for this connector",
                              'set [source] token = { env = "CRM_TOKEN" }',
                              key="[source] token")
        return connect(source, source.base_url, source.token.reveal(), source.ca_file)
    return open_source


def http_request_stats(owner: object, *, timing: bool = False) -> dict[str, object]:
    """The request and retry counts of ``owner.http`` ({} when it has no HTTP client); with
    ``timing`` also the time spent and the deprecation warnings seen (readers report those)."""
    stats = getattr(getattr(owner, "http", None), "stats", None)
    if stats is None:
        return {}
    summary: dict[str, object] = {
        "requests": stats.requests, "retries": stats.retries,
        "retries_by_cause": dict(stats.by_cause), "waited_s": round(stats.waited_s, 3)}
    if timing:
        summary["elapsed_s"] = round(getattr(stats, "elapsed_s", 0.0), 3)
        summary["deprecations"] = dict(getattr(stats, "deprecations", {}))
    return summary
