"""Files written into the sandbox: HubSpot Files API uploads, Salesforce ContentVersion,
ContentDocumentLink and Attachment inserts (what ``restore`` puts back).

Shapes follow the vendors' APIs and their official SDKs: HubSpot ``POST /files/v3/files``
(multipart/form-data: ``file``, ``folderPath`` or ``folderId``, ``fileName``, ``options`` JSON —
hubspot-api-client ``files.files_api.upload``) answers the v3 ``File`` object; Salesforce
``POST …/sobjects/ContentVersion`` (JSON with ``VersionData`` base64, ``PathOnClient``,
``Title``, ``FirstPublishLocationId`` or ``ContentDocumentId`` for a new version),
``…/sobjects/ContentDocumentLink`` and ``…/sobjects/Attachment`` (``ParentId``, ``Name``,
``Body`` base64) answer ``{"id", "success", "errors"}`` with 201, as simple-salesforce expects.
Uploaded bytes are kept in memory (a test server) and served by the ordinary download routes.
The ``upload_limit:bytes=N`` fault refuses larger uploads with 413.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import orjson

from vaultkeeper.sandbox import sf_schema as sf
from vaultkeeper.sandbox.data import iso_ms
from vaultkeeper.sandbox.wire import Request, Response, json_response

UPLOAD_ID_BASE = 90_000_000
"""HubSpot ids of uploaded files (the generated ones are below, from ``FILE_ID_BASE``)."""
_SF_SEQ_BASE = 900_000_000
_TYPES = {"pdf": "application/pdf", "txt": "text/plain", "jpg": "image/jpeg",
          "png": "image/png", "csv": "text/csv",
          "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


@dataclass
class Uploaded:
    """One uploaded file (or Salesforce version/attachment)."""

    kind: str
    """``hubspot`` | ``ContentVersion`` | ``Attachment``"""
    id: str
    name: str
    """Without the extension for HubSpot; the file name (``PathOnClient``/``Name``) else."""
    extension: str
    content_type: str
    data: bytes
    created_ms: int
    document_id: str = ""
    parent: str = ""
    version: int = 1
    links: list[str] = field(default_factory=list)
    """Salesforce: the records the document is linked to (ContentDocumentLink)."""
    title: str = ""

    @property
    def size(self) -> int:
        """Bytes stored."""
        return len(self.data)

    def md5(self) -> str:
        """Salesforce's ``Checksum``."""
        return hashlib.md5(self.data).hexdigest()   # noqa: S324 - Salesforce's checksum

    @property
    def filename(self) -> str:
        """Name with extension."""
        if self.kind == "hubspot":
            return f"{self.name}.{self.extension}" if self.extension else self.name
        return self.name

    def signature(self) -> str:
        """The ``sig`` of its signed URL."""
        return hashlib.sha256(f"{self.id}:{self.created_ms}".encode()).hexdigest()[:16]


def _split_name(filename: str) -> tuple[str, str]:
    stem, dot, ext = filename.rpartition(".")
    return (stem, ext.lower()) if dot and stem else (filename, "")


