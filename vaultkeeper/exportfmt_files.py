"""The files part of the export format: ``files/index.ndjson`` and content-addressed blobs.

Each downloaded file is stored once under ``files/<sha256[:2]>/<sha256>`` (so restic stores an
unchanged file once across snapshots, whatever its name); ``files/index.ndjson`` has one line
per file: its vendor kind and id, name, size, modified stamp, SHA-256, blob path and the
records it belongs to (``links``). The manifest's ``files`` entry names the index with its
SHA-256 and counts, and lists what was skipped (limits) and what failed (each failure makes
the export incomplete).

Core: imports nothing from services or adapters; exportfmt.py reads the entry through here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILES_DIR = "files"
FILES_INDEX = "files/index.ndjson"


def blob_path(sha256: str) -> str:
    """Where a file with this SHA-256 is stored in an export (relative)."""
    return f"{FILES_DIR}/{sha256[:2]}/{sha256}"


def hash_file(path: Path) -> tuple[str, int]:
    """(SHA-256, size) of a file, read 1 MiB at a time."""
    sha, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def json_list(value: Any) -> list[Any]:
    """A JSON value as a list (empty when it is not one)."""
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class FileRecord:
    """One line of ``files/index.ndjson``."""

    kind: str
    id: str
    name: str
    size: int
    modified: str
    sha256: str
    path: str
    links: tuple[tuple[str, str], ...]
    """(object, record id) of every record the file belongs to."""
    checksum: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    via: tuple[str, ...] = ()
    """For each link, the record's property that names the file (HubSpot file properties),
    or empty: an attachment, a ContentDocumentLink, a parent, a folder."""

    def link_properties(self) -> tuple[str, ...]:
        """``via`` with one entry per link (empty where unknown)."""
        return tuple(self.via[k] if k < len(self.via) else "" for k in range(len(self.links)))

    @property
    def key(self) -> str:
        """``kind:id``, unique within an export."""
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, raw: Any) -> FileRecord:
        """From one parsed index line (tolerant: missing fields are empty)."""
        doc = raw if isinstance(raw, dict) else {}
        found = [link for link in json_list(doc.get("links")) if isinstance(link, dict)]
        links = tuple((str(link.get("object", "")), str(link.get("id", ""))) for link in found)
        return cls(kind=str(doc.get("kind") or ""), id=str(doc.get("id") or ""),
                   name=str(doc.get("name") or ""), size=int(doc.get("size") or 0),
                   modified=str(doc.get("modified") or ""), sha256=str(doc.get("sha256") or ""),
                   path=str(doc.get("path") or ""), links=links,
                   checksum=doc.get("checksum") or None, raw=doc,
                   via=tuple(str(link.get("property") or "") for link in found))

    def as_json(self) -> dict[str, Any]:
        """The index line's JSON."""
        return {"kind": self.kind, "id": self.id, "name": self.name, "size": self.size,
                "modified": self.modified, "sha256": self.sha256, "path": self.path,
                "links": [{"object": o, "id": i, **({"property": p} if p else {})}
                          for (o, i), p in zip(self.links, self.link_properties(),
                                               strict=True)],
                "checksum": self.checksum, **{k: v for k, v in self.raw.items()
                                              if k not in _FIELDS}}


_FIELDS = ("kind", "id", "name", "size", "modified", "sha256", "path", "links", "checksum")


@dataclass(frozen=True)
class FilesEntry:
    """The manifest's ``files`` entry."""

    index: str
    sha256: str
    count: int
    bytes: int
    downloaded: int
    reused: int
    skipped: tuple[Mapping[str, Any], ...]
    failed: tuple[Mapping[str, Any], ...]
    raw: Mapping[str, Any] = field(repr=False)

    @classmethod
    def parse(cls, raw: Any) -> FilesEntry | None:
        """From the manifest's JSON (None when the export has no files part)."""
        if not isinstance(raw, dict):
            return None
        return cls(index=str(raw.get("index") or FILES_INDEX), sha256=str(raw.get("sha256") or ""),
                   count=int(raw.get("count") or 0), bytes=int(raw.get("bytes") or 0),
                   downloaded=int(raw.get("downloaded") or 0), reused=int(raw.get("reused") or 0),
                   skipped=tuple(s for s in json_list(raw.get("skipped")) if isinstance(s, dict)),
                   failed=tuple(s for s in json_list(raw.get("failed")) if isinstance(s, dict)),
                   raw=raw)


def files_entry(*, sha256: str, count: int, size: int, downloaded: int, reused: int,
                skipped: list[dict[str, Any]], failed: list[dict[str, Any]],
                limits: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's ``files`` entry as written (read back by ``FilesEntry.parse``)."""
    return {"index": FILES_INDEX, "sha256": sha256, "count": count, "bytes": size,
            "downloaded": downloaded, "reused": reused, "skipped": skipped, "failed": failed,
            "limits": dict(limits), "layout": "files/<sha256[:2]>/<sha256>"}


def files_summary(entry: FilesEntry | None) -> dict[str, Any] | None:
    """What run reports show of the files part: counts, and each skipped or failed file."""
    if entry is None:
        return None

    def brief(item: Mapping[str, Any]) -> dict[str, Any]:
        return {k: item.get(k) for k in ("kind", "id", "name", "size", "reason")}

    return {"count": entry.count, "bytes": entry.bytes, "downloaded": entry.downloaded,
            "reused": entry.reused, "skipped": [brief(s) for s in entry.skipped],
            "failed": [brief(f) for f in entry.failed]}


def files_lines(summary: Mapping[str, Any] | None) -> list[str]:
    """The files part for people: one line of counts, then one per skipped file."""
    if not summary:
        return []
    lines = [f"files: {summary['count']} ({summary['bytes']} bytes): {summary['downloaded']} "
             f"downloaded, {summary['reused']} unchanged since the last snapshot, "
             f"{len(summary['skipped'])} skipped, {len(summary['failed'])} failed"]
    lines += [f"skipped file {s['name']} ({s['kind']} {s['id']}): {s['reason']}"
              for s in summary["skipped"]]
    return lines
