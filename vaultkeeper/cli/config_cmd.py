"""``vaultkeeper init [--demo]`` and ``vaultkeeper config check|show``."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import fields
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from vaultkeeper import registry
from vaultkeeper.canonical import MAPPINGS_DIR, default_mapping_texts
from vaultkeeper.cli import state
from vaultkeeper.cli.render import print_json
from vaultkeeper.config import (
    CONFIG_NAME,
    Secret,
    Settings,
    SourceSettings,
    find_config_file,
    load_settings,
)
from vaultkeeper.errors import ConfigError, ExitCode, VaultkeeperError
from vaultkeeper.filelimits import FileLimits
from vaultkeeper.policies import (
    BUILT_IN,
    POLICY_NAMES,
    Policies,
    cross_check,
    default_policy_texts,
    load_policies,
)
from vaultkeeper.privatefs import write_private
from vaultkeeper.services.locations import check_locations, has_problems
from vaultkeeper.services.source_check import check_source, describe_access
from vaultkeeper.tomlcheck import redact_url

DEMO_OBJECTS = ("contacts", "companies", "deals", "notes", "tickets", "calls", "emails",
                "meetings", "tasks")

config_app = typer.Typer(help="Validate and show the configuration.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


# ------------------------------------------------------------------------------------ init
def init(
    demo: Annotated[bool, typer.Option(
        "--demo", help="Wire the built-in CRM sandbox and two local demo locations, with a "
                       "generated repository key: works without any account.")] = False,
    directory: Annotated[Path | None, typer.Option(
        "--dir", help="Where to write vaultkeeper.toml and policies/ (default: here).",
        file_okay=False)] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite an existing vaultkeeper.toml and policies/*.toml "
                        "(an existing demo key is kept).")] = False,
) -> None:
    """Write a starter vaultkeeper.toml and policies/.

    The configuration is commented section by section and holds secret references only;
    the default policies (retention, processes, risk, mappings) are copied into policies/.
    Existing files are never overwritten without --force.
    """
    target = (directory or Path.cwd()).expanduser().absolute()
    config = target / CONFIG_NAME
    policy_files = {name: target / "policies" / f"{name}.toml" for name in POLICY_NAMES}
    existing = [p for p in (config, *policy_files.values()) if p.exists()]
    if existing and not force:
        more = f" (and {len(existing) - 1} more file(s) init writes)" if len(existing) > 1 else ""
        raise ConfigError(f"already exists{more}; init does not overwrite",
                          "pass --force to replace it, or choose another --dir",
                          file=str(existing[0]))
    (target / "policies").mkdir(parents=True, exist_ok=True)
    for name, text in default_policy_texts().items():
        policy_files[name].write_text(text, encoding="utf-8")
    mappings = target / "policies" / MAPPINGS_DIR   # canonical model of the emergency package
    mappings.mkdir(exist_ok=True)
    for name, text in default_mapping_texts().items():
        (mappings / f"{name}.toml").write_text(text, encoding="utf-8")
    written = [str(p) for p in (config, *policy_files.values())]
    if demo:
        key, created = _demo_key(target / "secrets" / "repository.key")
        config.write_text(_demo_config(target, key), encoding="utf-8")
        note = "generated, mode 0600" if created else "kept: it may already encrypt demo data"
        written.append(f"{key} ({note})")
    else:
        config.write_text(STARTER, encoding="utf-8")
    typer.echo("Wrote:\n" + "\n".join(f"  {p}" for p in written))
    here = target == Path.cwd().absolute()
    steps = [] if here else [f"cd {target}"]
    if demo:
        # Only commands that exist today; later issues add locations init, backup and drill.
        steps += ["vaultkeeper config check", "vaultkeeper export --out export"]
    else:
        steps += [f"edit {CONFIG_NAME}: [source], [repository] and [[locations]] (every "
                  "secret is a reference: { env = … }, { file = … } or { command = … })",
                  "edit policies/processes.toml: your business processes and their targets",
                  "vaultkeeper config check", "vaultkeeper export --out DIR"]
    typer.echo("Next steps:\n" + "\n".join(f"  {i}. {s}" for i, s in enumerate(steps, 1)))


def _demo_key(path: Path) -> tuple[Path, bool]:
    """Create a random repository key (0600 in a 0700 dir) unless one exists."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)   # mkdir's mode is filtered by the umask
    try:
        write_private(path, secrets.token_urlsafe(32) + "\n", exclusive=True)
    except FileExistsError:
        # Never replace a key: demo repositories encrypted with it would become unreadable.
        path.chmod(0o600)
        return path, False
    return path, True


