"""HTTP routes of the sandbox's files: HubSpot Files API v3 and Salesforce ContentVersion /
ContentDocumentLink / Attachment / Document / Folder (SOQL and body routes). Content is
streamed, never built whole.

HubSpot: ``GET /files/v3/files/search`` (paged), ``GET /files/v3/files/{id}``, ``GET
/files/v3/files/{id}/signed-url`` → ``GET /hubfs-signed/{id}?version=&sig=`` (the content).
Salesforce: ``GET …/query?q=SELECT … FROM ContentVersion|ContentDocumentLink|Attachment|
Document|Folder [WHERE …]`` (one page), ``GET …/sobjects/ContentVersion/{id}/VersionData``,
``GET …/sobjects/Attachment/{id}/Body`` and ``GET …/sobjects/Document/{id}/Body``. Writes
(``POST /files/v3/files``, ``POST …/sobjects/ContentVersion|ContentDocumentLink|Attachment``)
live in file_uploads.py; what they store is listed and served here like the generated files.
"""

from __future__ import annotations

import re
from typing import Any

from vaultkeeper.sandbox import sf_schema as sf
from vaultkeeper.sandbox.data import iso_ms
from vaultkeeper.sandbox.file_uploads import Uploaded
from vaultkeeper.sandbox.files import DOCUMENT, DOCUMENT_FOLDERS, SandboxFile, SandboxFiles
from vaultkeeper.sandbox.wire import Request, Response, json_response

_SF_QUERY = re.compile(r"^/services/data/v\d{2,3}\.\d/(query|queryAll)/?$")
_SF_BODY = re.compile(r"^/services/data/v\d{2,3}\.\d/sobjects/(ContentVersion|Attachment|Document)/"
                      r"([0-9A-Za-z]{15,18})/(VersionData|Body)$")
_SF_INSERT = re.compile(r"^/services/data/v\d{2,3}\.\d/sobjects/(ContentVersion|"
                        r"ContentDocumentLink|Attachment)$")
_FROM = re.compile(r"\bFROM\s+(\w+)", re.IGNORECASE)
_IN = re.compile(r"\b(\w+)\s+IN\s*\(([^)]*)\)", re.IGNORECASE)
FILE_OBJECTS = ("ContentVersion", "ContentDocumentLink", "Attachment", "Document", "Folder")
_PAGE = 100
_SF_TIME = "%Y-%m-%dT%H:%M:%S.000+0000"


def is_download(path: str) -> bool:
    """Requests for a file's content (server errors from the faults hit these too)."""
    return path.startswith("/hubfs-signed/") or _SF_BODY.match(path) is not None


def _not_found(message: str, salesforce: bool) -> Response:
    if salesforce:
        return json_response(404, [{"errorCode": "NOT_FOUND", "message": message}])
    return json_response(404, {"status": "error", "message": message,
                               "category": "OBJECT_NOT_FOUND"})


def _stream(files: SandboxFiles, f: SandboxFile | Uploaded, salesforce: bool) -> Response:
    if isinstance(f, Uploaded):
        return Response(200, f.data, f.content_type, [(
            "Content-Disposition", f'attachment; filename="{f.filename}"')])
    if f.missing:
        return _not_found(f"The content of file {f.id} is not available", salesforce)
    return Response(200, b"", f.content_type, [("Content-Disposition",
                                               f'attachment; filename="{f.filename}"')],
                    stream=files.content(f), length=f.size)


def handle(files: SandboxFiles, req: Request) -> Response | None:
    """The response to a files request, or None when the request is not about files."""
    path = req.path.rstrip("/")
    if req.method == "POST":
        if path == "/files/v3/files":
            return files.uploads.hubspot_upload(req)
        insert = _SF_INSERT.match(path)
        return files.uploads.salesforce_insert(req, insert.group(1)) if insert else None
    if req.method != "GET":
        return None
    if path.startswith("/files/v3/files") or path.startswith("/hubfs-signed/"):
        return _hubspot(files, req, path)
    if _SF_QUERY.match(path):
        soql = req.q1("q") or ""
        found = _FROM.search(soql)
        if found and found.group(1) in FILE_OBJECTS:
            return _soql(files, found.group(1), soql)
        return None
    body = _SF_BODY.match(path)
    if body:
        return _sf_body(files, body.group(1), body.group(2))
    return None


