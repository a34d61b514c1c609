"""The sandbox's files: attachments, file-property files and Salesforce Documents, with
deterministic content (never stored).

Each note with ``hs_attachment_ids`` has one file, ``FILE_ID_BASE + note index``. Salesforce
sees the same files: every third as a legacy ``Attachment`` on the Task, the others as a
``ContentDocument`` (latest ``ContentVersion``) linked to the Task and to its Contact. HubSpot
also has the files that contacts' and companies' file properties name (``FILE_PROPERTIES`` of
data.py; ``property_files``), and Salesforce a few legacy ``Document`` rows in folders
(``documents``).

Content is generated from (seed, owner, file, version) in 64 KiB blocks, so a file of any size
costs nothing to keep and can be served from any offset. Sizes run from empty to a few MB; the
``large_size`` option makes the first attachment as big as asked (benchmarks). ``remove`` makes
a file vanish (404), ``change`` gives it new bytes and a new modified stamp, and the
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

from vaultkeeper.sandbox.data import (
    FILE_ID_BASE,
    FILE_PROPERTIES,
    Dataset,
    attachment_id,
    iso_ms,
    mix64,
    property_file_id,
)
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


NOTES = "notes"
DOCUMENT = "Document"
DOCUMENT_FOLDERS = ("Membership forms", "Letterheads", "Policies")
"""The folders of the sandbox's Salesforce Documents (document ``k`` is in folder ``k % 3``)."""


_PROPERTY_NAMES = {"contacts": "signed-membership-form", "companies": "signed-agreement"}


