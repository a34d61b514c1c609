"""The export format, ``vaultkeeper-export/1``: one owner for reading and writing export folders.

An export folder holds ``manifest.json`` (written last, atomically: a folder without it is not
an export), ``objects/<name>.ndjson`` (one canonical JSON record per line), ``relations/
<from>__<to>.ndjson``, ``schema/<name>.json`` (the vendor's schema as read) and ``quarantine/
<name>.ndjson`` (records that could not be parsed, kept raw).

- ``Manifest``: the manifest, typed and frozen (``objects`` / ``relations`` entries), with the
  exact bytes read (``data``, ``sha256``) and the whole JSON (``raw``) for the checks that
  compare every field; ``Manifest.read(root)`` / ``Manifest.load(root)`` / ``write_manifest``.
- ``find_export_root(folder)``: where the export is inside a restored snapshot.
- ``ExportFolder``: an export opened for reading (entries, file paths, schemas, records).

This module is core: it imports nothing from services or adapters. How a vendor's records
are flattened into columns is the connectors' business (shapes.py, emergency/source.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from vaultkeeper.errors import ExportError
from vaultkeeper.exportfmt_files import FileRecord, FilesEntry, json_list
from vaultkeeper.privatefs import write_private

MANIFEST = "manifest.json"
FORMAT = "vaultkeeper-export/1"
SUBDIRS = ("objects", "relations", "quarantine", "schema")


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class ObjectEntry:
    """One object of the manifest: its data file, counts, digests and schema file."""

    name: str
    file: str
    count: int
    archived: int
    quarantined: int
    sha256: str
    content_digest: str
    quarantine_file: str | None
    schema_file: str | None
    primary_key: str | None
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def unverified(self) -> bool:
        """The source reported no count for this object, so its completeness is unverified
        (manifests older than this mark are taken as verified)."""
        return self.raw.get("count_verified") is False

    @classmethod
    def parse(cls, name: str, raw: Any) -> ObjectEntry:
        """From the manifest's JSON (tolerant: a missing field gets its empty value)."""
        entry = _dict(raw)
        schema = _dict(entry.get("schema"))
        return cls(name=name, file=str(entry.get("file") or f"objects/{name}.ndjson"),
                   count=_int(entry.get("count")), archived=_int(entry.get("archived")),
                   quarantined=_int(entry.get("quarantined")),
                   sha256=str(entry.get("sha256") or ""),
                   content_digest=str(entry.get("content_digest") or ""),
                   quarantine_file=entry.get("quarantine_file") or None,
                   schema_file=schema.get("file") or None,
                   primary_key=entry.get("primary_key") or None, raw=entry)


@dataclass(frozen=True)
class RelationEntry:
    """One relation file of the manifest (``<from>__<to>``)."""

    stem: str
    path: str
    count: int
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def from_object(self) -> str:
        """The object the relation starts from."""
        return self.stem.partition("__")[0]

    @property
    def to_object(self) -> str:
        """The object the relation points at."""
        return self.stem.partition("__")[2]


@dataclass(frozen=True)
class Manifest:
    """``manifest.json``, typed; ``raw`` is the whole JSON, ``data`` the exact bytes."""

    data: bytes = field(repr=False)
    raw: Mapping[str, Any] = field(repr=False)
    status: str
    problems: tuple[str, ...]
    connector: str
    order: tuple[str, ...]
    objects: Mapping[str, ObjectEntry]
    relations: Mapping[str, RelationEntry]
    files: FilesEntry | None = None
    """The files part (exportfmt_files.py); None when the export has none."""

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        """From the bytes of a manifest (JSON errors propagate; missing fields are empty)."""
        doc = orjson.loads(data)
        if not isinstance(doc, dict):
            raise ExportError(f"{MANIFEST} is not a JSON object",
                              "use another snapshot or export; this one is damaged")
        objects = {str(n): ObjectEntry.parse(str(n), e)
                   for n, e in _dict(doc.get("objects")).items()}
        relations = {str(s): RelationEntry(str(s), str(_dict(e).get("path") or ""),
                                           _int(_dict(e).get("count")), _dict(e))
                     for s, e in _dict(doc.get("relations")).items()}
        return cls(data=data, raw=doc, status=str(doc.get("status") or ""),
                   problems=tuple(str(p) for p in json_list(doc.get("problems"))),
                   connector=str(_dict(doc.get("connector")).get("name", "")),
                   order=tuple(str(n) for n in json_list(doc.get("order")) or objects),
                   objects=objects, relations=relations,
                   files=FilesEntry.parse(doc.get("files")))

    @classmethod
    def read(cls, root: Path) -> Manifest:
        """The manifest of the export in ``root``; an export without one is incomplete."""
        path = root / MANIFEST
        if not path.exists():
            raise ExportError(f"{root} has no {MANIFEST}: the export is incomplete or was "
                              "interrupted", "run the export again")
        return cls.parse(path.read_bytes())

    @classmethod
    def load(cls, root: Path) -> Manifest | None:
        """The manifest in ``root``, or None when there is none (or it is empty)."""
        path = root / MANIFEST
        data = path.read_bytes() if path.exists() else b""
        return cls.parse(data) if data else None

    @property
    def sha256(self) -> str:
        """SHA-256 of the manifest's bytes (backups tag snapshots with its prefix)."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def counts(self) -> dict[str, int]:
        """Records per object."""
        return {name: entry.count for name, entry in self.objects.items()}

    @property
    def unverified(self) -> list[str]:
        """Objects whose count no source confirmed, in the export's order."""
        return [n for n in self.order if n in self.objects and self.objects[n].unverified]

    @property
    def complete(self) -> bool:
        """Whether the export says it is complete."""
        return self.status == "complete"


