"""Settings loader (defaults < file < ``VAULTKEEPER_*`` environment < flags) and the Secret type."""

from __future__ import annotations

import os
import re
import shlex
import subprocess  # noqa: TID251 -- `{ command = "…" }` secrets run a password manager
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from vaultkeeper.errors import ConfigError, SecretError
from vaultkeeper.tomlcheck import (
    Bad,
    Field,
    Origin,
    as_api_version,
    as_bool,
    as_choice,
    as_choices,
    as_duration,
    as_emails,
    as_float,
    as_http_url,
    as_int,
    as_location_url,
    as_names,
    as_path,
    as_schedule,
    as_str,
    read_fields,
    read_toml,
    suggest,
    toml_literal,
)

CONFIG_NAME = "vaultkeeper.toml"
CONNECTORS = ("hubspot", "salesforce", "csv", "sandbox")
FLAVOURS = ("hubspot", "salesforce")
SCHEDULE_JOBS = ("backup", "drill", "check", "risk")
"""Jobs that ``[schedule]`` (and risk levels) may time; ``vaultkeeper run`` runs them."""
DEFAULT_SCHEDULE = {"backup": "every day at 02:00", "check": "every sunday at 04:00",
                    "drill": "every monday at 06:00", "risk": "every day at 07:00"}
"""What ``vaultkeeper run`` does when the file has no ``[schedule]`` section at all."""
HUBSPOT_URL = "https://api.hubapi.com"
COMMAND_TIMEOUT = 30.0
"""Seconds a ``{ command = … }`` secret may take (a password manager may wait for an agent)."""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOCATION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SECRET_NAME = re.compile(r"token|passw|passphrase|secret|api_?key|access_?key|private_?key")
_SECRET_FORMS = '{ env = "NAME" }, { file = "path" } (mode 0600) or { command = "…" }'  # noqa: S105


