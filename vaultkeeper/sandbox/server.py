"""The sandbox HTTPS server: one port, HubSpot under ``/crm…``, Salesforce under ``/services…``."""

from __future__ import annotations

import copy
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from vaultkeeper import crypto, privatefs
from vaultkeeper.sandbox import admin, file_routes
from vaultkeeper.sandbox.data import Dataset
from vaultkeeper.sandbox.faults import Decision, FaultConfig, FaultState
from vaultkeeper.sandbox.file_routes import is_download
from vaultkeeper.sandbox.files import SandboxFiles
from vaultkeeper.sandbox.hs_meta import owners_payload, pipelines_payload
from vaultkeeper.sandbox.hubspot import RATE_MAX, HubSpotApi
from vaultkeeper.sandbox.salesforce import SalesforceApi
from vaultkeeper.sandbox.sf_oauth import ConnectedApp, OAuthServer
from vaultkeeper.sandbox.sf_write import soap_session
from vaultkeeper.sandbox.wire import (
    NGINX_414,
    LoggedRequest,
    Request,
    Response,
    html_response,
    is_write,
)

# Documented and public on purpose: the sandbox serves fake data to anyone on 127.0.0.1.
SANDBOX_TOKEN = "sandbox-token"  # noqa: S105
DEFAULT_MAX_URL_LENGTH = 16300  # HubSpot's front end refuses longer request URLs with 414
_IDLE_TIMEOUT_S = 60


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vaultkeeper-sandbox"
    sys_version = ""
    timeout = _IDLE_TIMEOUT_S
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log = self.server.sandbox.log
        if log is not None:
            log(format % args)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        # Read the whole body before answering, or keep-alive would desynchronise.
        body = self.rfile.read(length) if length > 0 else b""
        response, decision = self.server.sandbox._dispatch(
            self.command, self.path, self.headers, body)
        if decision.drop == "before":
            self.close_connection = True  # no status line, no bytes: the client sees EOF
            return
        if response.stream is not None:
            self._send_stream(response, decision)
            return
        payload = response.body
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers:
            self.send_header(name, value)
        if decision.drop == "mid":
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if self.command != "HEAD":
            # Headers and body in one write: two small writes meet Nagle + delayed ACK (40 ms).
            self._headers_buffer.append(b"\r\n" + payload)  # type: ignore[attr-defined]
            self.flush_headers()
        else:
            self.end_headers()

    def _send_stream(self, response: Response, decision: Decision) -> None:
        """Write a streamed body chunk by chunk (a ``mid`` drop cuts it halfway)."""
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(response.length))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD" or response.stream is None:
            return
        budget = response.length // 2 if decision.drop == "mid" else response.length
        for chunk in response.stream:
            if budget <= 0:
                break
            self.wfile.write(chunk[:budget])
            budget -= len(chunk)
        self.wfile.flush()
        if decision.drop == "mid":
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # we join our own connection threads, with a deadline
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox,
                 context: ssl.SSLContext | None) -> None:
        self.sandbox = sandbox
        self.context = context
        self.conns: set[socket.socket] = set()
        self.threads: set[threading.Thread] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        t = threading.Thread(target=self._connection, args=(request, client_address),
                             name="vaultkeeper-sandbox-conn", daemon=True)
        with self.conn_lock:
            self.threads.add(t)
            self.conns.add(request)
        t.start()

    def _connection(self, request: socket.socket, client_address: Any) -> None:
        sock = request
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.context is not None:
                # The TLS handshake runs here, in the connection's thread, so one slow client
                # cannot stall the accept loop.
                request.settimeout(_IDLE_TIMEOUT_S)
                sock = self.context.wrap_socket(request, server_side=True)
                with self.conn_lock:
                    self.conns.discard(request)
                    self.conns.add(sock)
            self.finish_request(sock, client_address)
        except (OSError, ssl.SSLError, ValueError):
            pass  # the client went away (or we closed it on stop)
        finally:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
            with self.conn_lock:
                self.conns.discard(sock)
                self.conns.discard(request)
                self.threads.discard(threading.current_thread())

    def close_all(self, deadline: float) -> None:
        """Cut every open keep-alive connection and wait for its thread."""
        with self.conn_lock:
            conns, threads = list(self.conns), list(self.threads)
        for conn in conns:
            try:
                # socket.socket.shutdown, not SSLSocket.shutdown: cut TCP from another thread
                # without touching the TLS state the connection thread is using.
                socket.socket.shutdown(conn, socket.SHUT_RDWR)
            except OSError:
                pass
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))