def write_manifest(out: Path, manifest: Mapping[str, Any]) -> Manifest:
    """Write ``manifest.json`` last and atomically (temp file, fsync, rename, fsync of the
    folder); return it as read back."""
    data = orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    write_private(out / MANIFEST, data)
    return Manifest.parse(data)


def read_manifest(out: Path) -> dict[str, Any]:
    """The manifest's JSON as a dict (for code that compares every field)."""
    return dict(Manifest.read(out).raw)


def find_export_root(folder: Path, *, with_objects: bool = False) -> Path | None:
    """The export inside ``folder`` (a restored snapshot): the folder of the shallowest
    ``manifest.json`` (``with_objects``: one with an ``objects/`` folder next to it); None when
    there is none."""
    found = sorted((p for p in folder.rglob(MANIFEST)
                    if not with_objects or (p.parent / "objects").is_dir()),
                   key=lambda p: (len(p.parts), str(p)))
    return found[0].parent if found else None


def iter_lines(path: Path) -> Iterator[bytes]:
    """Stream the lines of an NDJSON file without newlines."""
    with path.open("rb") as handle:
        for line in handle:
            yield line.rstrip(b"\n")


def first_record(path: Path) -> dict[str, Any] | None:
    """The first record of an NDJSON file (None if missing, empty or not a JSON object)."""
    if not path.exists():
        return None
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                try:
                    value = orjson.loads(line)
                except orjson.JSONDecodeError:
                    return None
                return value if isinstance(value, dict) else None
    return None


class ExportFolder:
    """An export folder opened for reading: the manifest and where each file is."""

    def __init__(self, root: Path, manifest: Manifest | None = None) -> None:
        self.root = root
        self.manifest = manifest or Manifest.read(root)

    def object_path(self, name: str) -> Path:
        """The NDJSON file of object ``name``."""
        return self.root / self.manifest.objects[name].file

    def relation_path(self, stem: str) -> Path:
        """The NDJSON file of relation ``stem``."""
        return self.root / self.manifest.relations[stem].path

    def quarantine_path(self, name: str) -> Path | None:
        """The quarantine file of object ``name`` (None when nothing was quarantined)."""
        rel = self.manifest.objects[name].quarantine_file
        return self.root / rel if rel else None

    def schema_bytes(self, name: str) -> bytes | None:
        """The stored schema of object ``name`` as bytes (None when absent)."""
        rel = self.manifest.objects[name].schema_file
        if not rel or not (self.root / rel).is_file():
            return None
        return (self.root / rel).read_bytes()

    def schema(self, name: str) -> Any:
        """The stored schema of object ``name``, parsed (None when absent or not JSON)."""
        data = self.schema_bytes(name)
        if data is None:
            return None
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return None

    def lines(self, name: str) -> Iterator[bytes]:
        """The lines (canonical JSON, no newline) of object ``name``; none if the file is
        missing."""
        path = self.object_path(name)
        if path.exists():
            yield from iter_lines(path)

    def records(self, name: str) -> Iterator[Any]:
        """The records of object ``name``, parsed (blank lines skipped)."""
        for line in self.lines(name):
            if line:
                yield orjson.loads(line)

    def first_record(self, name: str) -> dict[str, Any] | None:
        """The first record of object ``name``."""
        return first_record(self.object_path(name))

    def file_records(self) -> Iterator[FileRecord]:
        """The lines of ``files/index.ndjson`` (none when the export has no files part)."""
        entry = self.manifest.files
        path = self.root / entry.index if entry is not None else None
        if path is not None and path.exists():
            for line in iter_lines(path):
                if line:
                    yield FileRecord.parse(orjson.loads(line))

    def missing_files(self) -> list[str]:
        """Data files the manifest lists with records but that are not there."""
        problems = [f"{entry.file} is missing" for entry in self.manifest.objects.values()
                    if entry.count and not (self.root / entry.file).exists()]
        problems += [f"{entry.path} is missing" for entry in self.manifest.relations.values()
                     if entry.count and not (self.root / entry.path).exists()]
        return problems