# -- HubSpot ---------------------------------------------------------------------------------
def _hubspot(files: SandboxFiles, req: Request, path: str) -> Response:
    parts = path.strip("/").split("/")
    if parts[0] == "hubfs-signed" and len(parts) == 2:
        up = files.uploads.get("hubspot", parts[1])
        if up is not None:
            if req.q1("sig") != up.signature():
                return json_response(403, {"status": "error", "category": "FORBIDDEN",
                                           "message": "The signed URL is invalid or expired"})
            return _stream(files, up, False)
        f = files.by_id(parts[1])
        if f is None:
            return _not_found(f"File {parts[1]} does not exist", False)
        if req.q1("sig") != f.signature() or req.q1("version") != str(f.version):
            return json_response(403, {"status": "error", "category": "FORBIDDEN",
                                       "message": "The signed URL is invalid or expired"})
        return _stream(files, f, False)
    if parts[3:] == ["search"]:
        return _search(files, req)
    up = files.uploads.get("hubspot", parts[3]) if len(parts) >= 4 else None
    if up is not None:
        if len(parts) == 4:
            return json_response(200, files.uploads.hubspot_json(up, req.base_url))
        if parts[4:] == ["signed-url"]:
            return json_response(200, {
                "url": f"{req.base_url}/hubfs-signed/{up.id}?version=1&sig={up.signature()}",
                "expiresAt": iso_ms(up.created_ms + 3_600_000), "name": up.name,
                "extension": up.extension, "size": up.size, "type": "DOCUMENT"})
    f = files.by_id(parts[3]) if len(parts) >= 4 else None
    if f is None:
        return _not_found(f"File {parts[3] if len(parts) >= 4 else ''} does not exist", False)
    if len(parts) == 4:
        return json_response(200, files.hubspot_json(f, req.base_url))
    if parts[4:] == ["signed-url"]:
        return json_response(200, {
            "url": f"{req.base_url}/hubfs-signed/{f.id}?version={f.version}"
                   f"&sig={f.signature()}",
            "expiresAt": iso_ms(f.modified_ms + 3_600_000), "name": f.name,
            "extension": f.extension, "size": f.size, "type": "DOCUMENT"})
    return _not_found(f"No route for GET {req.path}", False)


def _search(files: SandboxFiles, req: Request) -> Response:
    every: list[SandboxFile | Uploaded] = [*files.hubspot_all(),
                                           *files.uploads.all("hubspot")]
    try:
        start = int(req.q1("after") or 0)
        limit = max(1, min(int(req.q1("limit") or _PAGE), _PAGE))
    except ValueError:
        return json_response(400, {"status": "error", "category": "VALIDATION_ERROR",
                                   "message": "after and limit must be numbers"})
    page = every[start:start + limit]
    body: dict[str, Any] = {"results": [
        files.uploads.hubspot_json(f, req.base_url) if isinstance(f, Uploaded)
        else files.hubspot_json(f, req.base_url) for f in page]}
    if start + limit < len(every):
        body["paging"] = {"next": {"after": str(start + limit)}}
    return json_response(200, body)


# -- Salesforce ------------------------------------------------------------------------------
def _sf_time(ms: int) -> str:
    return sf.sf_datetime(ms)


def _task(f: SandboxFile) -> str:
    return sf.sf_id("00T", f.index)


def version_id(f: SandboxFile) -> str:
    """The id of the file's latest ContentVersion (a change makes a new version)."""
    return sf.sf_id("068", f.index * 1000 + f.version)


def document_id(f: SandboxFile) -> str:
    """The file's ContentDocument id."""
    return sf.sf_id("069", f.index)


def attachment_id(f: SandboxFile) -> str:
    """The file's legacy Attachment id."""
    return sf.sf_id("00P", f.index)


def legacy_document_id(f: SandboxFile) -> str:
    """A Salesforce (legacy) Document's id."""
    return sf.sf_id("015", f.index)


def folder_id(number: int) -> str:
    """The id of Document folder ``number`` (``DOCUMENT_FOLDERS``)."""
    return sf.sf_id("00l", number)


def _contact(files: SandboxFiles, f: SandboxFile) -> str | None:
    who = sf.values(files.ds, "Task", f.index).get("WhoId")
    return str(who) if who else None


def _legacy_rows(files: SandboxFiles, obj: str) -> list[dict[str, Any]]:
    """Folders of the Documents tab, and the Documents in them."""
    if obj == "Folder":
        return [{"attributes": {"type": "Folder"}, "Id": folder_id(k), "Name": name,
                 "DeveloperName": name.replace(" ", "_"), "Type": "Document",
                 "AccessType": "Public"} for k, name in enumerate(DOCUMENT_FOLDERS)]
    return [{"attributes": {"type": "Document"}, "Id": legacy_document_id(f),
             "FolderId": folder_id(f.folder), "Name": f.name,
             "DeveloperName": f.name.replace("-", "_"), "Type": f.extension,
             "ContentType": f.content_type, "BodyLength": f.size, "IsInternalUseOnly": False,
             "Description": None, "CreatedDate": _sf_time(f.created_ms),
             "SystemModstamp": _sf_time(f.modified_ms)} for f in files.documents()]


