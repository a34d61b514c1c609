"""Paginators as objects (singer-sdk style): each knows its next token and refuses to loop."""

from __future__ import annotations

import abc
from typing import Any

from vaultkeeper.errors import PaginationError


class Paginator(abc.ABC):
    """Tracks the position in a paged listing; ``advance`` raises on a repeated token."""

    def __init__(self, start: str | None = None, *, max_empty_pages: int = 50) -> None:
        self.current: str | None = start
        self.finished = False
        self.pages = 0
        self._seen: set[str] = set() if start is None else {start}
        self._empty_run = 0
        self.max_empty_pages = max_empty_pages

    @abc.abstractmethod
    def next_token(self, body: Any) -> str | None:
        """The token for the page after ``body``, or None when ``body`` was the last page."""

    def advance(self, body: Any, records_on_page: int) -> None:
        """Move past ``body``; detect cursor loops and endless empty pages."""
        self.pages += 1
        token = self.next_token(body)
        self._empty_run = self._empty_run + 1 if records_on_page == 0 else 0
        if token is None:
            self.finished = True
            return
        if token in self._seen:
            raise PaginationError(
                f"the source returned the cursor {token!r} twice (page {self.pages}); stopping "
                "instead of looping forever",
                "this is a source-side paging bug; retry later and report it to the vendor",
            )
        if self._empty_run > self.max_empty_pages:
            raise PaginationError(
                f"{self._empty_run} empty pages in a row while the source still says there is "
                "more", "retry later; the source is paging without returning records",
            )
        self._seen.add(token)
        self.current = token


class CursorPaginator(Paginator):
    """HubSpot lists: ``paging.next.after``; no ``paging`` on the last page."""

    def next_token(self, body: Any) -> str | None:
        """``body.paging.next.after`` as a string, or None."""
        after = ((body.get("paging") or {}).get("next") or {}).get("after")
        return None if after in (None, "") else str(after)


class NextUrlPaginator(Paginator):
    """Salesforce queries: ``nextRecordsUrl`` until ``done`` is true."""

    def next_token(self, body: Any) -> str | None:
        """The next records URL; ``done: false`` without one is an error, never an end."""
        if body.get("done", True):
            return None
        url = body.get("nextRecordsUrl")
        if not url:
            raise PaginationError(
                "the source said done=false but gave no nextRecordsUrl; the export would be "
                "truncated", "retry later; if it persists, report it to the vendor",
            )
        return str(url)
