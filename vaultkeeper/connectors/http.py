"""HTTP for connectors: one keep-alive client, bounded retries with backoff, rate-limit headers.

Errors are grouped by what the caller does (as in singer-sdk): ``RetryableError`` is retried here
with backoff; anything else (``AuthError``, ``ConnectorError``) aborts the export at once.
"""

from __future__ import annotations

import contextlib
import json
import random
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import KW_ONLY, InitVar, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from vaultkeeper.errors import AuthError, ConnectorError, RetryableError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class UrlTooLong(ConnectorError):
    """HTTP 414: the request URL (usually the property list) is longer than the source accepts."""


class NotFound(ConnectorError):
    """HTTP 404 from the source."""


class SessionExpired(AuthError):
    """The access token expired (Salesforce 401 INVALID_SESSION_ID); signing in again helps."""


@dataclass
class RetryStats:
    """What the retry layer absorbed during a run (reported in the manifest)."""

    requests: int = 0
    retries: int = 0
    by_cause: dict[str, int] = field(default_factory=dict)
    waited_s: float = 0.0
    elapsed_s: float = 0.0
    """Time spent waiting for responses (the vendor's latency), retries included."""
    deprecations: dict[str, str] = field(default_factory=dict)
    """Request path → the Deprecation/Sunset header the vendor sent with it."""

    def saw(self, response: httpx.Response) -> None:
        """Note a response's latency and any deprecation notice on it."""
        with contextlib.suppress(RuntimeError):   # .elapsed exists once the body was read
            self.elapsed_s += response.elapsed.total_seconds()
        notice = [f"{h}: {response.headers[h]}" for h in ("Deprecation", "Sunset")
                  if h in response.headers]
        if notice and len(self.deprecations) < 100:
            self.deprecations.setdefault(response.request.url.path, "; ".join(notice))

    def note(self, cause: str, wait: float) -> None:
        """Count one retry and the time waited before it."""
        self.retries += 1
        self.by_cause[cause] = self.by_cause.get(cause, 0) + 1
        self.waited_s += wait


Validator = Callable[[httpx.Response], None]


def json_body(response: httpx.Response) -> Any:
    """The response's JSON body, or None when it is not JSON (error pages, empty bodies)."""
    try:
        return response.json()
    except ValueError:
        return None


def default_validate(response: httpx.Response) -> None:
    """Map a response status to our error classes (vendor modules refine the messages)."""
    status = response.status_code
    if status < 400:
        return
    snippet = response.text[:300].strip()
    if status in RETRY_STATUSES:
        raise RetryableError(f"HTTP {status}", retry_after=parse_retry_after(response))
    if status in (401, 403):
        raise AuthError(f"the source refused the request (HTTP {status}): {snippet}",
                        "check the token/credentials and the scopes granted to them")
    if status == 404:
        raise NotFound(f"HTTP 404 for {response.request.url.path}: {snippet}")
    if status == 414:
        raise UrlTooLong(f"HTTP 414 Request-URI Too Large ({len(str(response.request.url))} chars)",
                         "lower source.max_url_length")
    raise ConnectorError(f"HTTP {status} for {response.request.url.path}: {snippet}")


def parse_retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds form only), or None."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