@dataclass(frozen=True)
class SandboxFile:
    """One file as the sandbox serves it."""

    index: int
    """The index of the record it belongs to (a note's: its id is ``FILE_ID_BASE + index``)."""
    version: int
    name: str
    extension: str
    content_type: str
    size: int
    created_ms: int
    modified_ms: int
    missing: bool
    """Metadata is served but the content answers 404 (the blob is gone)."""
    owner: str = NOTES
    """``notes`` (an attachment), ``contacts``/``companies`` (a file property's file) or
    ``Document`` (a Salesforce Document, document number ``index``)."""

    @property
    def id(self) -> str:
        """The HubSpot file id (a Document's number for Documents)."""
        if self.owner == NOTES:
            return attachment_id(self.index)
        if self.owner == DOCUMENT:
            return f"doc-{self.index}"
        return str(FILE_PROPERTIES[self.owner][1] + self.index)

    @property
    def legacy_attachment(self) -> bool:
        """Salesforce serves it as a legacy ``Attachment`` (else as a ``ContentVersion``)."""
        return self.owner == NOTES and self.index % 3 == 0

    @property
    def prop(self) -> str | None:
        """The file property that names it (file-property files only)."""
        spec = FILE_PROPERTIES.get(self.owner)
        return spec[0] if spec else None

    @property
    def folder(self) -> int:
        """A Document's folder number (``DOCUMENT_FOLDERS``)."""
        return self.index % len(DOCUMENT_FOLDERS)

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
            end: int | None = None, owner: str = NOTES) -> Iterator[bytes]:
    """Bytes ``start``..``end`` of a file, in chunks of at most 64 KiB."""
    salt = 0 if owner == NOTES else mix64(sum(map(ord, owner)) * 131 + len(owner))
    base = _block(mix64(seed * 1_000_003 + index * 7919 + version) ^ salt)
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
        self._versions: dict[tuple[str, int], tuple[int, int]] = {}   # → (version, modified)
        self._removed: set[tuple[str, int]] = set()
        self._indexes: list[int] | None = None
        self._owned: dict[str, list[int]] = {}
        self._md5: dict[tuple[str, int, int, int], str] = {}
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
        return [n for n in self._indexes if (NOTES, n) not in self._removed]

    def _owned_indexes(self, owner: str) -> list[int]:
        if owner not in self._owned:
            if owner == DOCUMENT:
                found = list(range(max(3, self.ds.stores["contacts"].count // 60)))
            else:
                found = [i for i in range(self.ds.stores[owner].base)
                         if property_file_id(self.ds, owner, i)]
            self._owned[owner] = found
        return self._owned[owner]

    def get(self, index: int, owner: str = NOTES) -> SandboxFile | None:
        """The file of note ``index`` (or of record/document ``index`` of ``owner``); None
        when it has none or it was removed."""
        if (owner, index) in self._removed:
            return None
        if owner == NOTES:
            if index not in self._known():
                return None
            store = self.ds.stores["notes"]
            h = mix64(store.hash(index) ^ 0xF11E)
            created = store.created_ms(index)
        else:
            if index not in set(self._owned_indexes(owner)):
                return None
            h = mix64((index + 1) * 0x9E3779B97F4A7C15 ^ sum(map(ord, owner)) ^ self.ds.seed)
            created = (self.ds.stores["contacts"].created_ms(index % max(
                1, self.ds.stores["contacts"].count)) if owner == DOCUMENT
                else self.ds.stores[owner].created_ms(index))
        name, ext, ctype = _KINDS[h % len(_KINDS)]
        if owner == DOCUMENT:
            name = ("membership-form-template", "letterhead", "privacy-policy")[index % 3]
            name, ext, ctype = f"{name}-{index}", *_KINDS[(0, 5, 2)[index % 3]][1:]
        elif owner != NOTES:
            name = f"{_PROPERTY_NAMES[owner]}-{index}"
        with self._lock:
            version, modified = self._versions.get((owner, index), (1, created))
        first = self._first()
        size = (self.large_size if self.large_size and owner == NOTES and index == first
                else _size(h))
        if version > 1:
            size = _size(mix64(h ^ version))
        missing = bool(self.missing_every) and (h >> 8) % self.missing_every == 0
        if owner == NOTES:
            name = f"{name}-{index}"
        return SandboxFile(index, version, name, ext, ctype, size, created, modified,
                           missing, owner)

    def by_id(self, file_id: str) -> SandboxFile | None:
        """The HubSpot file with id ``file_id`` (an attachment or a file property's file)."""
        try:
            number = int(file_id)
        except ValueError:
            return None
        for owner, (_prop, base, _share) in FILE_PROPERTIES.items():
            if base <= number < base + 1_000_000:
                return self.get(number - base, owner)
        index = number - FILE_ID_BASE
        return self.get(index) if 0 <= index < 1_000_000 else None

    def all(self) -> list[SandboxFile]:
        """Every attachment (the files of notes), by index."""
        return [f for f in (self.get(i) for i in self.indexes()) if f is not None]

    def property_files(self, owner: str | None = None) -> list[SandboxFile]:
        """The files HubSpot's file properties name (of ``owner``, or of all objects)."""
        owners = [owner] if owner else list(FILE_PROPERTIES)
        return [f for o in owners for f in (self.get(i, o) for i in self._owned_indexes(o))
                if f is not None]

    def hubspot_all(self) -> list[SandboxFile]:
        """Every file of the HubSpot portal: attachments, then file properties' files."""
        return self.all() + self.property_files()

    def documents(self) -> list[SandboxFile]:
        """The Salesforce Documents (legacy Documents tab, in folders)."""
        return [f for f in (self.get(k, DOCUMENT) for k in self._owned_indexes(DOCUMENT))
                if f is not None]

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
        return content(self.ds.seed, f.index, f.version, f.size, start, end, f.owner)

    def sha256(self, f: SandboxFile) -> str:
        """SHA-256 of the whole content (tests compare it with the export)."""
        digest = hashlib.sha256()
        for chunk in self.content(f):
            digest.update(chunk)
        return digest.hexdigest()

    def md5(self, f: SandboxFile) -> str:
        """MD5 of the content (Salesforce's ``ContentVersion.Checksum``), cached per version."""
        key = (f.owner, f.index, f.version, f.size)
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
    def _existing(self, file: str | SandboxFile) -> SandboxFile:
        f = self.by_id(file) if isinstance(file, str) else self.get(file.index, file.owner)
        if f is None:
            raise KeyError(file)
        return f

    def change(self, file: str | SandboxFile) -> SandboxFile:
        """New bytes for a file (a new version, modified now): a HubSpot file id, or the
        file itself (Documents)."""
        f = self._existing(file)
        with self._lock:
            self._versions[(f.owner, f.index)] = (
                f.version + 1, max(int(time.time() * 1000), f.modified_ms + 1))
        changed = self.get(f.index, f.owner)
        assert changed is not None
        return changed

    def remove(self, file: str | SandboxFile) -> None:
        """The file disappears: metadata and content answer 404; records still name it."""
        f = self._existing(file)
        with self._lock:
            self._removed.add((f.owner, f.index))

    # -- shapes ----------------------------------------------------------------------------
    def hubspot_json(self, f: SandboxFile, base_url: str) -> dict[str, object]:
        """The Files API v3 ``File`` object."""
        return {"id": f.id, "name": f.name, "extension": f.extension, "size": f.size,
                "type": "DOCUMENT" if f.extension in ("pdf", "docx", "txt") else "IMG",
                "createdAt": iso_ms(f.created_ms), "updatedAt": iso_ms(f.modified_ms),
                "archived": False, "access": "PRIVATE", "parentFolderId": "1000",
                "path": f"/{'attachments' if f.owner == NOTES else 'record-files'}/{f.filename}",
                "encoding": f.extension,
                "url": f"{base_url}/hubfs/sandbox/{f.filename}"}
