"""Salesforce files: Salesforce Files (ContentVersion + ContentDocumentLink), legacy Attachment
and legacy Document.

The latest version of every document comes from ``ContentVersion WHERE IsLatest = true``;
which records share it from ``ContentDocumentLink`` (queried by document id, 100 at a time,
as Salesforce requires a filter there); legacy ``Attachment`` rows name their one parent;
legacy ``Document`` rows (the old Documents tab) belong to no record but to a folder
(``FolderId``: a ``Folder``, or a user's personal folder), which is their link, with the
folder's name kept. Content: ``/sobjects/ContentVersion/{id}/VersionData``,
``/sobjects/Attachment/{id}/Body`` and ``/sobjects/Document/{id}/Body``; ContentVersion's
``Checksum`` (MD5) lets the export check what arrived.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

from vaultkeeper.connectors.files_base import (
    FileSource,
    Link,
    MissingFile,
    Records,
    RemoteFile,
)
from vaultkeeper.connectors.http import HttpClient
from vaultkeeper.connectors.paginate import NextUrlPaginator
from vaultkeeper.errors import ConnectorError

_BATCH = 100
_NEXT = NextUrlPaginator()
_LINKS = "ContentDocumentLink WHERE ContentDocumentId"
_PREFIXES = {"001": "Account", "003": "Contact", "006": "Opportunity", "00T": "Task",
             "00U": "Event", "500": "Case", "701": "Campaign", "00Q": "Lead", "005": "User",
             "00l": "Folder", "015": "Document"}


def object_of(record_id: str) -> str:
    """The object a Salesforce id belongs to, from its key prefix (``00T…`` → Task)."""
    return _PREFIXES.get(record_id[:3], record_id[:3])


class SalesforceFiles(FileSource):
    """The files of one Salesforce org."""

    def __init__(self, http: HttpClient, root: str) -> None:
        self._http = http
        self.root = root

    @property
    def http(self) -> HttpClient:
        """The connector's client."""
        return self._http

    def _query(self, soql: str) -> Iterator[dict[str, Any]]:
        url: str | None = f"{self.root}/query/?q={quote_plus(soql)}"
        while url:
            body = self._http.get_json(url)
            yield from body.get("records") or []
            url = _NEXT.next_token(body)   # done=false without a next URL is an error

    def list_files(self, records: Records) -> Iterator[RemoteFile | MissingFile]:
        """Latest ContentVersions with their links, then legacy Attachments and Documents."""
        versions = list(self._query(
            "SELECT Id, ContentDocumentId, Title, PathOnClient, FileExtension, ContentSize, "
            "Checksum, VersionNumber, SystemModstamp FROM ContentVersion WHERE IsLatest = true"))
        for start in range(0, len(versions), _BATCH):
            batch = versions[start:start + _BATCH]
            links: dict[str, list[Link]] = {}
            ids = ",".join(f"'{_sf_id(v['ContentDocumentId'])}'" for v in batch)
            # The ids were checked by _sf_id: letters and digits only.
            soql = f"SELECT ContentDocumentId, LinkedEntityId FROM {_LINKS} IN ({ids})"  # noqa: S608
            for row in self._query(soql):
                target = str(row["LinkedEntityId"])
                links.setdefault(str(row["ContentDocumentId"]), []).append(
                    Link(object_of(target), target))
            for v in batch:
                yield _version(v, tuple(links.get(str(v["ContentDocumentId"]), ())))
        for row in self._query("SELECT Id, ParentId, Name, BodyLength, ContentType, "
                               "SystemModstamp FROM Attachment"):
            parent = str(row.get("ParentId") or "")
            yield RemoteFile("Attachment", str(row["Id"]), str(row.get("Name") or row["Id"]),
                             _int(row.get("BodyLength")), str(row.get("SystemModstamp") or ""),
                             (Link(object_of(parent), parent),) if parent else (),
                             content_type=row.get("ContentType"))
        yield from self._documents()

    def _documents(self) -> Iterator[RemoteFile | MissingFile]:
        """Legacy Documents, each linked to its folder (named from ``Folder``); an org that
        does not offer them (``INVALID_TYPE``) gets one skipped entry saying so."""
        try:
            folders = {str(row["Id"]): str(row.get("Name") or "") for row in self._query(
                "SELECT Id, Name FROM Folder WHERE Type = 'Document'")}
            rows = list(self._query("SELECT Id, FolderId, Name, Type, ContentType, BodyLength, "
                                    "SystemModstamp FROM Document"))
        except ConnectorError as exc:
            if "INVALID_TYPE" not in exc.message:
                raise
            yield MissingFile("Document", "*", (), "this org offers no legacy Documents "
                              f"({exc.message[:120]})", fatal=False)
            return
        for row in rows:
            folder = str(row.get("FolderId") or "")
            name, ext = str(row.get("Name") or row["Id"]), str(row.get("Type") or "")
            named = folders.get(folder) or ("personal folder" if folder.startswith("005")
                                             else "")
            yield RemoteFile("Document", str(row["Id"]), f"{name}.{ext}" if ext else name,
                             _int(row.get("BodyLength")), str(row.get("SystemModstamp") or ""),
                             (Link(object_of(folder), folder),) if folder else (),
                             content_type=row.get("ContentType"),
                             extra={"folder_name": named})

    def content_url(self, remote: RemoteFile) -> str:
        """The body route of the version, attachment or document."""
        field = "VersionData" if remote.kind == "ContentVersion" else "Body"
        return f"{self.root}/sobjects/{remote.kind}/{remote.id}/{field}"


def _version(row: dict[str, Any], links: tuple[Link, ...]) -> RemoteFile:
    title, ext = str(row.get("Title") or row["Id"]), str(row.get("FileExtension") or "")
    name = str(row.get("PathOnClient") or (f"{title}.{ext}" if ext else title))
    checksum = row.get("Checksum")
    return RemoteFile("ContentVersion", str(row["Id"]), name, _int(row.get("ContentSize")),
                      str(row.get("SystemModstamp") or ""), links,
                      checksum=f"md5:{checksum}" if checksum else None,
                      extra={"document_id": str(row.get("ContentDocumentId") or ""),
                             "version": str(row.get("VersionNumber") or "")})


def _sf_id(value: Any) -> str:
    """A Salesforce id as given by Salesforce (15 or 18 letters and digits), or an error."""
    text = str(value)
    if not (len(text) in (15, 18) and text.isalnum() and text.isascii()):
        raise ConnectorError(f"Salesforce returned {text[:40]!r} as a ContentDocumentId")
    return text


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
