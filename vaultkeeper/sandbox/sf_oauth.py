"""Salesforce OAuth 2.0 emulation: ``/services/oauth2/token`` (JWT bearer, client credentials,
refresh token), ``/services/oauth2/userinfo``, and the access tokens it issues (which can expire).

Error bodies are Salesforce's: HTTP 400 with ``{"error": …, "error_description": …}``.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from vaultkeeper import crypto
from vaultkeeper.sandbox.sf_schema import ORG_ID, USER_IDS
from vaultkeeper.sandbox.wire import Request, Response, json_response

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JSON_SF = "application/json;charset=UTF-8"
AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
# Documented and public on purpose, like SANDBOX_TOKEN: the sandbox's connected app.
CLIENT_ID = "3MVG9vaultkeeper.sandbox.consumer.key"
CLIENT_SECRET = "vaultkeeper-sandbox-consumer-secret"  # noqa: S105
REFRESH_TOKEN = "5Aep861vaultkeeper.sandbox.refresh.token"  # noqa: S105
USERNAME = "integration@sandbox.vaultkeeper.example"


@dataclass
class ConnectedApp:
    """The connected app the sandbox org trusts (what an admin sets up in Setup)."""

    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    username: str = USERNAME
    refresh_token: str = REFRESH_TOKEN
    jwt_public_key: bytes | None = None
    """PEM public key of the certificate uploaded for the JWT bearer flow (None: flow off)."""
    client_credentials: bool = True
    """Whether a "run as" user is set for the client credentials flow."""


@dataclass
class _Session:
    issued: float
    uses: int = 0


def _audience_ok(aud: Any, base_url: str) -> bool:
    """Salesforce's login hosts, or this sandbox under any of its names (127.0.0.1, localhost)."""
    if not isinstance(aud, str):
        return False
    if aud.rstrip("/") in AUDIENCES:
        return True
    mine, given = urlsplit(base_url), urlsplit(aud)
    local = ("127.0.0.1", "localhost", mine.hostname)
    return given.scheme == mine.scheme and given.port == mine.port and given.hostname in local


def oauth_error(error: str, description: str, status: int = 400) -> Response:
    """Salesforce's OAuth error body."""
    return json_response(status, {"error": error, "error_description": description},
                         content_type=JSON_SF)


class OAuthServer:
    """Issues and checks access tokens for the sandbox's Salesforce API."""

    def __init__(self, app: ConnectedApp | None = None, *, token_ttl: float | None = None,
                 token_max_requests: int | None = None) -> None:
        self.app = app or ConnectedApp()
        self.token_ttl = token_ttl
        self.token_max_requests = token_max_requests
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self.issued = 0
        self.expired = 0

    # -- tokens ----------------------------------------------------------------------------
    def valid(self, token: str) -> bool:
        """True for a live issued token (counts one use); expired tokens are forgotten."""
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return False
            session.uses += 1
            too_old = self.token_ttl is not None and \
                time.monotonic() - session.issued > self.token_ttl
            too_used = self.token_max_requests is not None and \
                session.uses > self.token_max_requests
            if too_old or too_used:
                del self._sessions[token]
                self.expired += 1
                return False
            return True

    def _issue(self, req: Request, *, refresh: bool) -> Response:
        token = f"{ORG_ID[:15]}!AQ{secrets.token_urlsafe(48)}"
        with self._lock:
            self._sessions[token] = _Session(time.monotonic())
            self.issued += 1
        issued_at = str(int(time.time() * 1000))
        body: dict[str, Any] = {
            "access_token": token,
            "signature": secrets.token_urlsafe(32),
            "scope": "api refresh_token" if refresh else "api",
            "instance_url": req.base_url,
            "id": f"{req.base_url}/id/{ORG_ID}/{USER_IDS[0]}",
            "token_type": "Bearer", "issued_at": issued_at}
        return json_response(200, body, content_type=JSON_SF)

    # -- endpoints -------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        """``/services/oauth2/token`` and ``/services/oauth2/userinfo``."""
        path = req.path.rstrip("/")
        if path == "/services/oauth2/token":
            if req.method != "POST":
                return oauth_error("invalid_request", "must use HTTP POST", 400)
            return self._token(req)
        if path == "/services/oauth2/userinfo":
            return json_response(200, {
                "sub": f"{req.base_url}/id/{ORG_ID}/{USER_IDS[0]}", "user_id": USER_IDS[0],
                "organization_id": ORG_ID, "preferred_username": self.app.username,
                "name": "Integration User", "email": self.app.username,
                "user_type": "STANDARD", "active": True}, content_type=JSON_SF)
        return oauth_error("not_found", "unknown OAuth endpoint", 404)

    def _token(self, req: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8", "replace")).items()}
        for key, values in req.query.items():   # parameters in the URL work too
            form.setdefault(key, values[0])
        grant = form.get("grant_type", "")
        if grant == JWT_GRANT:
            return self._jwt(req, form.get("assertion", ""))
        if grant == "client_credentials":
            return self._client_credentials(req, form)
        if grant == "refresh_token":
            return self._refresh(req, form)
        return oauth_error("unsupported_grant_type", "grant type not supported")

    def _jwt(self, req: Request, assertion: str) -> Response:
        if not assertion:
            return oauth_error("invalid_request", "assertion is required")
        key = self.app.jwt_public_key
        claims = crypto.verify_jwt_rs256(key, assertion) if key else None
        if claims is None:
            return oauth_error("invalid_grant", "invalid assertion")
        if claims.get("iss") != self.app.client_id:
            return oauth_error("invalid_client_id", "client identifier invalid")
        if not _audience_ok(claims.get("aud"), req.base_url):
            return oauth_error("invalid_grant", "audience is invalid")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp < time.time():
            return oauth_error("invalid_grant", "invalid assertion")
        if claims.get("sub") != self.app.username:
            return oauth_error("invalid_grant", "user hasn't approved this consumer")
        return self._issue(req, refresh=False)

    def _client(self, req: Request, form: dict[str, str]) -> tuple[str, str | None]:
        auth = req.header("Authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
                return cid, secret
            except ValueError:
                return "", None
        return form.get("client_id", ""), form.get("client_secret")

    def _client_credentials(self, req: Request, form: dict[str, str]) -> Response:
        cid, secret = self._client(req, form)
        if cid != self.app.client_id:
            return oauth_error("invalid_client_id", "client identifier invalid")
        if secret != self.app.client_secret:
            return oauth_error("invalid_client", "invalid client credentials")
        if not self.app.client_credentials:
            return oauth_error("invalid_grant", "no client credentials user enabled")
        return self._issue(req, refresh=False)

    def _refresh(self, req: Request, form: dict[str, str]) -> Response:
        cid, secret = self._client(req, form)
        if cid != self.app.client_id:
            return oauth_error("invalid_client_id", "client identifier invalid")
        if secret is not None and secret != self.app.client_secret:
            return oauth_error("invalid_client", "invalid client credentials")
        if form.get("refresh_token") != self.app.refresh_token:
            return oauth_error("invalid_grant", "expired access/refresh token")
        return self._issue(req, refresh=True)
