"""Files in a restore: the snapshot's files of every record the run writes are checked in the
CRM and the lost ones uploaded from the restored snapshot and linked to the records' ids there.

Per file: **present** (still on the record: nothing to do), **missing** (uploaded; HubSpot:
the engagement's ``hs_attachment_ids``, or the record's file property, gets the new file id;
Salesforce: ContentVersion with
``FirstPublishLocationId`` plus links, or an Attachment with ``ParentId``), **changed** (the
CRM holds other bytes: kept as they are unless ``--replace-changed-files`` uploads the
snapshot's version — HubSpot a new file in its place, Salesforce a new version of the
document). The bytes are streamed from the private work folder and their SHA-256 is checked
against the snapshot's index before the upload. Uploaded files are journaled (kind, old id →
new id), so a later restore into the same target finds them and uploads nothing again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from vaultkeeper.connectors.file_writer import (
    ATTACHMENTS,
    FileWriter,
    SnapshotFile,
    file_writer,
)
from vaultkeeper.connectors.writer import CrmWriter
from vaultkeeper.db import restores as journal
from vaultkeeper.db.selection import MirrorReader
from vaultkeeper.errors import ConnectorError
from vaultkeeper.exportfmt_files import FILES_INDEX, FileRecord, hash_file

HUBSPOT_KIND = "hubspot-file"
FileProgress = Callable[[str, int], None]


class FileIdReader:
    """A snapshot reader whose HubSpot ``hs_attachment_ids`` name the files as they are in the
    target (ids uploaded by a restore replace the snapshot's), so plans, writes and the
    read-back compare like with like."""

    def __init__(self, reader: MirrorReader, file_map: dict[str, str],
                 properties: set[str] | None = None) -> None:
        self._reader = reader
        self.file_map = file_map
        """Old HubSpot file id → id in the target (updated as files are uploaded)."""
        self.properties = {ATTACHMENTS, *(properties or ())}
        """The properties that hold file ids (attachments, and file properties)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)

    def raw(self, obj: str, ids: Sequence[str]) -> dict[str, Any]:
        """The reader's records with translated attachment ids."""
        raws = self._reader.raw(obj, ids)
        if not self.file_map:
            return raws
        out: dict[str, Any] = {}
        for key, raw in raws.items():
            props = raw.get("properties") if isinstance(raw, dict) else None
            if isinstance(props, dict):
                changed = {name: ";".join(self.file_map.get(v, v) for v in str(value).split(";"))
                           for name in self.properties if (value := props.get(name))}
                raw = {**raw, "properties": {**props, **changed}}
            out[key] = raw
        return out


@dataclass
class FilesResult:
    """What the files part of one run planned or did (``files`` in the report)."""

    items: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Per outcome, plus the bytes uploaded (or to upload in a dry run)."""
        out = {k: 0 for k in ("files", "present", "uploaded", "to_upload", "kept", "failed")}
        out["files"] = len(self.items)
        for item in self.items:
            key = {"present": "present", "done": "uploaded", "planned": "to_upload",
                   "kept": "kept", "failed": "failed"}.get(item["state"])
            if key:
                out[key] += 1
        out["bytes"] = sum(i["size"] for i in self.items if i["state"] in ("done", "planned"))
        return out

    def as_json(self) -> dict[str, Any]:
        """Counts and every file that is not simply present."""
        return {**self.counts(), "items": [i for i in self.items if i["state"] != "present"]}


def load_index(root: Path | None) -> list[FileRecord]:
    """The restored snapshot's files index (none without a files part)."""
    if root is None or not (root / FILES_INDEX).exists():
        return []
    with (root / FILES_INDEX).open("rb") as handle:
        return [FileRecord.parse(orjson.loads(line)) for line in handle if line.strip()]


def file_map(db: Any, target: str) -> dict[str, str]:
    """Old HubSpot file id → new id, from earlier restores into ``target``."""
    return {old: new for (kind, old), new in journal.previous_file_map(db, target).items()
            if kind == HUBSPOT_KIND}


def _snapshot_file(root: Path, rec: FileRecord) -> SnapshotFile:
    return SnapshotFile(rec.kind, rec.id, rec.name, rec.size, rec.sha256, rec.modified,
                        rec.checksum, str(rec.raw.get("document_id") or ""),
                        root / rec.path)


Concerned = tuple[FileRecord, list[tuple[str, str]], list[str], dict[tuple[str, str], str]]