# --------------------------------------------------------------------------------- secrets
@dataclass(frozen=True, repr=False)
class Secret:
    """A reference to a secret (env var, 0600 file, or command); the value is read on demand."""

    kind: Literal["env", "file", "command"]
    ref: str
    # Where the reference was written, so a failure names the file and key (not compared).
    setting: str = field(default="", compare=False)
    config_file: str | None = field(default=None, compare=False)
    base_dir: Path | None = field(default=None, compare=False)
    # Not fields (so dataclasses.asdict and pickles never carry them): the resolved value
    # (`_value`) and the environment `{ env = … }` reads (`_env`, bound by the loader).

    def describe(self) -> str:
        """The reference, never the value: ``env:HUBSPOT_TOKEN``."""
        return f"{self.kind}:{self.ref}"

    def __repr__(self) -> str:
        return f"Secret({self.describe()})"

    __str__ = __repr__

    def __getstate__(self) -> dict[str, Any]:
        # Copies and pickles carry the reference only, never the resolved value.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def bind_env(self, env: Mapping[str, str]) -> Secret:
        """Read ``{ env = … }`` from ``env`` instead of os.environ (the loader's mapping)."""
        object.__setattr__(self, "_env", env)
        return self

    def file_path(self) -> Path | None:
        """For a ``file`` secret the absolute path (``~`` expanded, relative to the config)."""
        if self.kind != "file":
            return None
        path = Path(self.ref).expanduser()
        return path if path.is_absolute() else (self.base_dir or Path.cwd()) / path

    def reveal(self) -> str:
        """Resolve the reference now (cached); raise SecretError naming the key and the fix."""
        cached: str | None = self.__dict__.get("_value")
        if cached is None:
            cached = {"env": self._from_env, "file": self._from_file,
                      "command": self._from_command}[self.kind]()
            # Frozen dataclass: the cache is set behind its back; it is not a field, so
            # dataclasses.asdict() and repr() never see it.
            object.__setattr__(self, "_value", cached)
        return cached

    def _fail(self, message: str, fix: str) -> SecretError:
        return SecretError(message, fix, file=self.config_file, key=self.setting or None)

    def _from_env(self) -> str:
        env: Mapping[str, str] = self.__dict__.get("_env", os.environ)
        value = env.get(self.ref, "")
        if not value.strip():
            state = "is empty" if self.ref in env else "is not set"
            raise self._fail(f"environment variable {self.ref} {state}",
                             f"export {self.ref}=… before running vaultkeeper, or change the "
                             "reference")
        return value.strip()

    def _from_file(self) -> str:
        path = self.file_path()
        assert path is not None
        try:
            mode = path.stat().st_mode
            if mode & 0o077:
                raise self._fail(f"secret file {path} is readable by group or others "
                                 f"(mode {mode & 0o777:04o})", f"chmod 600 {path}")
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise self._fail(f"secret file {path} does not exist",
                             f"write the secret into it and run chmod 600 {path}, or fix the "
                             "path") from None
        except IsADirectoryError:
            raise self._fail(f"secret file {path} is a directory",
                             "point the reference at the file holding the secret") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise self._fail(f"cannot read secret file {path} ({type(exc).__name__})",
                             f"make {path} readable by this user (owner read, mode 0600)") \
                from None
        # restic trims surrounding whitespace from password files too: both read the same key.
        if not text.strip():
            raise self._fail(f"secret file {path} is empty", f"write the secret into {path}")
        return text.strip()

    def _from_command(self) -> str:
        argv = shlex.split(self.ref)
        fix = f"run `{self.ref}` yourself and make it print the secret on stdout"
        try:
            # No shell (argv from shlex, as restic splits --password-command); the environment
            # is inherited because password managers need theirs (GNUPGHOME, agent sockets);
            # it runs in the config's directory, like every relative path in the file.
            done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                  timeout=COMMAND_TIMEOUT, check=False, cwd=self.base_dir)
        except FileNotFoundError:
            raise self._fail(f"secret command {argv[0]!r} not found",
                             f"install {argv[0]} or correct the command") from None
        except subprocess.TimeoutExpired:
            raise self._fail(f"secret command `{self.ref}` did not finish within "
                             f"{COMMAND_TIMEOUT:.0f} s", fix) from None
        except OSError as exc:
            raise self._fail(f"secret command `{self.ref}` could not start ({exc.strerror})",
                             fix) from None
        if done.returncode != 0:
            # stderr is not echoed: some tools print the secret or parts of it on failure.
            raise self._fail(f"secret command `{self.ref}` failed with exit status "
                             f"{done.returncode} (its output is not shown)", fix)
        if not done.stdout.strip():
            raise self._fail(f"secret command `{self.ref}` printed nothing", fix)
        return done.stdout.strip()


# -------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class SourceSettings:
    """``[source]``: which CRM is exported and how."""

    connector: str
    base_url: str | None = None
    token: Secret | None = None
    ca_file: Path | None = None
    api_version: str = "59.0"
    path: Path | None = None
    flavour: str = "hubspot"
    records: int = 1000
    seed: int = 42
    faults: str = "none"
    objects: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    page_size: int | None = None
    max_retries: int = 8
    timeout: float = 60.0
    max_url_length: int = 12000
    id_column: str | None = None
    encoding: str | None = None
    delimiter: str | None = None


@dataclass(frozen=True)
class LocationSettings:
    """One ``[[locations]]`` entry: a restic repository."""

    name: str
    url: str
    access_key: Secret | None = None
    secret_key: Secret | None = None
    offline: bool = False
    append_only: bool = False
    immutable: bool = False


ALERT_EVENTS = ("job_failed", "partial", "backup_stale", "mass_deletion", "drill_failed",
                "risk_level", "escrow_stale", "recovered")
"""What ``[alerts] events`` may list (default: all)."""


@dataclass(frozen=True)
class AlertSettings:
    """``[alerts]``: where failures are reported (webhook JSON POST and/or e-mail)."""

    webhook_url: str | Secret | None = None
    webhook_token: Secret | None = None
    email_to: tuple[str, ...] = ()
    email_from: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: Secret | None = None
    smtp_starttls: bool = True
    smtp_ca_file: Path | None = None
    events: tuple[str, ...] = ALERT_EVENTS
    repeat_after: timedelta = timedelta(hours=24)
    timeout: float = 20.0

    @property
    def channels(self) -> list[str]:
        """The configured channels: ``webhook``, ``email``."""
        return ([("webhook")] if self.webhook_url else []) + (["email"] if self.email_to else [])


