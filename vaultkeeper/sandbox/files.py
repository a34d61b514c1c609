"""The sandbox's files: a catalog of attachments with deterministic content (never stored).

Each note with ``hs_attachment_ids`` has one file, ``FILE_ID_BASE + note index``. Salesforce
sees the same files: every third as a legacy ``Attachment`` on the Task, the others as a
``ContentDocument`` (latest ``ContentVersion``) linked to the Task and to its Contact.

Content is generated from (seed, file, version) in 64 KiB blocks, so a file of any size costs
nothing to keep and can be served from any offset. Sizes run from empty to a few MB; the
``large_size`` option makes the first file as big as asked (benchmarks). ``remove`` makes a
file vanish (404), ``change`` gives it new bytes and a new modified stamp, and the
``missing_files`` fault makes every Nth file's content answer 404 while its metadata stays.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from vaultkeeper.sandbox.data import FILE_ID_BASE, Dataset, attachment_id, iso_ms, mix64
from vaultkeeper.sandbox.file_uploads import UploadStore
from vaultkeeper.sandbox.gen_hubspot import properties_of
from vaultkeeper.sandbox.sf_schema import id_index

BLOCK = 1 << 16
_KINDS = (("membership-form", "pdf", "application/pdf"),
          ("direct-debit-mandate", "pdf", "application/pdf"),
          ("consent-record", "txt", "text/plain"),
          ("contract", "docx", "application/vnd.openxmlformats-officedocument."
                               "wordprocessingml.document"),
          ("event-photo", "jpg", "image/jpeg"),
          ("receipt", "png", "image/png"))


@dataclass(frozen=True)
class SandboxFile:
    """One file as the sandbox serves it."""

    index: int
    """The note index it belongs to (its id is ``FILE_ID_BASE + index``)."""
    version: int
    name: str
    extension: str
    content_type: str
    size: int
    created_ms: int
    modified_ms: int
    missing: bool
    """Metadata is served but the content answers 404 (the blob is gone)."""

    @property
    def id(self) -> str:
        """The HubSpot file id."""
        return attachment_id(self.index)

    @property
    def legacy_attachment(self) -> bool:
        """Salesforce serves it as a legacy ``Attachment`` (else as a ``ContentVersion``)."""
        return self.index % 3 == 0

    @property
    def filename(self) -> str:
        """Name with extension."""
        return f"{self.name}.{self.extension}"

    def signature(self) -> str:
        """The ``sig`` a signed download URL of this version carries."""
        return f"{mix64(int(self.id) ^ (self.version << 40)):016x}"


@lru_cache(maxsize=64)
def _block(key: int) -> bytes:
    return random.Random(key).randbytes(BLOCK)


def content(seed: int, index: int, version: int, size: int, start: int = 0,
            end: int | None = None) -> Iterator[bytes]:
    """Bytes ``start``..``end`` of a file, in chunks of at most 64 KiB."""
    base = _block(mix64(seed * 1_000_003 + index * 7919 + version))
    end = size if end is None else min(end, size)
    pos = start
    while pos < end:
        n = pos // BLOCK
        # Each block differs: its number is written over its first 8 bytes.
        block = n.to_bytes(8, "big") + base[8:]
        lo = pos - n * BLOCK
        hi = min(BLOCK, end - n * BLOCK)
        yield block[lo:hi]
        pos = n * BLOCK + hi


def _size(h: int) -> int:
    tier = h % 100
    rnd = random.Random(h)
    if tier == 0:
        return 0
    if tier < 30:
        return rnd.randrange(1, 2000)
    if tier < 80:
        return rnd.randrange(2000, 60_000)
    if tier < 97:
        return rnd.randrange(60_000, 400_000)
    return rnd.randrange(400_000, 3_000_000)


class SandboxFiles:
    """The file catalog of one sandbox (thread-safe; changes through ``change``/``remove``)."""

    def __init__(self, ds: Dataset, *, missing_every: int = 0, large_size: int = 0) -> None:
        self.ds = ds
        self.missing_every = missing_every
        self.large_size = large_size
        """When > 0, the first file has this size (benchmarks)."""
        self._lock = threading.Lock()
        self._versions: dict[int, tuple[int, int]] = {}   # index → (version, modified ms)
        self._removed: set[int] = set()
        self._indexes: list[int] | None = None
        self._md5: dict[tuple[int, int, int], str] = {}
        self.uploads = UploadStore()
        """Files written through the API (restore); ``uploads.limit`` is the upload fault."""
        self.uploads.known_document = self._known_document

    def _known_document(self, document_id: str) -> bool:
        index = id_index("069", document_id)
        f = self.get(index) if index is not None else None
        return f is not None and not f.legacy_attachment

    # -- the catalog -----------------------------------------------------------------------
    def indexes(self) -> list[int]:
        """Note indexes that have a file, ascending (removed files excluded)."""
        if self._indexes is None:
            notes = self.ds.stores["notes"]
            self._indexes = [n for n in range(notes.count)
                             if properties_of(self.ds, "notes", n).get("hs_attachment_ids")]
        return [n for n in self._indexes if n not in self._removed]

    def get(self, index: int) -> SandboxFile | None:
        """The file of note ``index`` (None when it has none or it was removed)."""
        if index in self._removed or index not in self._known():
            return None
        h = mix64(self.ds.stores["notes"].hash(index) ^ 0xF11E)
        name, ext, ctype = _KINDS[h % len(_KINDS)]
        created = self.ds.stores["notes"].created_ms(index)
        with self._lock:
            version, modified = self._versions.get(index, (1, created))
        first = self._first()
        size = self.large_size if self.large_size and index == first else _size(h)
        if version > 1:
            size = _size(mix64(h ^ version))
        missing = bool(self.missing_every) and (h >> 8) % self.missing_every == 0
        return SandboxFile(index, version, f"{name}-{index}", ext, ctype, size, created,
                           modified, missing)

    def by_id(self, file_id: str) -> SandboxFile | None:
        """The file with HubSpot id ``file_id``."""
        try:
            index = int(file_id) - FILE_ID_BASE
        except ValueError:
            return None
        return self.get(index) if index >= 0 else None

    def all(self) -> list[SandboxFile]:
        """Every file, by index."""
        return [f for f in (self.get(i) for i in self.indexes()) if f is not None]

    def _known(self) -> set[int]:
        self.indexes()
        assert self._indexes is not None
        return set(self._indexes)

    def _first(self) -> int:
        self.indexes()
        assert self._indexes is not None
        return self._indexes[0] if self._indexes else -1

    # -- content ---------------------------------------------------------------------------
    def content(self, f: SandboxFile, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes of ``f`` (``start``..``end``)."""
        return content(self.ds.seed, f.index, f.version, f.size, start, end)

    def sha256(self, f: SandboxFile) -> str:
        """SHA-256 of the whole content (tests compare it with the export)."""
        digest = hashlib.sha256()
        for chunk in self.content(f):
            digest.update(chunk)
        return digest.hexdigest()

    def md5(self, f: SandboxFile) -> str:
        """MD5 of the content (Salesforce's ``ContentVersion.Checksum``), cached per version."""
        key = (f.index, f.version, f.size)
        with self._lock:
            known = self._md5.get(key)
        if known is None:
            digest = hashlib.md5()   # noqa: S324 - Salesforce's checksum is MD5
            for chunk in self.content(f):
                digest.update(chunk)
            known = digest.hexdigest()
            with self._lock:
                self._md5[key] = known
        return known

    # -- changes (tests and demos) ---------------------------------------------------------
    def _existing(self, file_id: str) -> SandboxFile:
        f = self.by_id(file_id)
        if f is None:
            raise KeyError(file_id)
        return f

    def change(self, file_id: str) -> SandboxFile:
        """New bytes for a file (a new version, modified now)."""
        f = self._existing(file_id)
        with self._lock:
            self._versions[f.index] = (f.version + 1, max(int(time.time() * 1000),
                                                          f.modified_ms + 1))
        changed = self.get(f.index)
        assert changed is not None
        return changed

    def remove(self, file_id: str) -> None:
        """The file disappears: metadata and content answer 404; notes still reference it."""
        f = self._existing(file_id)
        with self._lock:
            self._removed.add(f.index)

    # -- shapes ----------------------------------------------------------------------------
    def hubspot_json(self, f: SandboxFile, base_url: str) -> dict[str, object]:
        """The Files API v3 ``File`` object."""
        return {"id": f.id, "name": f.name, "extension": f.extension, "size": f.size,
                "type": "DOCUMENT" if f.extension in ("pdf", "docx", "txt") else "IMG",
                "createdAt": iso_ms(f.created_ms), "updatedAt": iso_ms(f.modified_ms),
                "archived": False, "access": "PRIVATE", "parentFolderId": "1000",
                "path": f"/attachments/{f.filename}", "encoding": f.extension,
                "url": f"{base_url}/hubfs/sandbox/{f.filename}"}
