"""The retry layer against a real HTTP server on 127.0.0.1 that answers from a script."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vaultkeeper.connectors.http import HttpClient
from vaultkeeper.errors import AuthError, ConnectorError


class Scripted(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script):
        self.script = list(script)
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        server: Scripted = self.server  # type: ignore[assignment]
        server.seen.append(self.path)
        step = server.script.pop(0) if server.script else (200, {}, {"ok": True})
        if step == "drop":
            self.close_connection = True
            self.connection.close()
            return
        status, headers, body = step
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def serve():
    servers = []

    def start(script):
        srv = Scripted(script)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv, f"http://127.0.0.1:{srv.server_address[1]}"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def client(url, waits, **kw):
    return HttpClient(url, max_retries=kw.pop("max_retries", 5), sleep=waits.append,
                      backoff_base=0.01, **kw)


def test_retries_429_5xx_drops_and_bad_json_then_succeeds(serve):
    srv, url = serve([
        (429, {"Retry-After": "2"}, {"status": "error"}),
        (503, {}, {"message": "busy"}),
        "drop",
        (200, {}, b"<html>cut"),
        (200, {}, {"page": 1}),
    ])
    waits: list[float] = []
    c = client(url, waits)
    assert c.get_json("/x") == {"page": 1}
    assert waits[0] == 2.0  # Retry-After honoured exactly
    assert c.stats.retries == 4 and len(srv.seen) == 5
    assert set(c.stats.by_cause) >= {"HTTP 429", "HTTP 503", "invalid JSON body"}


def test_gives_up_after_a_bounded_number_of_tries(serve):
    srv, url = serve([(500, {}, {})] * 10)
    waits: list[float] = []
    with pytest.raises(ConnectorError, match="after 3 retries"):
        client(url, waits, max_retries=3).get_json("/x")
    assert len(srv.seen) == 4 and len(waits) == 3


def test_auth_failure_is_not_retried(serve):
    srv, url = serve([(401, {}, {"message": "bad token"})])
    with pytest.raises(AuthError) as info:
        client(url, []).get_json("/x")
    assert len(srv.seen) == 1
    assert info.value.fix


def test_backoff_is_bounded_and_grows():
    c = HttpClient("http://127.0.0.1:9", backoff_base=1.0, backoff_cap=5.0)
    assert all(0 <= c.backoff(a) <= min(5.0, 2 ** a) for a in range(1, 12) for _ in range(20))
    c.close()