EMERGENCY_TARGETS = ("generic", "hubspot", "salesforce")
"""Import formats the emergency package can write (``--target``)."""


@dataclass(frozen=True)
class EmergencySettings:
    """``[emergency]``: defaults for the emergency package."""

    default_region: str | None = None
    target: str = "generic"


@dataclass(frozen=True)
class RiskSettings:
    """``[risk]``: where `vaultkeeper risk collect` looks for the vendor's public signals."""

    statuspage_url: str | None = None
    release_feed_url: str | None = None
    collect_timeout: float = 20.0


ESCROW_RELEASE_CONDITIONS = ("insolvency", "cessation_of_service", "acquisition",
                             "breach_of_contract", "prolonged_outage", "data_access_refused")
"""What ``[escrow] release_conditions`` may list (recorded in every deposit's inventory)."""


@dataclass(frozen=True)
class EscrowSettings:
    """``[escrow]``: where deposits go for the escrow agent, and when they may be released."""

    url: str | None = None
    access_key: Secret | None = None
    secret_key: Secret | None = None
    credentials_from: str | None = None
    release_conditions: tuple[str, ...] = ("insolvency", "cessation_of_service")
    refresh: str = "30d"
    escrow_password: Secret | None = None


@dataclass(frozen=True)
class Settings:
    """Everything ``vaultkeeper.toml`` (plus environment and flags) configures."""

    config_file: Path | None
    base_dir: Path
    source: SourceSettings
    repository_password: Secret | None
    locations: tuple[LocationSettings, ...]
    schedule: dict[str, str]
    state_dir: Path
    export_dir: Path | None
    policies_dir: Path
    alerts: AlertSettings = AlertSettings()
    risk: RiskSettings = RiskSettings()
    emergency: EmergencySettings = EmergencySettings()
    escrow: EscrowSettings = EscrowSettings()

    def secrets(self) -> list[Secret]:
        """Every secret reference in the settings, in file order."""
        found = [self.source.token, self.repository_password]
        for loc in self.locations:
            found += [loc.access_key, loc.secret_key]
        hook = self.alerts.webhook_url
        found += [hook if isinstance(hook, Secret) else None, self.alerts.webhook_token,
                  self.alerts.smtp_password]
        found += [self.escrow.access_key, self.escrow.secret_key, self.escrow.escrow_password]
        return [s for s in found if s is not None]


def as_secret(value: Any, origin: Origin) -> Secret:
    """A secret reference: ``{ env = … }``, ``{ file = … }`` or ``{ command = … }``."""
    if isinstance(value, Secret):
        return value
    if origin.var:
        # VAULTKEEPER_SOURCE_TOKEN=… holds the secret itself: reference the variable, so the
        # value is still only read on demand and never copied into settings.
        return Secret("env", origin.var, setting=origin.setting).bind_env(origin.env)
    if isinstance(value, str):
        raise inline_secret(origin.file, origin.section, origin.name,
                            home=_HOME_OF.get(origin.name, origin.section))
    kinds = ("env", "file", "command")
    example = f'{origin.name} = {{ env = "{secret_hint(origin.section, origin.name)}" }}'
    if not isinstance(value, dict) or len(value) != 1:
        raise Bad(f"must be a secret reference, one of {_SECRET_FORMS}", fix=example)
    kind, ref = next(iter(value.items()))
    if kind not in kinds:
        near = suggest(kind, kinds)
        raise Bad(f"unknown secret kind {kind!r}", fix=f"did you mean {{ {near} = … }}?" if near
                  else f"use {_SECRET_FORMS}")
    if not isinstance(ref, str) or not ref.strip():
        raise Bad(f"{kind} must be a non-empty string", fix=example)
    if kind == "env" and not _ENV_NAME.fullmatch(ref):
        raise Bad(f"{ref!r} is not an environment variable name", fix=example)
    if kind == "command":
        try:
            if not shlex.split(ref):
                raise ValueError
        except ValueError:
            raise Bad("the command cannot be split into words (unbalanced quotes?)",
                      fix='quote it like a shell would: { command = "pass show crm/token" }') \
                from None
    return Secret(kind, ref.strip(), setting=origin.setting, config_file=origin.file,
                  base_dir=origin.base).bind_env(origin.env)