DEMO_S3_PORT = 18455


def _demo_config(target: Path, key: Path) -> str:
    """The demo vaultkeeper.toml; paths are absolute so any working directory works."""
    def q(value: object) -> str:   # a TOML basic string (JSON escapes are valid TOML)
        return json.dumps(str(value), ensure_ascii=False)

    objects = ", ".join(q(o) for o in DEMO_OBJECTS)
    access, _ = _demo_key(target / "secrets" / "s3-access-key")
    secret, _ = _demo_key(target / "secrets" / "s3-secret-key")
    return DEMO.format(key=q(key), objects=objects, flavour=registry.flavours()[0],
                       flavours=" or ".join(q(f) for f in registry.flavours()),
                       nas=q(target / "demo-locations" / "office-nas"),
                       disk=q(target / "demo-locations" / "second-disk"),
                       s3_port=DEMO_S3_PORT, s3_access=q(access), s3_secret=q(secret))


# ----------------------------------------------------------------------------------- check
@config_app.command("check")
def check(json_output: JsonOption = False,
          online: Annotated[bool, typer.Option(
              "--online", help="Also sign in to the source and list what it lets us read "
                               "(exit 6 when it refuses), open every repository with the "
                               "password and check each location is what it claims (exit 7)."
              )] = False) -> None:
    """Validate the configuration, secrets and policies.

    Every secret reference is resolved. Errors name the file, the key and the fix. Exit 0 when
    everything is valid (warnings are shown but do not fail), 5 otherwise; with --online, 6 when
    the source refuses to sign in, 7 when a repository does not open or a location is not what
    it claims (an unmounted share, a missing offline disk, a wrong password).
    """
    source_facts: dict[str, Any] | None = None
    try:
        settings = load_settings(find_config_file(state.options.config), resolve_secrets=True)
        policies = load_policies(settings.policies_dir)
        if online:
            source_facts = check_source(settings.source)
    except VaultkeeperError as exc:
        if json_output:
            print_json({"ok": False, "error": exc.one_line(), "exit_code": int(exc.exit_code),
                        "file": getattr(exc, "file", None), "key": getattr(exc, "key", None)})
        raise
    warnings = settings_warnings(settings) + cross_check(policies, settings)
    # Online: every repository must open with the password and every location be what it
    # claims (a mounted share, a present offline disk), or tonight's backup would fail.
    places = check_locations(settings) if online else None
    broken = bool(places) and has_problems(places or [])
    if json_output:
        print_json({"ok": not broken, "config_file": str(settings.config_file),
                    "settings": settings_to_dict(settings),
                    "secrets": [_secret_info(s) for s in settings.secrets()],
                    "policies": _policies_info(policies), "warnings": warnings,
                    **({"source": source_facts} if source_facts is not None else {}),
                    **({"locations": places} if places is not None else {}),
                    **({"exit_code": int(ExitCode.STORAGE)} if broken else {})})
    else:
        for line in _summary(settings, policies):
            typer.echo(line)
        if source_facts is not None:
            for line in describe_access(source_facts):
                typer.echo(line)
        for row in places or []:
            said = "; ".join(row["problems"]) or (
                "repository opens with the password" if row["repository"] == "ok" else "ok")
            typer.echo(f"Location {row['location']}: {said}")
        for warning in warnings:
            typer.echo(f"Warning: {warning}", err=True)
    if broken:
        raise typer.Exit(int(ExitCode.STORAGE))


def _secret_info(secret: Secret) -> dict[str, Any]:
    return {"setting": secret.setting, "reference": secret.describe(), "resolved": True}


def _policies_info(policies: Policies) -> dict[str, Any]:
    return {
        "sources": policies.sources,
        "retention": policies.retention.forget_args(),
        "processes": [p.name for p in policies.processes],
        "risk_signals": [s.kind for s in policies.risk.signals],
        "risk_levels": [lvl.name for lvl in policies.risk.levels],
        "mapped_objects": [m.name for m in policies.mappings.objects],
    }


