"""Export a source's files into ``files/`` of an export folder, streamed and content-addressed.

After the records are written, the connector's ``FileSource`` lists every file with the records
it belongs to. Each file is either skipped by ``[source] files`` limits (listed, with why),
taken from the previous snapshot when it is unchanged there (``FileReuse``: same id, size and
modified stamp, SHA-256 checked again), or downloaded in 1 MiB chunks straight to disk while
it is hashed; it lands at ``files/<sha256[:2]>/<sha256>``. A file that cannot be had (gone,
failing, cut short, not what the vendor's checksum says) is named in ``failed`` and makes the
export incomplete.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from vaultkeeper.connectors.base import Connector
from vaultkeeper.connectors.files_base import (
    FileSource,
    MissingFile,
    RemoteFile,
    stream_file,
)
from vaultkeeper.digest import canonical_json
from vaultkeeper.errors import AuthError, ConnectorError, StorageError
from vaultkeeper.exportfmt_files import (
    FILES_DIR,
    FILES_INDEX,
    FileRecord,
    blob_path,
    files_entry,
)
from vaultkeeper.filelimits import FileLimits, format_size
from vaultkeeper.privatefs import fsync_dir, open_private
from vaultkeeper.services.file_sink import FileSink, Syncer


class FileReuse(Protocol):
    """Unchanged files of the previous snapshot (services/file_reuse.py)."""

    def take(self, remote: RemoteFile, dest: Path) -> tuple[str, int] | None:
        """Put ``remote``'s previous bytes at ``dest``; (sha256, size), or None when the
        previous snapshot has no unchanged copy."""


class FileObserver(Protocol):
    """Progress of the files part (the export's observer may implement it)."""

    def file_done(self, name: str, size: int, how: str) -> None:
        """One file was ``downloaded``, ``reused``, ``skipped`` or ``failed``."""


@dataclass
class _Tally:
    count: int = 0
    size: int = 0
    taken: int = 0
    downloaded: int = 0
    reused: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    syncer: Syncer | None = None


def export_files(connector: Connector, out: Path, limits: FileLimits, *,
                 reuse: FileReuse | None = None,
                 observer: object = None) -> tuple[dict[str, Any] | None, list[str]]:
    """Download the files of ``connector`` into ``out/files``; return the manifest's ``files``
    entry (None when the source has no files) and the problems that make the export
    incomplete."""
    source = connector.file_source()
    if source is None:
        return None, []
    folder = out / FILES_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    tally = _Tally(syncer=Syncer())
    index = open_private(out / (FILES_INDEX + ".part"))
    digest = hashlib.sha256()
    done = getattr(observer, "file_done", None)
    try:
        for item in source.list_files(lambda name: _records(out, name)):
            record, how = _one(source, item, out, limits, reuse, tally)
            if record is not None:
                line = canonical_json(record.as_json()) + b"\n"
                index.write(line)
                digest.update(line)
            if done is not None:
                done(item.id if isinstance(item, MissingFile) else item.name,
                     record.size if record else 0, how)
        index.flush()
        os.fsync(index.fileno())
        assert tally.syncer is not None
        tally.syncer.finish()
    finally:
        index.close()
        if tally.syncer is not None:
            tally.syncer.close()
    os.replace(out / (FILES_INDEX + ".part"), out / FILES_INDEX)
    fsync_dir(folder)
    entry = files_entry(sha256=digest.hexdigest(), count=tally.count, size=tally.size,
                        downloaded=tally.downloaded, reused=tally.reused,
                        skipped=tally.skipped, failed=tally.failed, limits=limits.as_json())
    problems = [f"file {f['name'] or f['id']} ({f['kind']} {f['id']}) could not be exported: "
                f"{f['reason']}" for f in tally.failed]
    return entry, problems


def _records(out: Path, name: str) -> Iterator[dict[str, Any]]:
    path = out / "objects" / f"{name}.ndjson"
    if not path.exists():
        return
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield orjson.loads(line)


def _links(item: RemoteFile | MissingFile) -> list[dict[str, str]]:
    return [{"object": link.object, "id": link.id,
             **({"property": link.property} if link.property else {})} for link in item.links]


def _one(source: FileSource, item: RemoteFile | MissingFile, out: Path, limits: FileLimits,
         reuse: FileReuse | None, tally: _Tally) -> tuple[FileRecord | None, str]:
    if isinstance(item, MissingFile):
        entry = {"kind": item.kind, "id": item.id, "name": "", "reason": item.reason,
                 "links": _links(item)}
        if not item.fatal:
            tally.skipped.append({**entry, "size": None})
            return None, "skipped"
        tally.failed.append(entry)
        return None, "failed"
    why = limits.refuse(item.name, item.size, tally.taken)
    if why is not None:
        tally.skipped.append({"kind": item.kind, "id": item.id, "name": item.name,
                              "size": item.size, "reason": why, "links": _links(item)})
        return None, "skipped"
    part = out / FILES_DIR / f".{item.kind}-{item.id}.part"
    how = "reused"
    try:
        taken = reuse.take(item, part) if reuse is not None else None
        if taken is None:
            how = "downloaded"
            taken = _download(source, item, part)
    except AuthError:
        part.unlink(missing_ok=True)
        raise   # the token stopped working: every other file would fail the same way
    except ConnectorError as exc:
        part.unlink(missing_ok=True)
        tally.failed.append({"kind": item.kind, "id": item.id, "name": item.name,
                             "reason": exc.message, "links": _links(item)})
        return None, "failed"
    sha, size = taken
    rel = blob_path(sha)
    (out / rel).parent.mkdir(mode=0o700, exist_ok=True)
    os.replace(part, out / rel)   # the same bytes under another name: one blob
    if tally.syncer is not None:
        tally.syncer.add(out / rel)
    tally.count += 1
    tally.size += size
    tally.taken += size
    setattr(tally, how, getattr(tally, how) + 1)
    extra = {k: v for k, v in item.extra.items() if v}
    if item.content_type:
        extra["content_type"] = item.content_type
    return FileRecord(item.kind, item.id, item.name, size, item.modified, sha, rel,
                      tuple((link.object, link.id) for link in item.links), item.checksum,
                      extra, via=tuple(link.property for link in item.links)), how


def _download(source: FileSource, item: RemoteFile, part: Path) -> tuple[str, int]:
    """Stream one file to ``part``; check its size and the vendor's checksum."""
    md5 = bool(item.checksum and item.checksum.startswith("md5:"))
    sink = FileSink(part, md5)
    try:
        try:
            stream_file(source.http, lambda: source.content_url(item), sink.write, sink.reset)
        finally:
            sink.close()
    except OSError as exc:
        raise StorageError(f"writing file {item.name} to {part.parent} failed: {exc}",
                           "free disk space in the staging folder, or lower [source] files "
                           "max_total") from exc
    if item.size is not None and sink.size != item.size:
        raise ConnectorError(f"received {format_size(sink.size)} ({sink.size} bytes) but "
                             f"the source lists {item.size} bytes")
    if sink.md5 is not None and item.checksum and \
            item.checksum[4:].lower() != sink.md5.hexdigest():
        raise ConnectorError(f"the content's MD5 {sink.md5.hexdigest()} differs from the "
                             f"source's checksum {item.checksum[4:]}")
    return sink.sha.hexdigest(), sink.size
