"""HubSpot files: the Files API v3, linked by engagements' ``hs_attachment_ids`` and by file
properties.

Files are listed with ``GET /files/v3/files/search`` (every file of the portal, paged); links
come from the exported engagements (notes, calls, emails, meetings, tasks), whose
``hs_attachment_ids`` hold ``;``-separated file ids, and from the exported records' properties
whose ``fieldType`` is ``file`` (their values are file ids too; the link names the property).
A linked id the listing lacks is asked for by id; one HubSpot does not have is a
``MissingFile``. Content comes through a signed URL (``/files/v3/files/{id}/signed-url``),
fetched without the API token when it points elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from vaultkeeper.connectors.files_base import (
    FileSource,
    Link,
    MissingFile,
    Records,
    RemoteFile,
)
from vaultkeeper.connectors.http import HttpClient, NotFound
from vaultkeeper.connectors.paginate import CursorPaginator

ENGAGEMENTS = ("notes", "calls", "emails", "meetings", "tasks", "communications", "postal_mail")
KIND = "hubspot-file"


class HubSpotFiles(FileSource):
    """The files of one HubSpot portal."""

    def __init__(self, http: HttpClient,
                 file_properties: Mapping[str, Sequence[str]] | None = None) -> None:
        self._http = http
        self.file_properties = dict(file_properties or {})
        """Object → its properties of ``fieldType`` ``file`` (from the exported schema)."""

    @property
    def http(self) -> HttpClient:
        """The connector's client."""
        return self._http

    def list_files(self, records: Records) -> Iterator[RemoteFile | MissingFile]:
        """Every file of the portal, with the engagements that attach it and the records whose
        file properties name it."""
        links = _attachment_links(records)
        odd: list[MissingFile] = []
        for obj, props in sorted(self.file_properties.items()):
            _property_links(records, obj, props, links, odd)
        yield from odd
        paginator = CursorPaginator()
        while not paginator.finished:
            body = self._http.get_json("/files/v3/files/search",
                                       params={"limit": 100, "after": paginator.current})
            results = body.get("results") or []
            for item in results:
                file_id = str(item.get("id"))
                yield _remote(item, tuple(links.pop(file_id, ())))
            paginator.advance(body, len(results))
        for file_id, linked in sorted(links.items()):
            try:   # hidden or archived files are not listed but may still be read by id
                yield _remote(self._http.get_json(f"/files/v3/files/{file_id}"), tuple(linked))
            except NotFound:
                yield MissingFile(KIND, file_id, tuple(linked),
                                  "HubSpot has no file with this id (deleted?)")

    def content_url(self, remote: RemoteFile) -> str:
        """A freshly signed download URL."""
        body = self._http.get_json(f"/files/v3/files/{remote.id}/signed-url")
        return str(body["url"])


def _remote(item: dict[str, object], links: tuple[Link, ...]) -> RemoteFile:
    name, ext = str(item.get("name") or item.get("id")), str(item.get("extension") or "")
    size = item.get("size")
    return RemoteFile(KIND, str(item.get("id")), f"{name}.{ext}" if ext else name,
                      int(size) if isinstance(size, int | float | str) and str(size).isdigit()
                      else None, str(item.get("updatedAt") or ""), links,
                      extra={"source_path": str(item.get("path") or ""),
                             "type": str(item.get("type") or "")})


def file_properties(schema: object) -> list[str]:
    """The names of the properties of ``fieldType`` ``file`` in a ``/crm/v3/properties`` body."""
    results = schema.get("results") if isinstance(schema, dict) else None
    return [str(p["name"]) for p in results or []
            if isinstance(p, dict) and p.get("fieldType") == "file" and p.get("name")]


def _property_links(records: Records, obj: str, props: Sequence[str],
                    links: dict[str, list[Link]], odd: list[MissingFile]) -> None:
    """Add the links of ``obj``'s file properties; values that are no file id go to ``odd``."""
    for record in records(obj):
        values = record.get("properties")
        if not isinstance(values, dict):
            continue
        for prop in props:
            value = values.get(prop)
            for token in str(value or "").replace(",", ";").split(";"):
                token = token.strip()
                link = Link(obj, str(record["id"]), prop)
                if token.isdigit():
                    links.setdefault(token, []).append(link)
                elif token:   # e.g. a URL left by an old form upload: said, not followed
                    odd.append(MissingFile(KIND, token[:200], (link,),
                                           f"the file property {prop} holds no HubSpot file "
                                           "id (not followed)", fatal=False))


def _attachment_links(records: Records) -> dict[str, list[Link]]:
    """File id → the engagements whose ``hs_attachment_ids`` name it."""
    links: dict[str, list[Link]] = {}
    for obj in ENGAGEMENTS:
        for record in records(obj):
            props = record.get("properties")
            value = props.get("hs_attachment_ids") if isinstance(props, dict) else None
            if not value:
                continue
            for file_id in str(value).replace(",", ";").split(";"):
                if file_id.strip():
                    links.setdefault(file_id.strip(), []).append(Link(obj, str(record["id"])))
    return links
