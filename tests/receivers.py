"""Local alert receivers for tests: a webhook (HTTP on 127.0.0.1) and an SMTP server with
STARTTLS and AUTH (aiosmtpd), each recording what arrived."""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from servers import free_port

from vaultkeeper.crypto import generate_self_signed_cert


@dataclass
class Webhook:
    """What the webhook received; ``status`` is what it answers."""

    url: str
    posts: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    status: int = 200
    arrived: threading.Event = field(default_factory=threading.Event)

    def events(self) -> list[str]:
        return [p["event"] for p in self.posts]


@contextlib.contextmanager
def webhook(path: str = "/hooks/T0KEN-IN-PATH") -> Iterator[Webhook]:
    """A JSON webhook receiver on a free port."""
    port = free_port()
    hook = Webhook(f"http://127.0.0.1:{port}{path}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == path:
                hook.posts.append(json.loads(body))
                hook.headers.append(dict(self.headers))
                hook.arrived.set()
                self.send_response(hook.status)
            else:
                self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    """What the SMTP server received."""

    port: int
    ca_file: Path
    messages: list[Message] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    tls_sessions: int = 0

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if session.ssl is not None:
            self.box.tls_sessions += 1
        self.box.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@contextlib.contextmanager
def smtp_server(tmp: Path, *, user: str, password: str, starttls: bool = True) -> Iterator[Mailbox]:
    """An SMTP server requiring STARTTLS before AUTH (its certificate is self-signed: trust
    ``box.ca_file``)."""
    cert, key = generate_self_signed_cert(tmp / "smtp-cert", ("127.0.0.1", "localhost"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box = Mailbox(free_port(), cert)

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                      data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            login, secret = data.login.decode(), data.password.decode()
            box.logins.append((login, secret))
            ok = login == user and secret == password
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)

    kwargs: dict[str, Any] = {"authenticator": authenticator, "auth_require_tls": True}
    if starttls:
        kwargs |= {"tls_context": context, "require_starttls": True}
    else:
        kwargs |= {"auth_require_tls": False}
    controller = Controller(_Handler(box), hostname="127.0.0.1", port=box.port, **kwargs)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def alerts_section(hook: Webhook | None, box: Mailbox | None, *, password_file: Path | None = None,
                   extra: str = "") -> str:
    """An ``[alerts]`` section pointing at the local receivers."""
    text = "[alerts]\n"
    if hook:
        text += f'webhook_url = "{hook.url}"\n'
    if box:
        text += (f'email_to = ["it@example.org"]\nemail_from = "vk@example.org"\n'
                 f'smtp_host = "127.0.0.1"\nsmtp_port = {box.port}\n'
                 f'smtp_ca_file = "{box.ca_file}"\n')
        if password_file:
            text += f'smtp_user = "vk"\nsmtp_password = {{ file = "{password_file}" }}\n'
    return text + extra