def as_url_or_secret(value: Any, origin: Origin) -> str | Secret:
    """An http(s) URL, or a secret reference to one (chat webhooks carry their key in the URL)."""
    if isinstance(value, dict | Secret) or origin.var:
        return as_secret(value, origin)
    return as_http_url(value, origin)


def secret_hint(section: str, name: str, connector: object = None) -> str:
    """A sensible variable name to suggest: ``HUBSPOT_TOKEN``, ``OFFSITE_SECRET_KEY``."""
    if name == "token" and connector in FLAVOURS:
        return f"{str(connector).upper()}_TOKEN"
    quoted = re.search(r'"([^"]+)"', section)   # a location's name
    prefix = quoted[1] if quoted else section.strip("[]")
    return re.sub(r"\W+", "_", f"{prefix}_{name}").upper().strip("_")


def inline_secret(file: str | None, section: str, name: str, *, home: str | None,
                  connector: object = None) -> SecretError:
    """The refusal of a plain-text secret; it never contains the value."""
    in_place = home == section or (home == "[[locations]]" and section.startswith(home))
    hint = secret_hint(section if in_place else home or section, name, connector)
    forms = (f'{name} = {{ env = "{hint}" }}, {{ file = "…" }} (mode 0600) or '
             '{ command = "…" }')
    if home is None:
        fix = f"remove it from the file: {name} is not a vaultkeeper setting"
    elif in_place:
        fix = f"use {forms}"
    else:
        fix = f"remove it; secrets are references, written in {home}: {forms}"
    return SecretError("inline secrets are refused", fix, file=file,
                       key=f"{section} {name}".strip())


# -------------------------------------------------------------------------------- sections
def _settings_fields(cls: type, **convert: Field) -> dict[str, Field]:
    # Keys are exactly the dataclass fields, so the file, the environment and the code agree.
    names = [f.name for f in fields(cls)]
    assert sorted(names) == sorted(convert), (cls, set(names) ^ set(convert))
    return {n: convert[n] for n in names}


SOURCE_FIELDS = _settings_fields(
    SourceSettings,
    connector=Field(as_choice(*CONNECTORS), "hubspot"),
    base_url=Field(as_http_url, HUBSPOT_URL),
    token=Field(as_secret, None), ca_file=Field(as_path, "certs/ca.pem"),
    api_version=Field(as_api_version, "59.0"),
    path=Field(as_path, "crm-export.zip"), flavour=Field(as_choice(*FLAVOURS), "hubspot"),
    records=Field(as_int(0), 1000), seed=Field(as_int(), 42), faults=Field(as_str, "none"),
    objects=Field(as_names, ["contacts", "companies"]),
    exclude=Field(as_names, ["emails"]), page_size=Field(as_int(1), 100),
    max_retries=Field(as_int(0), 8), timeout=Field(as_float(0.0), 60.0),
    max_url_length=Field(as_int(1024), 12000), id_column=Field(as_str, "Id"),
    encoding=Field(as_str, "cp1252"), delimiter=Field(as_str, ";"))
LOCATION_FIELDS = _settings_fields(
    LocationSettings,
    name=Field(as_str, "office-nas"), url=Field(as_location_url, "/srv/backup/vaultkeeper"),
    access_key=Field(as_secret, None), secret_key=Field(as_secret, None),
    offline=Field(as_bool, True), append_only=Field(as_bool, True),
    immutable=Field(as_bool, True))
