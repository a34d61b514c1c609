"""Unchanged files come from the previous snapshot, not from the CRM again.

Why restore rather than keep a local cache: plaintext CRM data may only live in private folders
that the next run removes, so the only copy that outlives a run is the encrypted one in the
repository. Before the export, the previous snapshot's ``files/index.ndjson`` is restored; a
file whose kind, id, size, modified stamp (and vendor checksum, when there is one) are the same
as there is unchanged, and the first such file restores the previous ``files/`` blobs in one
``restic restore`` (repository bandwidth, no API request). Each reused blob is hashed again
before it is used, so a damaged restore falls back to a download. restic's deduplication then
stores nothing new for it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from vaultkeeper.connectors.files_base import RemoteFile
from vaultkeeper.errors import StorageError
from vaultkeeper.exportfmt import ExportFolder, Manifest, find_export_root
from vaultkeeper.exportfmt_files import FILES_DIR, FILES_INDEX, FileRecord, hash_file
from vaultkeeper.restic import Restic, Snapshot


class SnapshotReuse:
    """The files of one earlier snapshot, restored on first use into ``workdir``."""

    def __init__(self, restic: Restic, snapshot: Snapshot, workdir: Path) -> None:
        self.restic = restic
        self.snapshot = snapshot
        self.workdir = workdir
        self._index: dict[str, FileRecord] | None = None
        self._root: Path | None = None
        self._blobs_restored = False

    def _load_index(self) -> dict[str, FileRecord]:
        if self._index is None:
            self._index = {}
            try:
                self.restic.restore(self.snapshot.id, self.workdir,
                                    include=[FILES_INDEX, "manifest.json"])
            except StorageError:
                return self._index
            root = find_export_root(self.workdir)
            if root is None or Manifest.load(root) is None:
                return self._index
            self._root = root
            self._index = {rec.key: rec for rec in ExportFolder(root).file_records()}
        return self._index

    def use_restored(self, root: Path) -> None:
        """Take the files from an export already restored in full at ``root`` (the base of an
        incremental backup, services/incremental_run.py): one restore serves both."""
        self._root = root
        self._index = {rec.key: rec for rec in ExportFolder(root).file_records()}
        self._blobs_restored = True

    def take(self, remote: RemoteFile, dest: Path) -> tuple[str, int] | None:
        """Put the previous copy of ``remote`` at ``dest`` when it is unchanged."""
        before = self._load_index().get(remote.key)
        if before is None or self._root is None or not _same(before, remote):
            return None
        if not self._blobs_restored:
            self._blobs_restored = True
            try:
                self.restic.restore(self.snapshot.id, self.workdir, include=[f"{FILES_DIR}/"])
            except StorageError:
                return None
        blob = self._root / before.path
        if not blob.is_file() or hash_file(blob) != (before.sha256, before.size):
            return None
        try:
            os.link(blob, dest)
        except OSError:
            shutil.copyfile(blob, dest)
        return before.sha256, before.size


def _same(before: FileRecord, remote: RemoteFile) -> bool:
    if remote.size is None or not remote.modified:
        return False   # nothing to compare: download it
    return (before.size == remote.size and before.modified == remote.modified
            and (remote.checksum is None or before.checksum == remote.checksum))


def previous_snapshot(restics: list[Restic]) -> tuple[Restic, Snapshot] | None:
    """The newest vaultkeeper snapshot of the first location that answers."""
    for restic in restics:
        try:
            snaps = restic.snapshots(tags=["vaultkeeper"])
        except StorageError:
            continue
        if snaps:
            return restic, snaps[-1]
    return None
