"""Paginators stop at the end, refuse loops, and never treat done=false as the end."""

import pytest

from vaultkeeper.connectors.paginate import CursorPaginator, NextUrlPaginator
from vaultkeeper.errors import PaginationError


def test_cursor_paginator_follows_after_until_paging_is_absent():
    p = CursorPaginator()
    p.advance({"results": [1], "paging": {"next": {"after": "100"}}}, 1)
    assert p.current == "100" and not p.finished
    p.advance({"results": [1]}, 1)
    assert p.finished and p.pages == 2


def test_cursor_paginator_detects_a_repeated_cursor():
    p = CursorPaginator()
    p.advance({"paging": {"next": {"after": "5"}}}, 1)
    p.advance({"paging": {"next": {"after": "9"}}}, 1)
    with pytest.raises(PaginationError, match="twice"):
        p.advance({"paging": {"next": {"after": "5"}}}, 1)


def test_cursor_paginator_gives_up_on_endless_empty_pages():
    p = CursorPaginator(max_empty_pages=3)
    with pytest.raises(PaginationError, match="empty pages"):
        for i in range(10):
            p.advance({"results": [], "paging": {"next": {"after": str(i)}}}, 0)


def test_next_url_paginator():
    p = NextUrlPaginator()
    p.advance({"done": False, "nextRecordsUrl": "/q/01g-2000"}, 2000)
    assert p.current == "/q/01g-2000"
    p.advance({"done": True}, 5)
    assert p.finished


def test_done_false_without_next_url_is_an_error_not_the_end():
    with pytest.raises(PaginationError, match="truncated"):
        NextUrlPaginator().advance({"done": False, "records": []}, 0)