ALERT_FIELDS = _settings_fields(
    AlertSettings,
    webhook_url=Field(as_url_or_secret, "https://chat.example.org/hooks/vaultkeeper"),
    webhook_token=Field(as_secret, None), email_to=Field(as_emails, ["it@example.org"]),
    email_from=Field(as_str, "vaultkeeper@example.org"),
    smtp_host=Field(as_str, "smtp.example.org"),
    smtp_port=Field(as_int(1), 587), smtp_user=Field(as_str, "vaultkeeper"),
    smtp_password=Field(as_secret, None), smtp_starttls=Field(as_bool, True),
    smtp_ca_file=Field(as_path, "certs/smtp-ca.pem"),
    events=Field(as_choices(*ALERT_EVENTS), list(ALERT_EVENTS)),
    repeat_after=Field(as_duration, "1d"), timeout=Field(as_float(0.0), 20.0))
def as_region(value: Any, origin: Origin) -> str:
    """A two-letter ISO 3166 country code (phone numbers without one are read as from here)."""
    text = as_str(value, origin).strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", text):
        raise Bad(f"{value!r} is not a two-letter country code", "GB")
    return text


EMERGENCY_FIELDS = _settings_fields(
    EmergencySettings, default_region=Field(as_region, "GB"),
    target=Field(as_choice(*EMERGENCY_TARGETS), "hubspot"))
def as_refresh(value: Any, origin: Origin) -> str:
    """How often the escrow deposit is renewed: a duration (``30d``) or a schedule phrase."""
    try:
        as_duration(value, origin)
        return str(value)
    except Bad:
        try:
            return as_schedule(value, origin)
        except Bad:
            raise Bad("must be a duration such as 30d or 2w, or a schedule phrase such as "
                      "'every monday at 05:00'", "30d") from None


ESCROW_FIELDS = _settings_fields(
    EscrowSettings, url=Field(as_location_url, "s3:https://escrow.example.org/vaultkeeper"),
    access_key=Field(as_secret, None), secret_key=Field(as_secret, None),
    credentials_from=Field(as_str, "offsite"),
    release_conditions=Field(as_choices(*ESCROW_RELEASE_CONDITIONS),
                             ["insolvency", "cessation_of_service"]),
    refresh=Field(as_refresh, "30d"), escrow_password=Field(as_secret, None))
SECTIONS: dict[str, dict[str, Field]] = {
    "source": SOURCE_FIELDS,
    "repository": {"password": Field(as_secret, None)},
    "schedule": {job: Field(as_schedule, "every day at 02:00") for job in SCHEDULE_JOBS},
    "paths": {"state_dir": Field(as_path, ".vaultkeeper"),
              "export_dir": Field(as_path, "exports"),
              "policies_dir": Field(as_path, "policies")},
    "alerts": ALERT_FIELDS,
    "risk": _settings_fields(
        RiskSettings, statuspage_url=Field(as_http_url, "https://status.example-crm.com"),
        release_feed_url=Field(as_http_url, "https://github.com/example/crm/releases.atom"),
        collect_timeout=Field(as_float(0.0), 20.0)),
    "emergency": EMERGENCY_FIELDS,
    "escrow": ESCROW_FIELDS,
}
"""Every section of ``vaultkeeper.toml`` but ``[[locations]]``, with its keys in order."""


def env_var(section: str, key: str) -> str:
    """The environment variable for a setting: ``VAULTKEEPER_SOURCE_PAGE_SIZE``."""
    return f"VAULTKEEPER_{section}_{key}".upper()


# Where each key lives, to tell a user who put `page_size` under [repository] where it belongs.
_HOME_OF = {key: f"[{section}]" for section, spec in SECTIONS.items() for key in spec} | {
    key: "[[locations]]" for key in LOCATION_FIELDS}


