"""Request/response values passed between the HTTP server and the vendor emulations."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from vaultkeeper.sandbox.data import mix64
from vaultkeeper.sandbox.faults import Decision, FaultState

JSON = "application/json;charset=utf-8"


class ApiError(Exception):
    """Raised by a handler to answer with an error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class Request:
    """One parsed HTTP request plus its fault decision."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    base_url: str
    decision: Decision
    faults: FaultState
    touched: list[str] = field(default_factory=list)
    """Record ids a write handler touched (for the request log)."""

    @property
    def k(self) -> int:
        """The request number (1-based, in arrival order)."""
        return self.decision.k

    def q1(self, name: str) -> str | None:
        """First value of a query parameter, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    def qlist(self, name: str) -> list[str]:
        """A list parameter sent repeated (``a=1&a=2``) or comma-joined (``a=1,2``), or both."""
        out: list[str] = []
        for value in self.query.get(name, ()):
            out.extend(v.strip() for v in value.split(",") if v.strip())
        return out

    def header(self, name: str) -> str | None:
        """A request header (case-insensitive)."""
        return self.headers.get(name)

    def correlation_id(self) -> str:
        """A UUID that is unique per request and still deterministic."""
        return str(uuid.UUID(int=(mix64(self.k) << 64 | mix64(self.k ^ 0xC0FFEE)), version=4))


READ_POSTS = ("/search", "/batch/read", "/jobs/query")


def is_write(method: str, path: str) -> bool:
    """True for requests that may change data (POSTs other than search / batch read)."""
    if method in ("PUT", "PATCH", "DELETE"):
        return True
    return method == "POST" and not path.rstrip("/").endswith(READ_POSTS)


@dataclass(frozen=True)
class LoggedRequest:
    """One entry of ``Sandbox.request_log``: enough to prove what was (not) written."""

    method: str
    path: str
    status: int
    body_bytes: int
    write: bool
    """True when the request may change data (see ``is_write``)."""
    ids: tuple[str, ...] = ()
    """Record ids the request wrote (created, updated, archived, linked), in input order."""
    records: int = 0
    """Number of inputs in the body (batch size) for write requests."""
    fields: tuple[str, ...] = ()
    """Property (HubSpot) or field (Salesforce) names the write request set, sorted."""


@dataclass
class Response:
    """What the server writes back."""

    status: int
    body: bytes
    content_type: str = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)
    stream: Iterator[bytes] | None = None
    """Chunks written instead of ``body`` (file content: never whole in memory)."""
    length: int = 0
    """The Content-Length of ``stream``."""


def json_response(status: int, payload: Any, headers: list[tuple[str, str]] | None = None,
                  content_type: str = JSON) -> Response:
    """Encode ``payload`` with orjson (non-ASCII kept as UTF-8, like the vendors do)."""
    return Response(status, orjson.dumps(payload), content_type, headers or [])


NGINX_414 = (
    b"<html>\r\n<head><title>414 Request-URI Too Large</title></head>\r\n<body>\r\n"
    b"<center><h1>414 Request-URI Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def html_response(status: int, body: bytes) -> Response:
    """An HTML error page as a front proxy would send it."""
    return Response(status, body, "text/html")
