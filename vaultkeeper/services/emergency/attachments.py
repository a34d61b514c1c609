"""The package's files: every exported file under its own name, a link table, and import steps.

``files/<kind>/<id>/<name>`` holds each file's bytes (copied from the export's content-addressed
store and checked against its SHA-256 on the way); ``files/file_links.csv`` has one row per link
(the file, its hash, and the object and legacy id of the record it belongs to; a file nothing
links to has one row with those empty); ``files/README.md`` says how to bring them into a new
CRM. Links whose record is not in the package are kept and flagged ``record_in_package = no``.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from vaultkeeper.errors import VerificationError
from vaultkeeper.exportfmt_files import FileRecord
from vaultkeeper.privatefs import open_private
from vaultkeeper.services.emergency.files import CsvOut, make_private_dirs, write_text

if TYPE_CHECKING:
    from vaultkeeper.services.emergency.package import PackageBuilder

LINKS_CSV = "files/file_links.csv"
FOLDERS_CSV = "files/folders.csv"
HEADER = ("file", "kind", "file_id", "name", "size", "sha256", "object", "legacy_id",
          "record_in_package", "property")
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")

README = """# Files and attachments

Every file the CRM held is in `files/<kind>/<id>/<name>`; `file_links.csv` says which records
each belongs to (`object` and `legacy_id` are the record's id in the old CRM, the same ids as
in `data/objects/*.csv`). `sha256` lets you check each file (`sha256sum`).

## Importing them
1. Import the records first (see RUNBOOK.md), keeping the legacy id in each record.
2. For each row of `file_links.csv`, find the new record whose legacy id is `legacy_id` in
   `object`, and attach `file` to it:
   - HubSpot: upload with the Files API (`POST /files/v3/files`), then create a note on the
     record with `hs_attachment_ids` set to the new file id (or attach in the record's
     Attachments card).
   - Salesforce: insert a `ContentVersion` (`VersionData` = the file, `PathOnClient` =
     `name`, `FirstPublishLocationId` = the new record id); for a file with several rows,
     add a `ContentDocumentLink` per further record.
   - Other CRMs: most accept a file per record in their import tool or API; the table is
     the mapping.
3. A file with several rows belongs to several records: upload it once, link it to each.
4. Rows with a `property` came from a HubSpot file property of the record (e.g. a signed
   membership form): upload the file, then set that property of the new record to the new
   file id (HubSpot: a property of field type "File"; elsewhere a file field or an attachment).
5. Salesforce `Document` rows (the old Documents tab) belong to a folder: `object` is
   `Folder` and `legacy_id` the folder's id; `folders.csv` names the folders. Upload them as
   Salesforce Files into a library per folder (or into the new CRM's file area).
6. Rows with `record_in_package = no` name records that were not exported (users, folders,
   objects left out): attach those by hand or skip them.
"""


def _safe(name: str) -> str:
    cleaned = _UNSAFE.sub("_", name).strip(" .") or "file"
    return cleaned[:150]


def write_attachments(b: PackageBuilder) -> int:
    """Copy the export's files into the package with the link table; return files written."""
    records = list(b.folder.export.file_records())
    if b.folder.export.manifest.files is None:
        return 0
    b.observer.stage("files", len(records))
    table = CsvOut(b.out / LINKS_CSV, HEADER)
    for rec in records:
        rel = f"files/{_safe(rec.kind)}/{_safe(rec.id)}/{_safe(rec.name)}"
        _copy(b, rec, rel)
        links = rec.links or (("", ""),)
        for (obj, legacy), via in zip(links, rec.link_properties() or ("",), strict=True):
            known = bool(obj) and obj in b.folder.objects and b.scratch.has(obj, legacy)
            table.write({"file": rel, "kind": rec.kind, "file_id": rec.id, "name": rec.name,
                         "size": str(rec.size), "sha256": rec.sha256, "object": obj,
                         "legacy_id": legacy, "record_in_package": "yes" if known else "no",
                         "property": via})
        b.observer.advance(1)
    table.close()
    folders = sorted({(legacy, str(rec.raw.get("folder_name") or "")) for rec in records
                      for obj, legacy in rec.links if obj == "Folder"})
    if folders:
        listing = CsvOut(b.out / FOLDERS_CSV, ("folder_id", "name"))
        for folder_id, name in folders:
            listing.write({"folder_id": folder_id, "name": name})
        listing.close()
    write_text(b.out / "files" / "README.md", README)
    return len(records)


def _copy(b: PackageBuilder, rec: FileRecord, rel: str) -> None:
    """Stream one blob into the package, checking its SHA-256."""
    source = b.folder.root / rec.path
    target = b.out / rel
    make_private_dirs(target.parent)
    sha = hashlib.sha256()
    try:
        with source.open("rb") as src, open_private(target) as dst:
            while chunk := src.read(1 << 20):
                sha.update(chunk)
                dst.write(chunk)
    except FileNotFoundError:
        raise VerificationError(f"file {rec.name} ({rec.kind} {rec.id}) is missing from the "
                                "export", "build the package from another snapshot") from None
    if sha.hexdigest() != rec.sha256:
        raise VerificationError(f"file {rec.name} ({rec.kind} {rec.id}) differs from its "
                                "SHA-256 in the export", "build the package from another "
                                "snapshot")