# ---------------------------------------------------------------------------------- loading
def find_config_file(explicit: Path | None, env: Mapping[str, str] = os.environ) -> Path | None:
    """The file to use: --config, $VAULTKEEPER_CONFIG, ./vaultkeeper.toml, ~/.config/…"""
    fix = "check the path, or create one with `vaultkeeper init` (or `vaultkeeper init --demo`)"
    for given, label in ((explicit, None), (env.get("VAULTKEEPER_CONFIG"), "VAULTKEEPER_CONFIG")):
        if given:
            path = Path(given).expanduser()
            if not path.is_file():
                what = "is not a file" if path.exists() else "configuration file not found"
                raise ConfigError(f"{what}" + (f" (named by ${label})" if label else ""), fix,
                                  file=str(path))
            return path
    config_home = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) /
                                                    ".config")
    for candidate in (Path.cwd() / CONFIG_NAME, Path(config_home) / "vaultkeeper" / CONFIG_NAME):
        if candidate.is_file():
            return candidate
    return None


def load_settings(path: Path | None = None, *, env: Mapping[str, str] = os.environ,
                  overrides: Mapping[str, object] | None = None,
                  resolve_secrets: bool = False) -> Settings:
    """Read and validate the configuration; ``resolve_secrets`` also reads every secret now."""
    file = find_config_file(path, env)
    if file is None:
        raise ConfigError(
            "no configuration file found (looked for ./vaultkeeper.toml and "
            "~/.config/vaultkeeper/vaultkeeper.toml)",
            "run `vaultkeeper init` (or `vaultkeeper init --demo` to try the built-in CRM "
            "sandbox), or pass --config FILE")
    name, base = str(file), file.absolute().parent
    doc = read_toml(file)
    _refuse_inline_secrets(doc, name)
    _check_top_level(doc, name)
    layers = _layers(env, overrides)
    values = {section: read_fields(doc.get(section, {}), spec, Origin(name, f"[{section}]",
                                                                     base=base, env=env),
                                   layers=layers[section], elsewhere=_HOME_OF)
              for section, spec in SECTIONS.items()}
    if "connector" not in values["source"]:
        raise ConfigError("no connector is configured",
                          'add [source] connector = "hubspot" (or salesforce, csv, sandbox)',
                          file=name, key="[source] connector")
    locations = _read_locations(doc.get("locations", []), name, base, env)
    password = values["repository"].get("password")
    if locations and password is None:
        raise ConfigError(
            "missing: restic needs it to encrypt the locations",
            'add password = { file = "~/.config/vaultkeeper/repository.key" } (mode 0600)',
            file=name, key="[repository] password")
    paths = values["paths"]
    settings = Settings(
        config_file=file, base_dir=base,
        source=_check_source(SourceSettings(**values["source"]), name),
        repository_password=password, locations=locations, schedule=values["schedule"],
        state_dir=paths.get("state_dir", base / ".vaultkeeper"),
        export_dir=paths.get("export_dir"), policies_dir=paths.get("policies_dir",
                                                                   base / "policies"),
        alerts=_check_alerts(AlertSettings(**values["alerts"]), name),
        risk=RiskSettings(**values["risk"]),
        emergency=EmergencySettings(**values["emergency"]),
        escrow=_check_escrow(EscrowSettings(**values["escrow"]), locations, name))
    if resolve_secrets:
        for secret in settings.secrets():
            secret.reveal()
    return settings


def _refuse_inline_secrets(doc: Mapping[str, Any], file: str, section: str = "",
                           connector: object = None) -> None:
    # First, before any other check: a file holding a plain-text secret is the worst problem,
    # and no later message may echo the value.
    if not section and isinstance(doc.get("source"), dict):
        connector = doc["source"].get("connector")
    for key, value in doc.items():
        if isinstance(value, dict):
            inner = f"[{section.strip('[]')}.{key}]" if section else f"[{key}]"
            _refuse_inline_secrets(value, file, inner, connector)
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value, 1):
                _refuse_inline_secrets(item, file, _location_label(i, item) if key ==
                                       "locations" else f"[[{key}]] #{i}", connector)
        elif isinstance(value, str) and _SECRET_NAME.search(key.lower()):
            home = _HOME_OF.get(key)
            spec = LOCATION_FIELDS if home == "[[locations]]" else SECTIONS.get(
                (home or "").strip("[]"), {})
            if home is None or spec[key].convert is as_secret:   # not a known non-secret key
                raise inline_secret(file, section, key, home=home, connector=connector)