@dataclass(eq=False)
class HttpClient:
    """A keep-alive HTTP client for one source with bounded retries.

    Backoff is "full jitter" exponential (base × 2**attempt, capped), unless the server says how
    long to wait (``Retry-After``). Transport failures (refused, reset, dropped mid-body) are
    retried like 5xx: a connection the server dropped tells us nothing about the data.
    """

    base_url: str
    _: KW_ONLY
    headers: InitVar[Mapping[str, str] | None] = None
    ca_file: InitVar[Path | None] = None
    timeout: InitVar[float] = 60.0
    max_retries: int = 8
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    validate: Validator = default_validate
    sleep: Callable[[float], None] = time.sleep
    on_response: Callable[[httpx.Response], None] | None = None
    reauth: Callable[[], Mapping[str, str]] | None = None
    """Signs in again and returns fresh headers when a request meets ``SessionExpired``."""
    before_request: Callable[[], None] | None = None
    """Called before every attempt (a writer's rate pacer blocks here)."""
    stats: RetryStats = field(init=False, default_factory=RetryStats)

    def __post_init__(self, headers: Mapping[str, str] | None, ca_file: Path | None,
                      timeout: float) -> None:
        verify: ssl.SSLContext | bool = True
        if ca_file is not None:
            # An explicit CA replaces the environment's bundle: REQUESTS_CA_BUNDLE/SSL_CERT_FILE
            # must not silently win over what the configuration says.
            verify = ssl.create_default_context(cafile=str(ca_file))
        self.base_url = self.base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=dict(headers or {}),
            verify=verify,
            timeout=timeout,
            trust_env=ca_file is None,
            follow_redirects=False,
        )

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based) with no server hint."""
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** attempt))

    def request(self, method: str, url: str, *, params: Any = None, json: Any = None,
                headers: Mapping[str, str] | None = None,
                data: Mapping[str, str] | None = None,
                content: bytes | None = None,
                body: Callable[[], Mapping[str, Any]] | None = None) -> httpx.Response:
        """Send one request, retrying transient failures; return a validated 2xx response
        (or whatever non-error status the validator lets through).

        An expired session (``SessionExpired``) is renewed once per request through ``reauth``
        and the request sent again; a second refusal is final. ``body`` makes a streamed body
        afresh for every attempt: httpx ``files``/``content``/``headers`` and ``close`` (file
        objects closed after the attempt).
        """
        attempt = 0
        renewed = False
        while True:
            self.stats.requests += 1
            if self.before_request is not None:
                self.before_request()
            fresh = body() if body is not None else {}
            try:
                try:
                    response = self._client.request(
                        method, url, params=params, json=json,
                        headers={**(headers or {}), **fresh.get("headers", {})} or None,
                        data=data, content=fresh.get("content", content),
                        files=fresh.get("files"))
                finally:
                    for handle in fresh.get("close", ()):
                        handle.close()
                self.stats.saw(response)
                if self.on_response is not None:
                    self.on_response(response)
                self.validate(response)
                return response
            except SessionExpired:
                if self.reauth is None or renewed:
                    raise
                renewed = True
                self._client.headers.update(self.reauth())
                self.stats.note("session expired (signed in again)", 0.0)
                continue
            except RetryableError as exc:
                cause, hint, error = exc.message, exc.retry_after, exc
            except httpx.TransportError as exc:
                cause, hint = type(exc).__name__, None
                error = RetryableError(f"{cause}: {exc}")
            attempt += 1
            if attempt > self.max_retries:
                raise ConnectorError(
                    f"gave up on {method} {httpx.URL(url).path} after {self.max_retries} retries "
                    f"(last: {error.message})",
                    "the source is failing or throttling; try again later or raise "
                    "source.max_retries",
                )
            wait = hint if hint is not None else self.backoff(attempt)
            self.stats.note(cause.split(":")[0], wait)
            self.sleep(wait)

    def get_json(self, url: str, *, params: Any = None,
                 headers: Mapping[str, str] | None = None) -> Any:
        """GET and parse JSON (a body that is not JSON is retried like a dropped page)."""
        return self._json(lambda: self.request("GET", url, params=params, headers=headers))

    def post_json(self, url: str, body: Any) -> Any:
        """POST a JSON body and parse the JSON answer."""
        return self._json(lambda: self.request("POST", url, json=body))

    def _json(self, send: Callable[[], httpx.Response]) -> Any:
        for attempt in range(1, self.max_retries + 2):
            response = send()
            try:
                return orjson.loads(response.content)
            except orjson.JSONDecodeError:
                lenient = _lenient_json(response.content)
                if lenient is not None:
                    # Well-formed JSON carrying bytes that are not UTF-8: the strings hold
                    # them as surrogates and the export quarantines those records raw.
                    return lenient
                # A page cut short by a proxy: the records are still at the source, so ask again.
                if attempt > self.max_retries:
                    raise ConnectorError(
                        f"the source kept returning bodies that are not JSON for "
                        f"{response.request.url.path}",
                        "check the base URL points at the vendor's API",
                    ) from None
                wait = self.backoff(attempt)
                self.stats.note("invalid JSON body", wait)
                self.sleep(wait)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def stream(self, url: str) -> Iterator[httpx.Response]:
        """GET ``url`` with its body left unread (files), validated; one attempt: the caller
        retries (connectors/files_base.py). A URL on another host (a signed CDN link) is sent
        without this client's headers, so the API token never leaves for a foreign host."""
        self.stats.requests += 1
        if self.before_request is not None:
            self.before_request()
        request = self._client.build_request("GET", url)
        if request.url.host != httpx.URL(self.base_url).host:
            for name in list(self._client.headers):
                request.headers.pop(name, None)
        response = self._client.send(request, stream=True)
        try:
            if self.on_response is not None:
                self.on_response(response)
            if response.status_code >= 400:
                response.read()
            self.validate(response)
            yield response
        finally:
            response.close()

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()


def _lenient_json(content: bytes) -> Any:
    """Parse a body that is JSON but not valid UTF-8 (bad bytes become lone surrogates);
    None when it is not JSON at all (a cut page: retried)."""
    try:
        content.decode("utf-8")
        return None   # valid UTF-8, so the body really is broken JSON
    except UnicodeDecodeError:
        pass
    try:
        return json.loads(content.decode("utf-8", "surrogateescape"))
    except ValueError:
        return None