def _summary(settings: Settings, policies: Policies) -> list[str]:
    src = settings.source
    summary = registry.get(src.connector).summary
    detail = summary(src) if summary is not None else f"{src.base_url}"
    objects = ", ".join(src.objects) or "every object the source has"
    if src.exclude:
        objects += f" (except {', '.join(src.exclude)})"
    width = max((len(loc.name) for loc in settings.locations), default=0)
    locations = [f"{loc.name:<{width}}  {redact_url(loc.url)}" + "".join(
        f" [{flag.replace('_', '-')}]" for flag in ("offline", "append_only", "immutable")
        if getattr(loc, flag)) for loc in settings.locations] or ["none"]
    schedule = "; ".join(f"{job} {when}" for job, when in settings.schedule.items()) or "none"
    built_in = [n for n, where in policies.sources.items() if where == BUILT_IN]
    if len(built_in) == len(POLICY_NAMES):
        where = "built-in defaults"
    else:
        where = f"from {settings.policies_dir}" + (
            f" (built-in: {', '.join(built_in)})" if built_in else "")
    secrets_ = [f"{s.setting} ({s.describe()})" for s in settings.secrets()]
    retention = " ".join(policies.retention.forget_args())
    return [
        f"Configuration OK: {settings.config_file}",
        f"  source     {src.connector}: {detail}",
        f"  objects    {objects}",
        f"  secrets    {len(secrets_)} resolved" + (f": {', '.join(secrets_)}" if secrets_
                                                   else ""),
        f"  locations  {locations[0]}", *(f"             {line}" for line in locations[1:]),
        f"  schedule   {schedule}",
        f"  policies   retention ({retention}), processes ({len(policies.processes)}), risk "
        f"({len(policies.risk.signals)} signals, {len(policies.risk.levels)} levels), "
        f"mappings ({len(policies.mappings.objects)} objects): {where}",
    ]


def settings_warnings(settings: Settings) -> list[str]:
    """Things that are valid but probably not what the user wants."""
    warnings = []
    source = settings.source
    if not settings.locations:
        warnings.append("no [[locations]]: `vaultkeeper backup` has nowhere to store snapshots")
    elif len(settings.locations) == 1:
        warnings.append("only one location: keep at least two (one off-site) so that one "
                        "failure loses nothing")
    if source.connector != "sandbox":
        defaults = SourceSettings(connector="sandbox")
        for key in ("flavour", "records", "seed", "faults"):
            if getattr(source, key) != getattr(defaults, key):
                warnings.append(f"[source] {key} is only used by connector sandbox")
    if source.base_url and source.base_url.startswith("http://") and not re.match(
            r"http://(127\.|localhost|\[::1\])", source.base_url):
        warnings.append("[source] base_url uses plain http: the token would travel unencrypted")
    return warnings


# ------------------------------------------------------------------------------------ show
@config_app.command("show")
def show(json_output: JsonOption = False) -> None:
    """Print the effective settings.

    The file plus VAULTKEEPER_* environment variables, as TOML (or --json); secrets are shown
    only as their reference and are not resolved.
    """
    settings = load_settings(find_config_file(state.options.config))
    if json_output:
        print_json(settings_to_dict(settings))
        return
    typer.echo(f"# Effective settings: {settings.config_file}, then VAULTKEEPER_* variables.")
    for header, table in _sections(settings):
        typer.echo(f"\n{header}")
        for key, value in table.items():
            if value is not None and value != () and value != {}:
                shown = _percent(value) if key == "api_reserve" else _toml(value)
                typer.echo(f"{key} = {shown}")


