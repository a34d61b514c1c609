"""``vaultkeeper sandbox serve``: run the local HubSpot/Salesforce-compatible CRM sandbox."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from vaultkeeper.errors import UsageError
from vaultkeeper.sandbox import DEFAULT_MAX_URL_LENGTH, FaultConfig, Sandbox
from vaultkeeper.sandbox.faults import HELP as FAULTS_HELP
from vaultkeeper.sandbox.hubspot import RATE_MAX
from vaultkeeper.sandbox.sf_oauth import ConnectedApp

HELP = (
    "Run the local CRM sandbox: HubSpot CRM v3 and Salesforce REST APIs over HTTPS, serving "
    "seeded, deterministic data with optional fault injection. Use it for the demo, for tests, "
    "and to try connectors and the official SDKs without a real CRM."
)


def _echo(text: str = "") -> None:
    typer.echo(text, err=True)


def _print_banner(sb: Sandbox, faults: FaultConfig) -> None:
    url, token = sb.url, sb.token
    ca = str(sb.ca_file) if sb.ca_file else None
    _echo("vaultkeeper sandbox: HubSpot- and Salesforce-compatible CRM with seeded data")
    _echo(f"  URL        {url}")
    if ca:
        _echo(f"  CA file    {ca}  (self-signed; trust it as the CA bundle)")
    else:
        _echo("  TLS        off (--no-tls); simple-salesforce needs TLS, HubSpot clients do not")
    _echo(f"  token      {token}  (send 'Authorization: Bearer {token}'; not a secret)")
    _echo(f"  seed       {sb.seed}    faults: {faults}")
    app = sb.oauth.app
    _echo(f"  OAuth      {url}/services/oauth2/token: client_id {app.client_id}, client_secret "
          f"{app.client_secret}, refresh_token {app.refresh_token}, JWT sub {app.username}"
          f"{'' if app.jwt_public_key else ' (JWT off: --jwt-public-key)'}")
    _echo("  HubSpot objects (live + archived):")
    for name, store in sb.dataset.stores.items():
        if store.count:
            _echo(f"    {name:<10} {store.count:>9,}  ({store.live_count:,} live, "
                  f"{store.archived_count:,} archived)")
    _echo("    tickets, calls, emails, meetings, tasks: valid but empty")
    _echo("  Salesforce: Account = companies, Contact = contacts, Opportunity = deals, "
          "Task = notes (IsDeleted = archived)")
    _echo()
    _echo("Point clients at it:")
    _echo(f"  vaultkeeper   [source] base_url = \"{url}\", token = {{ env = \"CRM_TOKEN\" }}"
          f"{f', CA bundle {ca}' if ca else ''}; export CRM_TOKEN={token}")
    ca_kw = f", ssl_ca_cert=\"{ca}\"" if ca else ""
    _echo(f"  HubSpot SDK   hubspot.Client.create(access_token=\"{token}\", host=\"{url}\", "
          f"base_url=\"{url}\"{ca_kw})")
    if ca:
        _echo(f"  Salesforce    s = requests.Session(); s.verify = \"{ca}\"; s.trust_env = False;"
              f" Salesforce(instance_url=\"{url}\", session_id=\"{token}\", session=s)")
        _echo(f"  curl          curl --cacert {ca} -H 'Authorization: Bearer {token}' "
              f"{url}/crm/v3/objects/contacts")
        _echo("  (REQUESTS_CA_BUNDLE / SSL_CERT_FILE in the environment override a session's "
              "verify= in requests: set them to the CA file or use trust_env = False.)")
    else:
        _echo(f"  curl          curl -H 'Authorization: Bearer {token}' "
              f"{url}/crm/v3/objects/contacts")
    _echo()
    _echo("Press Ctrl-C to stop.")


def serve(
    records: Annotated[int, typer.Option(
        "--records", "-n",
        help="Number of contacts. Companies = records/5 (at least 1), deals = notes = "
             "records/2; about 3 % of each are archived (HubSpot) / deleted (Salesforce).",
    )] = 5000,
    seed: Annotated[int, typer.Option(
        "--seed", help="Seed of the generated data: the same seed always serves the same bytes.",
    )] = 7,
    port: Annotated[int, typer.Option(
        "--port", "-p", help="TCP port; 0 picks a free one.",
    )] = 8443,
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on. Keep 127.0.0.1 unless other machines must "
                       "reach it: the token is public.",
    )] = "127.0.0.1",
    faults: Annotated[str, typer.Option(
        "--faults", "-f", help=f"Fault injection: {FAULTS_HELP} See docs/sandbox.md.",
    )] = "none",
    no_tls: Annotated[bool, typer.Option(
        "--no-tls", help="Serve plain HTTP (simple-salesforce will not work: it forces https).",
    )] = False,
    cert_dir: Annotated[Path | None, typer.Option(
        "--cert-dir", file_okay=False,
        help="Keep cert.pem/key.pem here and reuse them across restarts (default: a private "
             "temporary directory removed on exit).",
    )] = None,
    max_url_length: Annotated[int, typer.Option(
        "--max-url-length",
        help="Longer request URLs get HubSpot's nginx 414 page, as in production.",
    )] = DEFAULT_MAX_URL_LENGTH,
    rate_limit: Annotated[int, typer.Option(
        "--rate-limit",
        help="Requests per 10 s advertised in X-HubSpot-RateLimit-Max (HubSpot Pro: 190). "
             "Advertised only: clients that honour it slow down; only --faults 429 refuses.",
    )] = RATE_MAX,
    token_ttl: Annotated[float | None, typer.Option(
        "--token-ttl", help="Seconds after which access tokens issued by "
                            "/services/oauth2/token expire (401 INVALID_SESSION_ID); default: "
                            "never. The static sandbox token never expires.",
    )] = None,
    jwt_public_key: Annotated[Path | None, typer.Option(
        "--jwt-public-key", dir_okay=False, exists=True,
        help="PEM public key (or certificate's key) the sandbox's connected app trusts for "
             "the Salesforce JWT bearer flow.",
    )] = None,
    log_requests: Annotated[bool, typer.Option(
        "--log-requests", help="Log every request on stderr.",
    )] = False,
    json_out: Annotated[bool, typer.Option(
        "--json", help="When ready, print one JSON line on stdout: url, ca_file, token, counts.",
    )] = False,
) -> None:
    """Serve the sandbox until Ctrl-C or SIGTERM (then exit 0)."""
    # Validated here rather than with typer's min=/max= so a bad value is a usage error (2).
    if records < 0:
        raise UsageError(f"--records must be >= 0, not {records}")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {port}")
    if rate_limit < 1:
        raise UsageError(f"--rate-limit must be >= 1, not {rate_limit}")
    if max_url_length < 256:
        raise UsageError(f"--max-url-length must be >= 256, not {max_url_length}")
    try:
        fault_config = FaultConfig.parse(faults)
    except ValueError as exc:
        raise UsageError(f"--faults: {exc}", fix="see `vaultkeeper sandbox serve --help`") \
            from None
    if token_ttl is not None and token_ttl <= 0:
        raise UsageError(f"--token-ttl must be > 0 seconds, not {token_ttl}")
    app = ConnectedApp(jwt_public_key=jwt_public_key.read_bytes() if jwt_public_key else None)
    sb = Sandbox(records=records, seed=seed, port=port, host=host, faults=fault_config,
                 tls=not no_tls, cert_dir=cert_dir, max_url_length=max_url_length,
                 rate_limit=rate_limit, connected_app=app, token_ttl=token_ttl,
                 log=(lambda line: typer.echo(line, err=True)) if log_requests else None)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Before start: a signal while starting still stops cleanly (the temporary cert folder goes).
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            sb.start()
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                             fix="choose another --port (0 picks a free one) or stop the other "
                                 "process") from None
        _print_banner(sb, fault_config)
        if json_out:
            typer.echo(json.dumps(sb.announcement()))
        while not stop.wait(0.5):
            pass
        _echo("Stopping the sandbox…")
    finally:
        sb.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    stats = sb.stats()
    _echo(f"Served {stats['requests']} requests; faults injected: "
          f"{stats['faults'] or 'none'}.")


def register(app: typer.Typer) -> None:
    """Add the ``sandbox`` command group to the root application."""
    sandbox_app = typer.Typer(name="sandbox", help=HELP, no_args_is_help=True,
                              rich_markup_mode=None)
    sandbox_app.command("serve", help=(
        "Serve the sandbox on one HTTPS port until Ctrl-C or SIGTERM. HubSpot endpoints live "
        "under /crm/…, Salesforce under /services/data/vXX.X/…. Prints the URL, the CA file, "
        "the token and how to point vaultkeeper and the SDKs at it (on stderr)."))(serve)
    app.add_typer(sandbox_app, name="sandbox")