class UploadStore:
    """The files written through the API (thread-safe)."""

    def __init__(self, limit: int = 0) -> None:
        self.limit = limit
        """When > 0, uploads larger than this are refused (413): the ``upload_limit`` fault."""
        self._lock = threading.Lock()
        self._items: dict[str, Uploaded] = {}
        self._seq = 0
        self.uploads = 0
        """Uploads accepted (tests count them)."""
        self.extra_links: dict[str, list[str]] = {}
        """Generated document (15-character id) → records linked to it through the API."""
        self.known_document: Callable[[str], bool] = lambda doc: False
        """Whether a generated ContentDocument exists (set by SandboxFiles)."""

    def _next(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def add(self, item: Uploaded) -> Uploaded:
        """Store an upload."""
        with self._lock:
            self._items[item.id] = item
            self.uploads += 1
        return item

    def get(self, kind: str, raw_id: str) -> Uploaded | None:
        """An upload by kind and id (Salesforce ids compare on their first 15 characters)."""
        with self._lock:
            found = self._items.get(raw_id)
            if found is None and kind != "hubspot":
                found = next((u for k, u in self._items.items() if k[:15] == raw_id[:15]), None)
        return found if found is not None and found.kind == kind else None

    def all(self, kind: str) -> list[Uploaded]:
        """Every upload of one kind, oldest first; of a ContentDocument's versions only the
        latest."""
        with self._lock:
            items = [u for u in self._items.values() if u.kind == kind]
        if kind != "ContentVersion":
            return items
        latest: dict[str, Uploaded] = {}
        for u in items:
            if u.document_id not in latest or u.version > latest[u.document_id].version:
                latest[u.document_id] = u
        return list(latest.values())

    def latest_version(self, document_id: str) -> Uploaded | None:
        """The newest uploaded version of a document (generated documents included)."""
        found = [u for u in self.all("ContentVersion") if u.document_id[:15] == document_id[:15]]
        return found[0] if found else None

    def link(self, document_id: str, entity: str) -> bool:
        """Link an uploaded document to a record (False when the document is not uploaded)."""
        version = self.latest_version(document_id)
        if version is None:
            if not self.known_document(document_id):
                return False
            with self._lock:
                links = self.extra_links.setdefault(document_id[:15], [])
                if entity not in links:
                    links.append(entity)
            return True
        with self._lock:
            for u in self._items.values():
                if u.document_id == version.document_id and entity not in u.links:
                    u.links.append(entity)
        return True

    def too_large(self, size: int, salesforce: bool) -> Response | None:
        """The 413 the ``upload_limit`` fault answers, or None."""
        if not self.limit or size <= self.limit:
            return None
        message = f"The file is larger than the {self.limit}-byte upload limit"
        if salesforce:
            return json_response(413, [{"errorCode": "REQUEST_ENTITY_TOO_LARGE",
                                        "message": message}])
        return json_response(413, {"status": "error", "category": "PAYLOAD_TOO_LARGE",
                                   "message": message})

    # -- HubSpot ---------------------------------------------------------------------------
    def hubspot_upload(self, req: Request) -> Response:
        """``POST /files/v3/files`` (multipart/form-data)."""
        ctype = req.header("Content-Type") or ""
        if not ctype.lower().startswith("multipart/form-data"):
            return _hs_invalid("The request must be multipart/form-data")
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + req.body)
        parts: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str):
                parts[name] = (part.get_filename(), payload if isinstance(payload, bytes)
                               else b"")
        if "file" not in parts:
            return _hs_invalid("file is required")
        if "folderPath" not in parts and "folderId" not in parts:
            return _hs_invalid("folderId or folderPath is required")
        try:
            options = orjson.loads(parts["options"][1]) if "options" in parts else {}
        except orjson.JSONDecodeError:
            return _hs_invalid("options must be JSON")
        if not isinstance(options, dict) or options.get("access") not in (
                None, "PUBLIC_INDEXABLE", "PUBLIC_NOT_INDEXABLE", "PRIVATE"):
            return _hs_invalid("options.access must be PUBLIC_INDEXABLE, "
                               "PUBLIC_NOT_INDEXABLE or PRIVATE")
        filename, data = parts["file"]
        given = parts.get("fileName", (None, b""))[1].decode("utf-8", "replace")
        refused = self.too_large(len(data), False)
        if refused is not None:
            return refused
        name, ext = _split_name(given or filename or "upload")
        folder = parts.get("folderPath", (None, b"/"))[1].decode("utf-8", "replace")
        item = self.add(Uploaded("hubspot", str(UPLOAD_ID_BASE + self._next()), name, ext,
                                 _TYPES.get(ext, "application/octet-stream"), data,
                                 int(time.time() * 1000), parent=folder))
        req.touched.append(item.id)
        return json_response(201, self.hubspot_json(item, req.base_url))

    @staticmethod
    def hubspot_json(u: Uploaded, base_url: str) -> dict[str, Any]:
        """The v3 ``File`` object of an upload."""
        return {"id": u.id, "name": u.name, "extension": u.extension, "size": u.size,
                "type": "DOCUMENT" if u.extension in ("pdf", "docx", "txt") else "IMG",
                "createdAt": iso_ms(u.created_ms), "updatedAt": iso_ms(u.created_ms),
                "archived": False, "access": "PRIVATE", "parentFolderId": "1000",
                "path": f"{u.parent.rstrip('/')}/{u.filename}", "encoding": u.extension,
                "url": f"{base_url}/hubfs/sandbox/{u.filename}"}

    # -- Salesforce ------------------------------------------------------------------------
    def salesforce_insert(self, req: Request, obj: str) -> Response:
        """``POST …/sobjects/ContentVersion|ContentDocumentLink|Attachment``."""
        try:
            body = orjson.loads(req.body)
        except orjson.JSONDecodeError:
            return _sf_error(400, "JSON_PARSER_ERROR", "The request body is not JSON")
        if not isinstance(body, dict):
            return _sf_error(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        if obj == "ContentDocumentLink":
            doc, entity = str(body.get("ContentDocumentId") or ""), str(
                body.get("LinkedEntityId") or "")
            if not doc or not entity:
                return _sf_error(400, "REQUIRED_FIELD_MISSING", "Required fields are missing: "
                                 "[ContentDocumentId, LinkedEntityId]")
            if not self.link(doc, entity):
                return _sf_error(400, "INVALID_CROSS_REFERENCE_KEY",
                                 f"invalid cross reference id: {doc}")
            return _created(sf.sf_id("06A", _SF_SEQ_BASE + self._next()))
        field_name = "VersionData" if obj == "ContentVersion" else "Body"
        try:
            data = base64.b64decode(str(body.get(field_name) or ""), validate=True)
        except (binascii.Error, ValueError):
            return _sf_error(400, "INVALID_FIELD", f"{field_name}: not valid base64")
        refused = self.too_large(len(data), True)
        if refused is not None:
            return refused
        now = int(time.time() * 1000)
        if obj == "Attachment":
            parent, name = str(body.get("ParentId") or ""), str(body.get("Name") or "")
            if not parent or not name or field_name not in body:
                return _sf_error(400, "REQUIRED_FIELD_MISSING",
                                 "Required fields are missing: [ParentId, Name, Body]")
            ext = _split_name(name)[1]
            item = self.add(Uploaded("Attachment", sf.sf_id("00P", _SF_SEQ_BASE + self._next()),
                                     name, ext, str(body.get("ContentType") or _TYPES.get(
                                         ext, "application/octet-stream")), data, now,
                                     parent=parent))
            req.touched.append(item.id)
            return _created(item.id)
        path = str(body.get("PathOnClient") or "")
        if not path or field_name not in body:
            return _sf_error(400, "REQUIRED_FIELD_MISSING",
                             "Required fields are missing: [PathOnClient, VersionData]")
        doc = str(body.get("ContentDocumentId") or "")
        version, links = 1, [str(body["FirstPublishLocationId"])] if body.get(
            "FirstPublishLocationId") else []
        if doc:
            if doc[:3] != "069":
                return _sf_error(400, "INVALID_CROSS_REFERENCE_KEY",
                                 f"invalid cross reference id: {doc}")
            before = self.latest_version(doc)
            version = (before.version + 1) if before else 2
            links = list(before.links) if before else []
        else:
            doc = sf.sf_id("069", _SF_SEQ_BASE + self._next())
        seq = self._next()
        ext = _split_name(path)[1]
        item = self.add(Uploaded("ContentVersion", sf.sf_id("068", _SF_SEQ_BASE + seq),
                                 path, ext, _TYPES.get(ext, "application/octet-stream"), data,
                                 now, document_id=doc, version=version, links=links,
                                 title=str(body.get("Title") or _split_name(path)[0])))
        req.touched.append(item.id)
        return _created(item.id)


def _created(new_id: str) -> Response:
    return json_response(201, {"id": new_id, "success": True, "errors": []})


def _hs_invalid(message: str) -> Response:
    return json_response(400, {"status": "error", "category": "VALIDATION_ERROR",
                               "message": message})


def _sf_error(status: int, code: str, message: str) -> Response:
    return json_response(status, [{"errorCode": code, "message": message, "fields": []}])