class Sandbox:
    """A local HubSpot- and Salesforce-compatible CRM serving seeded data over HTTPS."""

    def __init__(self, records: int = 5000, seed: int = 7, port: int = 0,
                 host: str = "127.0.0.1", faults: FaultConfig | str | None = None,
                 tls: bool = True, cert_dir: Path | str | None = None,
                 max_url_length: int = DEFAULT_MAX_URL_LENGTH, token: str = SANDBOX_TOKEN,
                 log: Callable[[str], None] | None = None,
                 rate_limit: int = RATE_MAX, enforce_rate_limit: bool = False,
                 connected_app: ConnectedApp | None = None, token_ttl: float | None = None,
                 token_max_requests: int | None = None) -> None:
        if isinstance(faults, str) or faults is None:
            faults = FaultConfig.parse(faults)
        self.records = records
        self.seed = seed
        self.host = host
        self.port = port
        self.faults = faults
        self.tls = tls
        self.cert_dir = Path(cert_dir) if cert_dir is not None else None
        self.max_url_length = max_url_length
        self.token = token
        self.log = log
        self.dataset = Dataset(records, seed)
        self.ca_file: Path | None = None
        self._tmp: Path | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._state = FaultState(faults)
        self._log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self.hubspot = HubSpotApi(self.dataset, faults, rate_limit=rate_limit)
        self.enforce_rate_limit = enforce_rate_limit
        """HubSpot answers 429 TEN_SECONDLY_ROLLING once the rolling window is full (off by
        default: the readers' tests rely on the limit being advertised, not enforced)."""
        self.salesforce = SalesforceApi(self.dataset, faults)
        self.files = SandboxFiles(self.dataset, missing_every=int(
            faults.param("missing_files", "every")) if faults.on("missing_files") else 0)
        """Attachments (sandbox/files.py): ``files.change``/``remove``/``large_size``."""
        if faults.on("upload_limit"):
            self.files.uploads.limit = int(faults.param("upload_limit", "bytes"))
        # Tokens from /services/oauth2/token expire (token_ttl seconds / token_max_requests
        # uses); the static ``token`` never does.
        self.oauth = OAuthServer(connected_app, token_ttl=token_ttl,
                                 token_max_requests=token_max_requests)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Sandbox:
        """Bind the port, start serving in a background thread; returns self."""
        if self._server is not None:
            return self
        context = None
        if self.tls:
            context = self._tls_context()
        self._server = _Server((self.host, self.port), self, context)
        self.port = self._server.server_address[1]
        self.hubspot.base_url = self.salesforce.base_url = self.url
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="vaultkeeper-sandbox", daemon=True)
        self._thread.start()
        return self

    def _tls_context(self) -> ssl.SSLContext:
        names = list(dict.fromkeys(["127.0.0.1", "localhost", self.public_host]))
        if self.cert_dir is not None:
            directory = self.cert_dir
            cert, key = directory / crypto.CERT_FILE, directory / crypto.KEY_FILE
            # Reuse a still-valid certificate so clients that trusted it keep working.
            if not (key.exists() and crypto.certificate_is_usable(cert, names)):
                cert, key = crypto.generate_self_signed_cert(directory, names)
        else:
            # Swept by the next sandbox if this process is killed (kill -9 skips `stop`).
            self._tmp = privatefs.new_private_dir(Path(tempfile.gettempdir()),
                                                  "vaultkeeper-sandbox", shared=True)
            cert, key = crypto.generate_self_signed_cert(self._tmp, names)
        self.ca_file = cert
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        if self._tmp is not None:
            key.unlink()    # held in memory now: no private key on disk for the server's life
        return context

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, cut open connections, free the port, remove the temporary cert."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        deadline = time.monotonic() + timeout
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_all(deadline)
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
            self.ca_file = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- facts -----------------------------------------------------------------------------
    @property
    def public_host(self) -> str:
        """The host clients should use (a wildcard bind address is reached via 127.0.0.1)."""
        return "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host

    @property
    def url(self) -> str:
        """Base URL, e.g. ``https://127.0.0.1:8443`` (no trailing slash)."""
        host = self.public_host
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def expected(self) -> dict[str, dict[str, dict[str, int]]]:
        """Counts a complete export must reproduce (live/archived per object, relations)."""
        return copy.deepcopy(self.dataset.expected())

    def expected_settings(self) -> dict[str, dict[str, int]]:
        """HubSpot owners and pipelines (deals + tickets) a complete export holds."""
        owners = owners_payload()
        archived = sum(1 for o in owners if o["archived"])
        pipelines = sum(len(pipelines_payload(o) or []) for o in ("deals", "tickets"))
        return {"owners": {"live": len(owners) - archived, "archived": archived,
                           "total": len(owners)},
                "pipelines": {"live": pipelines, "archived": 0, "total": pipelines}}

    def announcement(self) -> dict[str, Any]:
        """What ``sandbox serve --json`` prints: where it listens, its key, and its counts."""
        counts = {name: {"live": s.live_count, "archived": s.archived_count, "total": s.count}
                  for name, s in self.dataset.stores.items()}
        return {"url": self.url, "ca_file": str(self.ca_file) if self.ca_file else None,
                "token": self.token, "seed": self.seed, "faults": str(self.faults),
                "hubspot": counts}

    @property
    def request_log(self) -> list[LoggedRequest]:
        """Every request served so far, in arrival order (a copy)."""
        with self._log_lock:
            return list(self._log)

    def write_requests(self) -> list[LoggedRequest]:
        """The logged requests that may have changed data (see ``LoggedRequest.write``)."""
        return [r for r in self.request_log if r.write]

    def clear_log(self) -> None:
        """Forget the request log (e.g. after a test's set-up writes)."""
        with self._log_lock:
            self._log.clear()

    # -- direct changes (tests and demos; not in the request log) --------------------------
    def live_ids(self, obj: str, count: int, with_relations: bool = False,
                 start: int = 0) -> list[str]:
        """Ids of the first ``count`` live records of ``obj`` (HubSpot or Salesforce name),
        optionally only records that have at least one relation."""
        return admin.live_ids(self.dataset, obj, count, with_relations, start)

    def archive(self, obj: str, ids: list[str]) -> int:
        """Archive (HubSpot) / delete (Salesforce) records as an automation would; their
        associations disappear from the API with them. Returns how many changed."""
        return admin.archive(self.dataset, obj, ids)

    def mass_archive(self, obj: str = "contacts", count: int = 300,
                     with_relations: bool = True) -> list[str]:
        """The mass-deletion bad day: archive ``count`` live records that have relations;
        returns their ids."""
        ids = self.live_ids(obj, count, with_relations)
        self.archive(obj, ids)
        return ids

    def overwrite(self, obj: str, values: dict[str, dict[str, Any]]) -> None:
        """The bulk-overwrite bad day: set values behind the API's back (id → {name: value})."""
        admin.overwrite(self.dataset, obj, values)

    def stats(self) -> dict[str, Any]:
        """Counters: requests served, responses by status, faults injected by kind."""
        return self._state.snapshot()

    # -- dispatch --------------------------------------------------------------------------
    def _dispatch(self, method: str, target: str, headers: Any,
                  body: bytes) -> tuple[Response, Decision]:
        split = urlsplit(target)
        path = unquote(split.path)
        query = parse_qs(split.query, keep_blank_values=True)
        salesforce = path.startswith("/services/")
        api: HubSpotApi | SalesforceApi = self.salesforce if salesforce else self.hubspot
        url_ok = len(target) <= self.max_url_length
        auth = headers.get("Authorization") or ""
        scheme, _, given = auth.partition(" ")
        oauth = salesforce and path.startswith("/services/oauth2/")
        open_path = salesforce and path.rstrip("/") in ("/services/data",
                                                        "/services/oauth2/token")
        auth_ok = open_path or (scheme.lower() in ("bearer", "oauth") and (
            given == self.token or self.oauth.valid(given)))
        if salesforce and path.startswith("/services/Soap/") and not auth:
            auth = soap_session(body)  # SOAP calls carry the session in a SessionHeader
            auth_ok = auth == self.token or self.oauth.valid(auth)
        cursor = (SalesforceApi.is_cursor(path) if salesforce
                  else HubSpotApi.is_cursor(method, path, query, body)) or is_download(path)
        write = is_write(method, path)
        decision = self._state.decide(cursor, eligible=url_ok and auth_ok, write=write)
        if not salesforce and not self.hubspot.admit(
                self.enforce_rate_limit and decision.error is None and url_ok and auth_ok,
                count=decision.error != "rate_limit"):
            decision.error, decision.status, decision.retry_after = "rate_limit", 429, 1
            self._state.count("refused.rate_limit")
        req = Request(method, path, query, headers, body, self.url, decision, self._state)
        if not url_ok:
            response = html_response(414, NGINX_414)
            self._state.count("refused.url_too_long")
        elif not auth_ok:
            response = api.unauthorized(req, bool(auth))
            self._state.count("refused.unauthorized")
        elif decision.error is not None:
            response = api.fault_response(req)
        else:
            if decision.slow_ms:
                time.sleep(decision.slow_ms / 1000)
            response = self.oauth.handle(req) if oauth else (
                file_routes.handle(self.files, req) or api.handle(req))
        response.headers.extend(self.salesforce.headers(decision) if salesforce
                                else self.hubspot.rate_headers(decision))
        self._state.count(f"{'salesforce' if salesforce else 'hubspot'}.requests")
        self._state.count(f"status.{response.status}")
        records = 0
        fields: tuple[str, ...] = ()
        if write:
            records, fields = _inputs(body)
            records = records or sum(len(v.split(",")) for v in query.get("ids", ()))
        entry = LoggedRequest(method, path, response.status, len(body), write,
                              tuple(req.touched), records, fields)
        with self._log_lock:
            self._log.append(entry)
        return response, decision


def _inputs(body: bytes) -> tuple[int, tuple[str, ...]]:
    """(number of inputs, property/field names they set) of a write body: HubSpot
    ``inputs[].properties``, Salesforce ``records[]`` fields or a single object."""
    if not body:
        return 0, ()
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 1, ()
    items: list[Any] = [parsed]
    if isinstance(parsed, dict):
        for key in ("inputs", "records"):
            if isinstance(parsed.get(key), list):
                items = parsed[key]
                break
    names: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        inner = item.get("properties")
        props: dict[str, Any] = inner if isinstance(inner, dict) else item
        names.update(k for k in props if k not in ("attributes", "Id", "id", "associations",
                                                    "objectWriteTraceId", "properties"))
    return len(items), tuple(sorted(names))