def _check_top_level(doc: Mapping[str, Any], file: str) -> None:
    # [targets.NAME] (rehearsal targets) is read by services/rehearse/targets.py.
    sections = [*SECTIONS, "locations", "targets"]
    for key, value in doc.items():
        if key in sections:
            continue
        if key in _HOME_OF:
            raise ConfigError("not inside a section", f"{key} belongs in {_HOME_OF[key]}: move "
                              "it below that header", file=file, key=key)
        near = suggest(key, sections)
        label = "[[locations]]" if near == "locations" else f"[{near}]"
        raise ConfigError("unknown section" if isinstance(value, dict | list) else "unknown key",
                          f"did you mean {label}?" if near else "remove it; sections are "
                          + ", ".join(f"[{s}]" for s in SECTIONS) + ", [[locations]]",
                          file=file, key=f"[{key}]" if isinstance(value, dict) else key)


def _layers(env: Mapping[str, str],
            overrides: Mapping[str, object] | None) -> dict[str, dict[str, tuple[Any, Origin]]]:
    """Environment variables, then command-line overrides on top, per section."""
    layers: dict[str, dict[str, tuple[Any, Origin]]] = {s: {} for s in SECTIONS}
    for var, raw in sorted(env.items()):
        section, _, key = var.removeprefix("VAULTKEEPER_").lower().partition("_")
        # Empty means unset; other VAULTKEEPER_* names (CONFIG, other commands') are not ours.
        if not var.startswith("VAULTKEEPER_") or not raw.strip() or section not in [
                *SECTIONS, "locations"]:
            continue
        where = f"environment variable {var}"
        if section == "locations":
            raise ConfigError("locations cannot be set from the environment", "edit "
                              "[[locations]] in the file (its secrets can be { env = … } "
                              "references)", key=where)
        if key not in SECTIONS[section]:
            near = suggest(key, SECTIONS[section])
            raise ConfigError(f"unknown setting [{section}] {key}",
                              f"did you mean {env_var(section, near)}?" if near else
                              f"unset it; [{section}] has: {', '.join(SECTIONS[section])}",
                              key=where)
        layers[section][key] = (raw, Origin(None, f"[{section}]", key, Path.cwd(), env, var=var))
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        if key not in SECTIONS.get(section, {}):
            raise ConfigError(f"unknown setting {dotted!r} passed by the command",
                              "this is a bug in vaultkeeper; please report it")
        if value is not None:   # an option left at its default does not override
            layers[section][key] = (value, Origin(None, f"[{section}]", key, Path.cwd(), env,
                                                  flag=True))
    return layers


def _location_label(i: int, item: Mapping[str, Any]) -> str:
    name = item.get("name")
    return f'[[locations]] #{i} "{name}"' if isinstance(name, str) and name else \
        f"[[locations]] #{i}"


def _read_locations(data: Any, file: str, base: Path,
                    env: Mapping[str, str]) -> tuple[LocationSettings, ...]:
    if not isinstance(data, list):
        raise ConfigError("must be an array of tables", "write [[locations]] (double brackets), "
                          "one block per location", file=file, key="[[locations]]")
    found: list[LocationSettings] = []
    for i, item in enumerate(data, 1):
        label = _location_label(i, item) if isinstance(item, dict) else f"[[locations]] #{i}"
        values = read_fields(item, LOCATION_FIELDS, Origin(file, label, base=base, env=env),
                             elsewhere=_HOME_OF)
        for required in ("name", "url"):
            if required not in values:
                raise ConfigError("missing", f"{required} = "
                                  f"{toml_literal(LOCATION_FIELDS[required].example)}",
                                  file=file, key=f"{label} {required}")
        if not _LOCATION_NAME.fullmatch(values["name"]):
            raise ConfigError("a name has letters, digits, '.', '_' or '-' (at most 64)",
                              'name = "office-nas"', file=file, key=f"{label} name")
        clash = next((j for j, loc in enumerate(found, 1) if loc.name == values["name"]), None)
        if clash:
            raise ConfigError(f"duplicate location name (location #{clash} has it too)",
                              "give every location a unique name", file=file, key=f"{label} name")
        if ("access_key" in values) != ("secret_key" in values):
            raise ConfigError("access_key and secret_key go together", "set both or neither",
                              file=file, key=f"{label} secret_key")
        found.append(LocationSettings(**values))
    return tuple(found)


