"""Salesforce sign-in for unattended runs: OAuth 2.0 JWT bearer, client credentials and refresh
token flows against ``{login_url}/services/oauth2/token``.

The answer names the org's instance URL, which the connector then uses for every API call. The
connector signs in again whenever the API answers 401 ``INVALID_SESSION_ID``. Secrets are passed
as callables so they are read only when a sign-in needs them and are never stored here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from vaultkeeper import crypto
from vaultkeeper.connectors.http import HttpClient, default_validate
from vaultkeeper.errors import AuthError, ConfigError, ConnectorError

if TYPE_CHECKING:
    from vaultkeeper.config import Secret, SourceSettings

FLOWS = ("token", "jwt", "client_credentials", "refresh_token")
"""``[source] auth`` values: a static access token, or one of the three sign-in flows."""
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_URL = "https://login.salesforce.com"
JWT_LIFETIME_S = 180   # Salesforce accepts at most 3 minutes of validity for an assertion

SecretText = Callable[[], str]

_FIXES: dict[tuple[str, str], str] = {
    ("invalid_grant", "invalid assertion"):
        "upload the certificate matching [source] private_key to the connected app "
        "(App Manager → Edit → Use digital signatures) and check this machine's clock",
    ("invalid_grant", "audience is invalid"):
        "set [source] login_url to https://login.salesforce.com (production) or "
        "https://test.salesforce.com (sandbox orgs)",
    ("invalid_grant", "user hasn't approved this consumer"):
        "check [source] username, and pre-authorize it: connected app → Manage → Edit Policies → "
        "'Admin approved users are pre-authorized', then add the user's profile or permission set",
    ("invalid_grant", "expired access/refresh token"):
        "authorize the connected app again and store the new refresh token where "
        "[source] refresh_token points",
    ("invalid_grant", "no client credentials user enabled"):
        "set a 'Run As' user under the connected app's Client Credentials Flow settings",
    ("invalid_client_id", "client identifier invalid"):
        "set [source] client_id to the connected app's consumer key",
    ("invalid_client", "invalid client credentials"):
        "store the connected app's consumer secret where [source] client_secret points",
    ("unsupported_grant_type", "grant type not supported"):
        "point [source] login_url at the Salesforce login host (or your My Domain URL)",
}


@dataclass(frozen=True)
class Session:
    """What a successful sign-in returns."""

    access_token: str
    instance_url: str
    identity_url: str = ""
    issued_at: float = 0.0


def default_audience(login_url: str) -> str:
    """The JWT ``aud``: login/test.salesforce.com for Salesforce hosts, else the login URL."""
    host = (urlsplit(login_url).hostname or "").lower()
    if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
        return "https://test.salesforce.com"
    if host == "salesforce.com" or host.endswith(".salesforce.com"):
        return LOGIN_URL
    return login_url.rstrip("/")


def _token_validate(response: httpx.Response) -> None:
    if response.status_code in (400, 401):
        return   # an OAuth error body; SalesforceSignIn turns it into AuthError with the fix
    default_validate(response)


class SalesforceSignIn:
    """Signs in with one of the OAuth flows and returns a :class:`Session`."""

    def __init__(self, flow: str, *, login_url: str = LOGIN_URL, client_id: str | None = None,
                 username: str | None = None, private_key: SecretText | None = None,
                 client_secret: SecretText | None = None,
                 refresh_token: SecretText | None = None, audience: str | None = None,
                 ca_file: Path | None = None, timeout: float = 60.0,
                 max_retries: int = 4) -> None:
        if flow not in FLOWS[1:]:
            raise ConfigError(f"unknown sign-in flow {flow!r}",
                              "use auth = jwt, client_credentials or refresh_token",
                              key="[source] auth")
        needed = {"jwt": ("client_id", "username", "private_key"),
                  "client_credentials": ("client_id", "client_secret"),
                  "refresh_token": ("client_id", "refresh_token")}[flow]
        given = {"client_id": client_id, "username": username, "private_key": private_key,
                 "client_secret": client_secret, "refresh_token": refresh_token}
        missing = [k for k in needed if not given[k]]
        if missing:
            raise ConfigError(f"auth = {flow} needs {', '.join(missing)}",
                              f"add {', '.join(missing)} to [source] (secrets by reference)",
                              key=f"[source] {missing[0]}")
        self.flow = flow
        self.login_url = login_url.rstrip("/")
        self.client_id = client_id or ""
        self.username = username or ""
        self.private_key = private_key
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.audience = audience or default_audience(self.login_url)
        self.ca_file = ca_file
        self.timeout = timeout
        self.max_retries = max_retries
        self.sign_ins = 0

    def _form(self) -> dict[str, str]:
        if self.flow == "jwt":
            assert self.private_key is not None
            pem = self.private_key()
            if "\\n" in pem and "\n" not in pem:   # a PEM squeezed into one env var line
                pem = pem.replace("\\n", "\n")
            claims = {"iss": self.client_id, "sub": self.username, "aud": self.audience,
                      "exp": int(time.time()) + JWT_LIFETIME_S}
            try:
                assertion = crypto.sign_jwt_rs256(pem, claims)
            except ValueError as exc:
                raise ConfigError(f"cannot sign the JWT: {exc}",
                                  "point private_key at the unencrypted RSA key (PEM) whose "
                                  "certificate is uploaded to the connected app",
                                  key="[source] private_key") from None
            return {"grant_type": JWT_GRANT, "assertion": assertion}
        form = {"grant_type": self.flow, "client_id": self.client_id}
        if self.client_secret is not None:
            form["client_secret"] = self.client_secret()
        if self.flow == "refresh_token":
            assert self.refresh_token is not None
            form["refresh_token"] = self.refresh_token()
        return form

    def sign_in(self) -> Session:
        """Ask the token endpoint for an access token; raise AuthError (exit 6) with the fix."""
        http = HttpClient(self.login_url, ca_file=self.ca_file, timeout=self.timeout,
                          max_retries=self.max_retries, validate=_token_validate)
        try:
            response = http.request("POST", "/services/oauth2/token", data=self._form(),
                                    headers={"Accept": "application/json"})
        finally:
            http.close()
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ConnectorError(f"the Salesforce token endpoint at {self.login_url} answered "
                                 f"HTTP {response.status_code} without a JSON body",
                                 "check [source] login_url")
        if response.status_code != 200 or "access_token" not in body:
            error = str(body.get("error", f"HTTP {response.status_code}"))
            description = str(body.get("error_description", ""))
            fix = _FIXES.get((error, description), "check the connected app and the [source] "
                             "sign-in settings")
            raise AuthError(f"Salesforce sign-in ({self.flow}) refused: {error}: "
                            f"{description}", fix)
        instance = str(body.get("instance_url") or "")
        if not instance.startswith(("https://", "http://")):
            raise ConnectorError("the Salesforce token answer has no instance_url",
                                 "check [source] login_url points at Salesforce")
        self.sign_ins += 1
        return Session(str(body["access_token"]), instance.rstrip("/"),
                       str(body.get("id", "")), time.time())


def sign_in_from(source: SourceSettings, ca_file: Path | None = None,
                 login_url: str | None = None) -> SalesforceSignIn:
    """The OAuth sign-in ``[source] auth`` asks for (secrets stay references until used)."""
    def ref(secret: Secret | None) -> SecretText | None:
        return secret.reveal if secret is not None else None

    return SalesforceSignIn(
        source.auth, login_url=login_url or source.login_url or LOGIN_URL,
        client_id=source.client_id, username=source.username,
        private_key=ref(source.private_key), client_secret=ref(source.client_secret),
        refresh_token=ref(source.refresh_token), ca_file=ca_file, timeout=source.timeout)