def _concerned(index: Sequence[FileRecord], written: Mapping[tuple[str, str], str | None],
               ) -> list[Concerned]:
    """Files linked to a written record: (file, target (object, id) pairs, old record ids,
    target → the file property that names the file, where one does)."""
    out = []
    for rec in index:
        mine = [((obj, rid), prop) for (obj, rid), prop in zip(
            rec.links, rec.link_properties(), strict=True) if (obj, rid) in written]
        if mine:
            targets = [(obj, tid) for (obj, rid), _ in mine if (tid := written[(obj, rid)])]
            via = {(obj, tid): prop for (obj, rid), prop in mine
                   if prop and (tid := written[(obj, rid)])}
            out.append((rec, targets, [f"{obj} {rid}" for (obj, rid), _ in mine], via))
    return out


def file_properties(index: Sequence[FileRecord]) -> set[str]:
    """The record properties that name files (HubSpot file properties) in an index."""
    return {p for rec in index for p in rec.via if p}


def restore_files(db: Any, run_id: int, writer: CrmWriter, root: Path | None,
                  written: Mapping[tuple[str, str], str | None], *, dry_run: bool,
                  replace_changed: bool, reader: FileIdReader | None,
                  known: Mapping[tuple[str, str], str],
                  progress: FileProgress | None = None) -> FilesResult:
    """Check (and unless ``dry_run`` put back) the files of the ``written`` records
    ((object, old id) → id in the target, None for a record a dry run would create)."""
    result = FilesResult()
    index = load_index(root)
    if not index or not written:
        return result
    assert root is not None
    fw = file_writer(writer)
    for rec, targets, olds, via in _concerned(index, written):
        f = _snapshot_file(root, rec)
        item: dict[str, Any] = {"kind": f.kind, "file_id": f.id, "name": f.name,
                                "size": f.size, "records": olds, "new_id": None,
                                "reason": ""}
        try:
            state = fw.state(f, targets, known.get((f.kind, f.id)))
        except ConnectorError as exc:
            result.items.append({**item, "action": "check", "state": "failed",
                                 "reason": exc.one_line()})
            continue
        if state.state == "present":
            result.items.append({**item, "action": "none", "state": "present",
                                 "new_id": state.live_id or None})
            continue
        if state.state == "changed" and not replace_changed:
            result.items.append({**item, "action": "none", "state": "kept", "reason":
                                 "changed in the CRM since the snapshot; the CRM's version is "
                                 "kept (--replace-changed-files puts the snapshot's back)"})
            continue
        action = "upload" if state.state == "missing" else "replace"
        if dry_run:
            result.items.append({**item, "action": action, "state": "planned"})
            continue
        result.items.append(_put(db, run_id, fw, f, targets, {**item, "action": action},
                                 state.live_id, reader, via))
        if progress is not None:
            progress(f.name, f.size)
    return result


def _put(db: Any, run_id: int, fw: FileWriter, f: SnapshotFile,
         targets: list[tuple[str, str]], item: dict[str, Any], live_id: str,
         reader: FileIdReader | None,
         via: Mapping[tuple[str, str], str] | None = None) -> dict[str, Any]:
    """Verify, upload and link one file; journaled before and after."""
    if not f.blob.exists():
        return _settle(db, run_id, {**item, "state": "failed", "reason":
                                    "its bytes are not in the snapshot"})
    sha, size = hash_file(f.blob)
    if sha != f.sha256 or size != f.size:
        return _settle(db, run_id, {**item, "state": "failed", "reason":
                                    "its bytes in the snapshot do not match the SHA-256 of "
                                    "the index (not uploaded); run `vaultkeeper drill`"})
    if not targets:
        return _settle(db, run_id, {**item, "state": "failed", "reason":
                                    "none of its records is in the CRM"})
    journal.record_file(db, run_id, {**item, "state": "pending"})
    replace = live_id if item["action"] == "replace" and f.kind == "ContentVersion" else None
    try:
        new = fw.upload(f, targets, replace)
    except ConnectorError as exc:
        return _settle(db, run_id, {**item, "state": "failed", "reason": exc.one_line()})
    if reader is not None and f.kind == HUBSPOT_KIND:
        reader.file_map[f.id] = new
    problems = fw.relink(f, targets, live_id or f.id, new, via)
    if problems:
        return _settle(db, run_id, {**item, "state": "failed", "new_id": new, "reason":
                                    "uploaded, but not linked: " + "; ".join(problems)})
    return _settle(db, run_id, {**item, "state": "done", "new_id": new})


def _settle(db: Any, run_id: int, item: dict[str, Any]) -> dict[str, Any]:
    journal.record_file(db, run_id, item)
    return item