def _check_alerts(alerts: AlertSettings, file: str) -> AlertSettings:
    """E-mail needs a server and a sender; a password needs a user."""
    def fail(key: str, message: str, fix: str) -> ConfigError:
        return ConfigError(message, fix, file=file, key=f"[alerts] {key}")

    if alerts.email_to and not alerts.smtp_host:
        raise fail("smtp_host", "required when email_to is set",
                   'smtp_host = "smtp.example.org" (and smtp_port, email_from)')
    if alerts.email_to and not alerts.email_from:
        raise fail("email_from", "required when email_to is set",
                   'email_from = "vaultkeeper@example.org"')
    if alerts.smtp_password and not alerts.smtp_user:
        raise fail("smtp_user", "required when smtp_password is set", 'smtp_user = "vaultkeeper"')
    if alerts.smtp_ca_file and not alerts.smtp_ca_file.is_file():
        raise fail("smtp_ca_file", f"{alerts.smtp_ca_file} does not exist",
                   "point it at a PEM bundle of the CA certificates to trust")
    return alerts


def _check_escrow(escrow: EscrowSettings, locations: tuple[LocationSettings, ...],
                  file: str) -> EscrowSettings:
    """Credentials go together; ``credentials_from`` names a location and borrows its keys."""
    def fail(key: str, message: str, fix: str) -> ConfigError:
        return ConfigError(message, fix, file=file, key=f"[escrow] {key}")

    if (escrow.access_key is None) != (escrow.secret_key is None):
        raise fail("secret_key", "access_key and secret_key go together", "set both or neither")
    if escrow.credentials_from is not None:
        if escrow.access_key is not None:
            raise fail("credentials_from", "set either credentials_from or access_key/"
                       "secret_key, not both", "remove one of them")
        loc = next((x for x in locations if x.name == escrow.credentials_from), None)
        if loc is None:
            raise fail("credentials_from", f"no location named {escrow.credentials_from!r}",
                       "name one of the [[locations]]")
        escrow = replace(escrow, access_key=loc.access_key, secret_key=loc.secret_key)
    if escrow.url is not None and any(x.url == escrow.url for x in locations):
        raise fail("url", "is also a [[locations]] url",
                   "the escrow repository must be a separate repository")
    return escrow


def _check_source(source: SourceSettings, file: str) -> SourceSettings:
    """Connector-specific requirements; fills in HubSpot's public API URL."""
    def fail(key: str, message: str, fix: str) -> ConfigError:
        return ConfigError(message, fix, file=file, key=f"[source] {key}")

    kind = source.connector
    if kind == "hubspot" and source.base_url is None:
        source = replace(source, base_url=HUBSPOT_URL)
    if kind == "salesforce" and source.base_url is None:
        raise fail("base_url", "required for connector salesforce (your instance URL)",
                   'base_url = "https://<mydomain>.my.salesforce.com"')
    if kind in FLAVOURS and source.token is None:
        raise fail("token", f"required for connector {kind}",
                   f'token = {{ env = "{kind.upper()}_TOKEN" }}')
    if kind == "csv" and source.path is None:
        raise fail("path", "required for connector csv",
                   'path = "crm-export.zip" (the folder or .zip the vendor delivered)')
    if kind == "csv" and source.path and not source.path.exists():
        raise fail("path", f"{source.path} does not exist", "point it at the CSV folder or .zip")
    if source.ca_file and not source.ca_file.is_file():
        raise fail("ca_file", f"{source.ca_file} does not exist",
                   "point it at a PEM bundle of the CA certificates to trust")
    both = sorted(set(source.objects) & set(source.exclude))
    if both:
        raise fail("exclude", f"{', '.join(both)} also listed in objects",
                   "list each object in objects or in exclude, not both")
    return source