def _sections(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    """The settings laid out as the file's sections, values still typed."""
    def table(obj: object) -> dict[str, Any]:
        return {f.name: getattr(obj, f.name) for f in fields(obj)   # type: ignore[arg-type]
                if not f.metadata.get("derived")}

    return [
        ("[source]", table(settings.source)),
        ("[repository]", {"password": settings.repository_password}),
        ("[schedule]", dict(settings.schedule) | {"full_every": settings.full_every}),
        ("[paths]", {"state_dir": settings.state_dir, "export_dir": settings.export_dir,
                     "policies_dir": settings.policies_dir}),
        ("[risk]", table(settings.risk)),
        *(("[[locations]]", table(loc) | {"url": redact_url(loc.url)})
          for loc in settings.locations),
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, Secret):
        return value.describe()
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, FileLimits):
        return value.as_json()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):   # [source.config] and the other tables, at any depth
        return {str(k): _plain(v) for k, v in value.items()}
    return [_plain(v) for v in value] if isinstance(value, tuple | list) else value


def settings_to_dict(settings: Settings) -> dict[str, Any]:
    """Effective settings as JSON data: secrets as their reference, URLs redacted."""
    data: dict[str, Any] = {"config_file": _plain(settings.config_file)}
    for header, table in _sections(settings):
        plain = {key: _plain(value) for key, value in table.items()}
        if header == "[[locations]]":
            data.setdefault("locations", []).append(plain)
        else:
            data[header.strip("[]")] = plain
    data.setdefault("locations", [])
    return data


def _toml(value: Any) -> str:
    if isinstance(value, Secret):   # shown as the reference the file holds
        return f"{{ {value.kind} = {json.dumps(value.ref)} }}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, FileLimits):   # sizes as the file would write them
        limits = {"max_size": _size(value.max_size), "include": value.include or None,
                  "max_total": _size(value.max_total)}
        return _toml({k: v for k, v in limits.items() if v is not None}) or "{}"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):   # an inline table; keys quoted when not bare
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{k if re.fullmatch(r'[A-Za-z0-9_-]+', k) else json.dumps(k)}"
                                f" = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(_plain(value), ensure_ascii=False)