def _rows(files: SandboxFiles, obj: str) -> list[dict[str, Any]]:
    if obj in ("Document", "Folder"):
        return _legacy_rows(files, obj)
    rows: list[dict[str, Any]] = []
    for f in files.all():
        if obj == "Attachment" and f.legacy_attachment:
            rows.append({"attributes": {"type": "Attachment"}, "Id": attachment_id(f),
                         "ParentId": _task(f), "Name": f.filename, "BodyLength": f.size,
                         "ContentType": f.content_type, "IsDeleted": False,
                         "CreatedDate": _sf_time(f.created_ms),
                         "SystemModstamp": _sf_time(f.modified_ms)})
        elif obj == "ContentVersion" and not f.legacy_attachment:
            if files.uploads.latest_version(document_id(f)) is not None:
                continue   # a newer version was uploaded (listed below)
            rows.append({"attributes": {"type": "ContentVersion"}, "Id": version_id(f),
                         "ContentDocumentId": document_id(f), "Title": f.name,
                         "PathOnClient": f.filename, "FileExtension": f.extension,
                         "ContentSize": f.size, "Checksum": files.md5(f), "IsLatest": True,
                         "VersionNumber": str(f.version),
                         "CreatedDate": _sf_time(f.created_ms),
                         "SystemModstamp": _sf_time(f.modified_ms)})
        elif obj == "ContentDocumentLink" and not f.legacy_attachment:
            targets = [_task(f), _contact(files, f),
                       *files.uploads.extra_links.get(document_id(f)[:15], [])]
            for k, target in enumerate(t for t in targets if t):
                rows.append({"attributes": {"type": "ContentDocumentLink"},
                             "Id": sf.sf_id("06A", f.index * 2 + k),
                             "ContentDocumentId": document_id(f), "LinkedEntityId": target,
                             "ShareType": "V", "Visibility": "AllUsers"})
    return rows + _uploaded_rows(files, obj)


def _uploaded_rows(files: SandboxFiles, obj: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    kind = "ContentVersion" if obj == "ContentDocumentLink" else obj
    for u in files.uploads.all(kind):
        stamp = _sf_time(u.created_ms)
        if obj == "Attachment":
            rows.append({"attributes": {"type": "Attachment"}, "Id": u.id, "ParentId": u.parent,
                         "Name": u.name, "BodyLength": u.size, "ContentType": u.content_type,
                         "IsDeleted": False, "CreatedDate": stamp, "SystemModstamp": stamp})
        elif obj == "ContentVersion":
            rows.append({"attributes": {"type": "ContentVersion"}, "Id": u.id,
                         "ContentDocumentId": u.document_id, "Title": u.title,
                         "PathOnClient": u.name, "FileExtension": u.extension,
                         "ContentSize": u.size, "Checksum": u.md5(), "IsLatest": True,
                         "VersionNumber": str(u.version), "CreatedDate": stamp,
                         "SystemModstamp": stamp})
        elif obj == "ContentDocumentLink":
            generated = _generated_links(files, u.document_id)
            for k, target in enumerate(t for t in u.links if t not in generated):
                rows.append({"attributes": {"type": "ContentDocumentLink"},
                             "Id": sf.sf_id("06A", 950_000_000 + int(
                                 sf.id_index("068", u.id) or 0) * 10 + k),
                             "ContentDocumentId": u.document_id, "LinkedEntityId": target,
                             "ShareType": "V", "Visibility": "AllUsers"})
    return rows


def _generated_links(files: SandboxFiles, doc: str) -> set[str]:
    """Records a generated document is linked to already (a new version keeps them)."""
    index = sf.id_index("069", doc)
    f = files.get(index) if index is not None else None
    if f is None or f.legacy_attachment:
        return set()
    return {t for t in (_task(f), _contact(files, f)) if t}


def _soql(files: SandboxFiles, obj: str, soql: str) -> Response:
    rows = _rows(files, obj)
    if obj == "ContentDocumentLink" and not _IN.search(soql):
        # Like Salesforce: ContentDocumentLink needs a filter on the document or the record.
        return json_response(400, [{"errorCode": "MALFORMED_QUERY", "message":
                                    "Implementation restriction: ContentDocumentLink requires a "
                                    "filter by a single Id on ContentDocumentId or "
                                    "LinkedEntityId using the equals operator or multiple Id's "
                                    "using the IN operator."}])
    for field, values in _IN.findall(soql):
        wanted = {v.strip().strip("'\"") for v in values.split(",") if v.strip()}
        rows = [r for r in rows if str(r.get(field, "")) in wanted
                or str(r.get(field, ""))[:15] in {w[:15] for w in wanted}]
    return json_response(200, {"totalSize": len(rows), "done": True, "records": rows},
                         content_type="application/json;charset=UTF-8")


def _sf_body(files: SandboxFiles, obj: str, raw_id: str) -> Response:
    up = files.uploads.get(obj, raw_id)
    if up is not None:
        return _stream(files, up, True)
    if obj == "Document":
        seq = sf.id_index("015", raw_id)
        doc = files.get(seq, DOCUMENT) if seq is not None else None
        if doc is None:
            return _not_found("The requested resource does not exist", True)
        return _stream(files, doc, True)
    prefix = "068" if obj == "ContentVersion" else "00P"
    seq = sf.id_index(prefix, raw_id)
    if seq is None:
        return _not_found("The requested resource does not exist", True)
    index = seq // 1000 if obj == "ContentVersion" else seq
    f = files.get(index)
    if f is None or f.legacy_attachment != (obj == "Attachment") or (
            obj == "ContentVersion" and version_id(f)[:15] != raw_id[:15]):
        return _not_found("The requested resource does not exist", True)
    return _stream(files, f, True)

