"""Putting files back into a CRM: is a snapshot's file still on its records, and uploading it.

HubSpot: a file is live when ``GET /files/v3/files/{id}`` answers (same size and ``updatedAt``
as in the snapshot, else it changed); an upload is ``POST /files/v3/files`` (multipart, streamed
from disk: ``file``, ``folderPath``, ``fileName``, ``options``), and the engagement gets the new
id in ``hs_attachment_ids`` (or the record the file property that named the old one).
Salesforce: a ContentVersion is live when a document linked to the record has a latest version
with the snapshot's MD5 ``Checksum`` (the snapshot's document with another checksum: changed);
an upload inserts a ``ContentVersion`` (``VersionData`` base64 in a JSON body streamed from
disk, ``FirstPublishLocationId``; ``ContentDocumentId`` for a new version) plus a
``ContentDocumentLink`` per further record. A legacy ``Attachment`` is live when its parent has
one with the same name and size; an upload inserts an ``Attachment`` (``ParentId``, ``Name``,
``Body``). No file is ever held whole in memory.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote_plus

import orjson

from vaultkeeper.connectors.writer import CrmWriter, LiveRecord, RecordUpdate
from vaultkeeper.errors import ConnectorError

State = Literal["present", "missing", "changed"]
ATTACHMENTS = "hs_attachment_ids"
FOLDER = "/vaultkeeper-restore"
_CHUNK = 3 * (1 << 18)   # a multiple of 3: base64 of consecutive chunks concatenates


@dataclass(frozen=True)
class SnapshotFile:
    """A file of the snapshot to check or put back, with its bytes on disk."""

    kind: str
    id: str
    name: str
    size: int
    sha256: str
    modified: str
    checksum: str | None
    document_id: str
    blob: Path


@dataclass(frozen=True)
class LiveState:
    """Where the CRM stands on one snapshot file for some records."""

    state: State
    live_id: str = ""
    """The live file (HubSpot file id, Salesforce document or attachment id) when present or
    changed."""


class FileRefused(ConnectorError):
    """The CRM refused one upload (its own reason); the other files go on."""


def _json(response: Any) -> Any:
    try:
        return orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return {"message": response.text[:300]}


def _created_id(response: Any, refused: str) -> str:
    """The id a vendor answered for a created file; FileRefused (``refused`` + status + the
    vendor's reason) for anything else."""
    data = _json(response)
    if response.status_code not in (200, 201) or not isinstance(data, dict) or \
            not data.get("id"):
        raise FileRefused(f"{refused} ({response.status_code}): {_reason(data)}")
    return str(data["id"])


def _reason(body: Any) -> str:
    if isinstance(body, list) and body and isinstance(body[0], dict):
        first = body[0]
        return f"{first.get('errorCode') or first.get('statusCode') or ''}: " \
               f"{first.get('message', '')}".strip(": ")
    if isinstance(body, dict):
        return str(body.get("message") or body)[:300]
    return str(body)[:300]


class HubSpotFileWriter:
    """Files into a HubSpot portal through a ``HubSpotWriter``'s client."""

    def __init__(self, writer: CrmWriter) -> None:
        self.writer = writer
        self.http = writer.http

    def state(self, f: SnapshotFile, targets: Sequence[tuple[str, str]],
              known: str | None) -> LiveState:
        """Present (the snapshot's file, or one a previous restore uploaded), changed, or
        missing."""
        if known:
            response = self.http.request("GET", f"/files/v3/files/{known}")
            body = _json(response)
            if response.status_code == 200 and isinstance(body, dict) and \
                    int(body.get("size") or 0) == f.size:
                return LiveState("present", known)
        response = self.http.request("GET", f"/files/v3/files/{f.id}")
        body = _json(response)
        if response.status_code == 404 or not isinstance(body, dict) or body.get("archived"):
            return LiveState("missing")
        if response.status_code != 200:
            raise ConnectorError(f"HubSpot answered {response.status_code} for file {f.id}: "
                                 f"{_reason(body)}")
        same = int(body.get("size") or 0) == f.size and str(body.get("updatedAt") or "") == \
            f.modified
        return LiveState("present" if same else "changed", f.id)

    def upload(self, f: SnapshotFile, targets: Sequence[tuple[str, str]],
               replace: str | None) -> str:
        """Upload the snapshot's bytes as a new file; returns its id."""
        options = json.dumps({"access": "PRIVATE", "overwrite": False,
                              "duplicateValidationStrategy": "NONE"})

        def body() -> Mapping[str, Any]:
            handle = f.blob.open("rb")
            return {"files": {"file": (f.name, handle, "application/octet-stream"),
                              "folderPath": (None, FOLDER), "fileName": (None, f.name),
                              "options": (None, options)}, "close": [handle]}

        return _created_id(self.http.request("POST", "/files/v3/files", body=body),
                           "HubSpot refused the upload")

    def relink(self, f: SnapshotFile, targets: Sequence[tuple[str, str]], old: str,
               new: str, via: Mapping[tuple[str, str], str] | None = None) -> list[str]:
        """Put ``new`` in place of ``old`` in each record's property that names the file (an
        engagement's ``hs_attachment_ids``, or the file property ``via`` gives); the records
        it could not update (with reasons)."""
        problems: list[str] = []
        by_prop: dict[tuple[str, str], list[str]] = {}
        for obj, rid in targets:
            prop = (via or {}).get((obj, rid)) or ATTACHMENTS
            by_prop.setdefault((obj, prop), []).append(rid)
        for (obj, prop), ids in by_prop.items():
            live: dict[str, LiveRecord] = self.writer.fetch(obj, ids, properties=[prop])
            updates = []
            for rid in ids:
                rec = live.get(rid)
                current = [v for v in str((rec.properties if rec else {}).get(prop)
                                          or "").split(";") if v]
                wanted = [new if v == old else v for v in current]
                if new not in wanted:
                    wanted = [new] if prop != ATTACHMENTS else [*wanted, new]
                if wanted != current:
                    updates.append(RecordUpdate(rid, {prop: ";".join(wanted)}))
            for outcome in self.writer.update(obj, updates).outcomes if updates else []:
                if not outcome.ok:
                    problems.append(f"{obj} {outcome.key}: {outcome.error}")
        return problems


class SalesforceFileWriter:
    """Files into a Salesforce org through a ``SalesforceWriter``'s client."""

    def __init__(self, writer: CrmWriter) -> None:
        self.writer = writer
        self.http = writer.http
        self.root: str = writer.root   # type: ignore[attr-defined]

    def _query(self, soql: str) -> list[dict[str, Any]]:
        response = self.http.request("GET", f"{self.root}/query/?q={quote_plus(soql)}")
        body = _json(response)
        if response.status_code != 200 or not isinstance(body, dict):
            raise ConnectorError(f"Salesforce refused a files query: {_reason(body)}")
        return list(body.get("records") or [])

    def state(self, f: SnapshotFile, targets: Sequence[tuple[str, str]],
              known: str | None) -> LiveState:
        """Present, changed or missing on the target records."""
        ids = ",".join(f"'{_safe(rid)}'" for _obj, rid in targets)
        if not ids:
            return LiveState("missing")
        if f.kind == "Attachment":
            rows = self._query("SELECT Id, Name, BodyLength FROM Attachment "  # noqa: S608
                               f"WHERE ParentId IN ({ids})")
            for row in rows:
                if str(row.get("Id"))[:15] == (known or "")[:15] or (
                        row.get("Name") == f.name and int(row.get("BodyLength") or 0) == f.size):
                    return LiveState("present", str(row["Id"]))
            same = [r for r in rows if str(r.get("Id"))[:15] == f.id[:15]]
            return LiveState("changed", str(same[0]["Id"])) if same else LiveState("missing")
        links = self._query("SELECT ContentDocumentId, LinkedEntityId FROM "  # noqa: S608
                            f"ContentDocumentLink WHERE LinkedEntityId IN ({ids})")
        docs = sorted({str(r["ContentDocumentId"]) for r in links})
        if not docs:
            return LiveState("missing")
        quoted = ",".join(f"'{_safe(d)}'" for d in docs)
        versions = self._query("SELECT Id, ContentDocumentId, Checksum FROM "  # noqa: S608
                               f"ContentVersion WHERE ContentDocumentId IN ({quoted}) "
                               "AND IsLatest = true")
        md5 = (f.checksum or "").removeprefix("md5:")
        for v in versions:
            if md5 and v.get("Checksum") == md5:
                return LiveState("present", str(v["ContentDocumentId"]))
        mine = [d for d in docs if f.document_id and d[:15] == f.document_id[:15]]
        return LiveState("changed", mine[0]) if mine else LiveState("missing")

    def _insert(self, obj: str, head: Mapping[str, Any], data_field: str,
                blob: Path, size: int) -> str:
        """POST a JSON body whose ``data_field`` is the file's base64, streamed from disk."""
        prefix = orjson.dumps(dict(head))[:-1] + (b"," if head else b"") + \
            f'"{data_field}":"'.encode()
        suffix = b'"}'
        length = len(prefix) + 4 * ((size + 2) // 3) + len(suffix)

        def chunks(handle: Any) -> Iterator[bytes]:
            yield prefix
            while chunk := handle.read(_CHUNK):
                yield base64.b64encode(chunk)
            yield suffix

        def body() -> Mapping[str, Any]:
            handle = blob.open("rb")
            return {"content": chunks(handle), "close": [handle],
                    "headers": {"Content-Type": "application/json",
                                "Content-Length": str(length)}}

        return _created_id(self.http.request("POST", f"{self.root}/sobjects/{obj}", body=body),
                           f"Salesforce refused the {obj}")

    def upload(self, f: SnapshotFile, targets: Sequence[tuple[str, str]],
               replace: str | None) -> str:
        """Insert the file on the first record (or as a new version of ``replace``) and link
        it to the others; returns the new ContentVersion or Attachment id."""
        if not targets:
            raise FileRefused("none of the file's records is in the CRM")
        if f.kind == "Attachment":
            return self._insert("Attachment", {"ParentId": targets[0][1], "Name": f.name},
                                "Body", f.blob, f.size)
        stem = f.name.rsplit(".", 1)[0] if "." in f.name else f.name
        head: dict[str, Any] = {"Title": stem, "PathOnClient": f.name}
        if replace:
            head["ContentDocumentId"] = replace
        else:
            head["FirstPublishLocationId"] = targets[0][1]
        new = self._insert("ContentVersion", head, "VersionData", f.blob, f.size)
        if replace:
            return new
        rows = self._query(f"SELECT Id, ContentDocumentId FROM ContentVersion "  # noqa: S608
                           f"WHERE Id IN ('{_safe(new)}')")
        doc = str(rows[0]["ContentDocumentId"]) if rows else ""
        for _obj, rid in targets[1:]:
            response = self.http.request("POST", f"{self.root}/sobjects/ContentDocumentLink",
                                         json={"ContentDocumentId": doc, "LinkedEntityId": rid,
                                               "ShareType": "V"})
            if response.status_code not in (200, 201):
                raise FileRefused(f"uploaded as {new}, but linking it to {rid} was refused: "
                                  f"{_reason(_json(response))}")
        return new

    def relink(self, f: SnapshotFile, targets: Sequence[tuple[str, str]], old: str,
               new: str, via: Mapping[tuple[str, str], str] | None = None) -> list[str]:
        """Nothing to do: the upload linked it."""
        return []


def _safe(value: str) -> str:
    """A Salesforce id (letters and digits only) for a SOQL literal."""
    if not (value.isalnum() and value.isascii()):
        raise ConnectorError(f"{value[:40]!r} is not a Salesforce id")
    return value


FileWriter = HubSpotFileWriter | SalesforceFileWriter


def file_writer(writer: CrmWriter) -> FileWriter:
    """The file writer for a CRM writer's vendor (each vendor's writer names its own)."""
    return writer.file_writer()