def _duration(value: timedelta) -> str:
    """``7d``, ``36h``, ``90m``: the largest of these units that divides it exactly."""
    minutes = int(value.total_seconds() // 60)
    for unit, size in (("d", 24 * 60), ("h", 60)):
        if minutes and minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def _size(value: int | None) -> str | int | None:
    """``25 MB`` when a decimal unit divides the bytes exactly, else the byte count."""
    if value is None:
        return None
    for unit, size in (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if value and value % size == 0:
            return f"{value // size} {unit}"
    return value


def _percent(value: Any) -> str:
    """``"30%"`` for a share kept as 0.3 (``[source] api_reserve``)."""
    return f'"{value * 100:g}%"' if isinstance(value, float) else _toml(value)


def register(app: typer.Typer) -> None:
    """Add ``init`` and the ``config`` group."""
    app.command("init")(init)
    app.add_typer(config_app, name="config")


_STARTER = '''\
# vaultkeeper configuration, written by `vaultkeeper init`.
# Full reference: docs/configuration.md. Check it with `vaultkeeper config check`.
#
# Secrets are never written here. Wherever a secret is needed, give a reference:
#   { env = "NAME" }                 read from an environment variable
#   { file = "~/path/to/secret" }    read from a file only you can read (chmod 600)
#   { command = "pass show crm/x" }  printed by a command (password manager; no shell)
# Every key can also be set as VAULTKEEPER_<SECTION>_<KEY>, e.g. VAULTKEEPER_SOURCE_PAGE_SIZE=50,
# and relative paths are relative to this file's directory.

[source]
# The CRM to export: hubspot | salesforce | csv | sandbox (built-in fake CRM for trying things).
connector = @DEFAULT@
# HubSpot: https://api.hubapi.com (the default). Salesforce: your instance URL,
# https://<mydomain>.my.salesforce.com.
base_url = "https://api.hubapi.com"
# HubSpot private-app token (scopes: crm.objects.*.read, crm.schemas.*.read) or Salesforce
# access token.
token = { env = "HUBSPOT_TOKEN" }
# Export order and selection; leave empty to export every object the CRM has.
objects = []
# Objects deliberately left out (listed in every export manifest, so the gap is visible).
exclude = []
# page_size = 100        # records per request (default: the connector's maximum)
# max_retries = 8        # per request, with backoff, on 429/5xx and dropped connections
# timeout = 60.0         # seconds per request
# ca_file = "corp-ca.pem"  # extra CA bundle (TLS-intercepting proxy)
# api_version = "59.0"   # Salesforce only
# path = "crm-export.zip"  # csv only: the folder or .zip of CSV files the vendor delivered

[repository]
# The password that encrypts every location (restic). Losing it means losing the backups:
# keep a copy offline (or use `vaultkeeper escrow`). Generate one with:
#   mkdir -p ~/.config/vaultkeeper && openssl rand -base64 32 > ~/.config/vaultkeeper/repository.key
#   chmod 600 ~/.config/vaultkeeper/repository.key
password = { file = "~/.config/vaultkeeper/repository.key" }

# Backup locations, one [[locations]] block each. Keep at least two, one of them off-site.
# url is a restic repository: a local path, s3:https://host/bucket[/prefix], rest:https://host/,
# sftp:user@host:/path or rclone:remote:path. Never put a password in the URL.
[[locations]]
name = "office-nas"
url = "/srv/backup/vaultkeeper"
# offline = true         # removable disk: backed up when present, not an error when absent

# [[locations]]
# name = "offsite"
# url = "s3:https://s3.example.net/org-crm-backup"
# access_key = { env = "OFFSITE_ACCESS_KEY" }
# secret_key = { env = "OFFSITE_SECRET_KEY" }
# immutable = true       # the bucket has S3 Object Lock (deletions are refused)
# append_only = false    # the server refuses deletions (rest-server --append-only)

[schedule]
# When `vaultkeeper run` starts each job. Phrases: "every day at 02:00", "every 6 hours",
# "every monday at 06:00", "every hour at :15". Vendor risk can tighten them (policies/risk.toml).
backup = "every day at 02:00"
drill = "every monday at 06:00"
check = "every sunday at 04:00"

[alerts]
# Who hears about failures, stale backups and mass deletions (docs/scheduling.md).
# webhook_url = { env = "ALERT_WEBHOOK_URL" }   # chat webhooks carry their key in the URL
# email_to = ["it@example.org"]
# email_from = "vaultkeeper@example.org"
# smtp_host = "smtp.example.org"
# smtp_user = "vaultkeeper"
# smtp_password = { env = "SMTP_PASSWORD" }

[paths]
# state_dir = ".vaultkeeper"   # run history and logs
# export_dir = "exports"       # default --out for `vaultkeeper export`
# policies_dir = "policies"    # retention, processes, risk, mappings
'''
STARTER = _STARTER.replace("@DEFAULT@", json.dumps(registry.DEFAULT))
"""The file `vaultkeeper init` writes (its [source] names the registry's default source)."""

DEMO = '''\
# vaultkeeper DEMO configuration, written by `vaultkeeper init --demo`.
# It backs up the built-in CRM sandbox (a fake CRM with seeded data: no account, no network)
# into two folders on this machine. Full reference: docs/configuration.md.

[source]
connector = "sandbox"   # the built-in CRM, started for each run; it needs no token
flavour = "{flavour}"     # the API vaultkeeper exports it through: {flavours}
                        # (salesforce names objects Contact, Account, Opportunity, Task)
records = 2000          # contacts to generate; companies, deals and notes scale with it
seed = 42               # same seed, same data: runs stay comparable
faults = "none"         # API faults to inject (see `vaultkeeper sandbox serve --help`)
# Export order; every object the sandbox serves, the empty ones included.
objects = [{objects}]

[repository]
# The key that encrypts every location, generated for the demo (mode 0600).
password = {{ file = {key} }}

[[locations]]
name = "office-nas"
url = {nas}

[[locations]]
name = "second-disk"
url = {disk}

[[locations]]
# Off-site S3 bucket. For the demo, scripts/demo.sh serves <demo>/s3 with `rclone serve s3` on
# 127.0.0.1:{s3_port} using these generated keys; in real life: AWS, Wasabi, MinIO, Ceph …
name = "offsite-s3"
url = "s3:http://127.0.0.1:{s3_port}/vaultkeeper-demo/crm"
access_key = {{ file = {s3_access} }}
secret_key = {{ file = {s3_secret} }}

[schedule]
backup = "every day at 02:00"
drill = "every monday at 06:00"
check = "every sunday at 04:00"
'''
