"""Settings loader (defaults < file < ``VAULTKEEPER_*`` environment < flags)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from vaultkeeper import registry
from vaultkeeper.config.fields import (
    HOME_OF,
    LOCATION_FIELDS,
    SECTIONS,
    as_secret,
    env_var,
    inline_secret,
)
from vaultkeeper.config.settings import (
    CONFIG_NAME,
    CONNECTORS,
    AlertSettings,
    EmergencySettings,
    EscrowSettings,
    LocationSettings,
    RiskSettings,
    Settings,
    SourceSettings,
)
from vaultkeeper.errors import ConfigError
from vaultkeeper.tomlcheck import Origin, read_fields, read_toml, suggest, toml_literal

_LOCATION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SECRET_NAME = re.compile(r"token|passw|passphrase|secret|api_?key|access_?key|private_?key")


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
                                   layers=layers[section], elsewhere=HOME_OF)
              for section, spec in SECTIONS.items()}
    if "connector" not in values["source"]:
        raise ConfigError("no connector is configured",
                          f'add [source] connector = "{CONNECTORS[0]}" (or '
                          f'{", ".join(CONNECTORS[1:])})',
                          file=name, key="[source] connector")
    locations = _read_locations(doc.get("locations", []), name, base, env)
    password = values["repository"].get("password")
    if locations and password is None:
        raise ConfigError(
            "missing: restic needs it to encrypt the locations",
            'add password = { file = "~/.config/vaultkeeper/repository.key" } (mode 0600)',
            file=name, key="[repository] password")
    paths = values["paths"]
    state_dir = paths.get("state_dir", base / ".vaultkeeper")
    schedule = dict(values["schedule"])
    full_every = schedule.pop("full_every", None)   # not a job: how often a full export runs
    settings = Settings(
        config_file=file, base_dir=base,
        source=_check_source(SourceSettings(**values["source"], state_dir=state_dir), name),
        repository_password=password, locations=locations, schedule=schedule,
        state_dir=state_dir,
        export_dir=paths.get("export_dir"), policies_dir=paths.get("policies_dir",
                                                                   base / "policies"),
        alerts=_check_alerts(AlertSettings(**values["alerts"]), name),
        risk=RiskSettings(**values["risk"]),
        emergency=EmergencySettings(**values["emergency"]),
        escrow=_check_escrow(EscrowSettings(**values["escrow"]), locations, name),
        targets=_read_targets(doc.get("targets", {}), name, base, env), full_every=full_every)
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
            home = HOME_OF.get(key)
            spec = LOCATION_FIELDS if home == "[[locations]]" else SECTIONS.get(
                (home or "").strip("[]"), {})
            if home is None or spec[key].convert is as_secret:   # not a known non-secret key
                raise inline_secret(file, section, key, home=home, connector=connector)


def _check_top_level(doc: Mapping[str, Any], file: str) -> None:
    # [targets.NAME]: restore targets (read here, like [source]); [rehearsal.NAME]: empty CRMs
    # a package is rehearsed into (read and checked by services/rehearse/targets.py).
    sections = [*SECTIONS, "locations", "targets", "rehearsal"]
    for key, value in doc.items():
        if key in sections:
            continue
        if key in HOME_OF:
            raise ConfigError("not inside a section", f"{key} belongs in {HOME_OF[key]}: move "
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


def _read_targets(data: Any, file: str, base: Path,
                  env: Mapping[str, str]) -> dict[str, SourceSettings]:
    """``[targets.NAME]`` tables: each one is read like ``[source]`` (the environment and
    flags do not reach into them)."""
    if not isinstance(data, dict):
        raise ConfigError("must be tables", 'write [targets.test-portal] with connector, '
                          'base_url and token = { env = "TEST_PORTAL_TOKEN" }', file=file,
                          key="[targets]")
    found: dict[str, SourceSettings] = {}
    for name, item in data.items():
        label = f"[targets.{name}]"
        if not _LOCATION_NAME.fullmatch(name):
            raise ConfigError("a target name has letters, digits, '.', '_' or '-'",
                              "[targets.test-portal]", file=file, key=label)
        if not isinstance(item, dict):
            raise ConfigError("must be a table", f"write {label} on its own line, then its keys",
                              file=file, key=label)
        values = read_fields(item, SECTIONS["source"], Origin(file, label, base=base, env=env),
                             elsewhere=HOME_OF)
        if "connector" not in values:
            raise ConfigError("missing", f'connector = "{registry.DEFAULT}" (or '
                              f'{", ".join(registry.names()[1:])})',
                              file=file, key=f"{label} connector")
        found[name] = _check_source(SourceSettings(**values), file)
    return found


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
                             elsewhere=HOME_OF)
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
    """The source's own requirements (its registry record), then those of every source."""
    def fail(key: str, message: str, fix: str) -> ConfigError:
        return ConfigError(message, fix, file=file, key=f"[source] {key}")

    if source.auth != "token" and not registry.signs_in(source.connector):
        flows = ", ".join(e.name for e in registry.ENTRIES if e.sign_in)
        raise fail("auth", f"sign-in flows are for {flows}, not connector {source.connector}",
                   'remove auth (the default "token" uses [source] token)')
    source = registry.get(source.connector).check_settings(source, fail)
    if source.ca_file and not source.ca_file.is_file():
        raise fail("ca_file", f"{source.ca_file} does not exist",
                   "point it at a PEM bundle of the CA certificates to trust")
    both = sorted(set(source.objects) & set(source.exclude))
    if both:
        raise fail("exclude", f"{', '.join(both)} also listed in objects",
                   "list each object in objects or in exclude, not both")
    return source
