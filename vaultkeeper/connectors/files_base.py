"""Files and attachments of a CRM: what a vendor's file source lists, and streaming one file.

A ``FileSource`` (hs_files.py, sf_files.py) lists ``RemoteFile`` entries, each with the records
it belongs to (``links``), and opens one file's content as a stream. ``stream_file`` copies
that stream in fixed-size chunks to a sink, retrying transient failures from the start (the
sink is reset): a file is never held in memory whole.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx

from vaultkeeper.connectors.http import HttpClient
from vaultkeeper.errors import ConnectorError, RetryableError

CHUNK = 1 << 20
"""Bytes handed to the sink at a time while streaming a file (1 MiB, in the pieces received)."""

Records = Callable[[str], Iterator[dict[str, object]]]
"""The records already exported for an object name (a file source finds its links there)."""


@dataclass(frozen=True)
class Link:
    """A record a file belongs to."""

    object: str
    id: str
    property: str = ""
    """The record's property that names the file (HubSpot file properties), else empty."""


@dataclass(frozen=True)
class RemoteFile:
    """One file as its vendor lists it."""

    kind: str
    """``hubspot-file``, ``ContentVersion``, ``Attachment`` or ``Document``."""
    id: str
    name: str
    size: int | None
    modified: str
    """The vendor's last-modified stamp (a changed file gets a new one)."""
    links: tuple[Link, ...] = ()
    checksum: str | None = None
    """``md5:<hex>`` when the vendor states one (Salesforce ContentVersion)."""
    content_type: str | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False)
    """Vendor fields worth keeping (document id, version number …)."""

    @property
    def key(self) -> str:
        """Unique within a source: ``kind:id``."""
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class MissingFile:
    """A file a record names that the vendor does not list (deleted, or never readable)."""

    kind: str
    id: str
    links: tuple[Link, ...]
    reason: str
    fatal: bool = True
    """The export is incomplete without it (else it is listed as skipped, with ``reason``)."""


class FileSource(abc.ABC):
    """A vendor's files: listing (after the records are exported) and content streams."""

    @abc.abstractmethod
    def list_files(self, records: Records) -> Iterator[RemoteFile | MissingFile]:
        """Every file, with the records that link to it; files records name but the vendor
        does not have come out as ``MissingFile``."""

    @abc.abstractmethod
    def content_url(self, remote: RemoteFile) -> str:
        """Where ``remote``'s bytes are (may cost a request: HubSpot signs a URL)."""

    @property
    @abc.abstractmethod
    def http(self) -> HttpClient:
        """The client the content is fetched with."""


def stream_file(http: HttpClient, url: Callable[[], str],
                write: Callable[[list[bytes]], None], reset: Callable[[], None],
                chunk: int = CHUNK) -> int:
    """Copy one file to ``write`` in batches of about ``chunk`` bytes; return the bytes
    written.

    Each batch is the list of pieces as received (TLS hands over 16 KiB at a time): not
    joining them here keeps the copy out of the download thread (the sink joins them).
    A transient failure (5xx, 429, a connection cut mid-body) starts the file again after
    ``reset()``, with the client's backoff and retry limit; anything else propagates.
    """
    attempt = 0
    while True:
        written = 0
        try:
            with http.stream(url()) as response:
                batch: list[bytes] = []
                size = 0
                for piece in response.iter_bytes():   # decoded, not re-chunked (no copy)
                    batch.append(piece)
                    size += len(piece)
                    if size >= chunk:
                        write(batch)
                        written += size
                        batch, size = [], 0
                if batch:
                    write(batch)
                    written += size
            return written
        except RetryableError as exc:
            cause, hint = exc.message, exc.retry_after
        except httpx.TransportError as exc:
            cause, hint = type(exc).__name__, None
        attempt += 1
        if attempt > http.max_retries:
            raise ConnectorError(f"gave up after {http.max_retries} retries (last: {cause})",
                                 "the source is failing; run the backup again later")
        reset()
        wait = hint if hint is not None else http.backoff(attempt)
        http.stats.note(f"file: {cause.split(':')[0]}", wait)
        http.sleep(wait)
