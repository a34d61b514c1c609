"""The field tables of every section (keys, converters, examples), the secret-reference
converter, and where each key lives."""

from __future__ import annotations

import re
import shlex
from dataclasses import fields, replace
from datetime import timedelta
from typing import Any

from vaultkeeper import registry
from vaultkeeper.config.secrets import ENV_NAME_RE, SECRET_FORMS, Secret
from vaultkeeper.config.settings import (
    ALERT_EVENTS,
    CONNECTORS,
    EMERGENCY_TARGETS,
    ESCROW_RELEASE_CONDITIONS,
    FLAVOURS,
    SCHEDULE_JOBS,
    SF_AUTH_FLOWS,
    AlertSettings,
    EmergencySettings,
    EscrowSettings,
    LocationSettings,
    RiskSettings,
    SourceSettings,
)
from vaultkeeper.errors import SecretError
from vaultkeeper.filelimits import as_files
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
    suggest,
)

SECRET_KINDS = ("env", "file", "command")


def as_percent(value: Any, origin: Origin) -> float:
    """A share given as a percentage (``"30%"``, or a number 0–100) → 0.0–1.0."""
    text = str(value).strip().removesuffix("%").strip() if isinstance(value, str | int | float) \
        and not isinstance(value, bool) else ""
    try:
        share = float(text)
    except ValueError:
        raise Bad("must be a percentage such as 30%", "30%") from None
    if not 0 <= share < 100:
        raise Bad("must be a percentage from 0% to below 100%", "30%")
    return share / 100


def as_full_every(value: Any, origin: Origin) -> timedelta | int:
    """How often a real full export runs: a duration (``7d``) or a number of runs (``7``)."""
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) \
        else ""
    if text.isdigit():
        if int(text) < 1:
            raise Bad("must be at least 1 run, or a duration such as 7d", "7d")
        return int(text)
    try:
        return as_duration(text, origin)
    except Bad:
        raise Bad("must be a duration such as 7d or 2w, or a number of runs such as 7",
                  "7d") from None


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
                            home=HOME_OF.get(origin.name, origin.section))
    kinds = ("env", "file", "command")
    example = f'{origin.name} = {{ env = "{secret_hint(origin.section, origin.name)}" }}'
    if not isinstance(value, dict) or len(value) != 1:
        raise Bad(f"must be a secret reference, one of {SECRET_FORMS}", fix=example)
    kind, ref = next(iter(value.items()))
    if kind not in kinds:
        near = suggest(kind, kinds)
        raise Bad(f"unknown secret kind {kind!r}", fix=f"did you mean {{ {near} = … }}?" if near
                  else f"use {SECRET_FORMS}")
    if not isinstance(ref, str) or not ref.strip():
        raise Bad(f"{kind} must be a non-empty string", fix=example)
    if kind == "env" and not ENV_NAME_RE.fullmatch(ref):
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


def as_package(value: Any, origin: Origin) -> str:
    """A PyPI requirement pinned to one version: ``name==version``."""
    text = as_str(value, origin)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9][A-Za-z0-9.+!_-]*", text):
        raise Bad(f"{text!r} is not a pinned package (name==version)",
                  fix='package = "tap-pipedrive==2.1.0"')
    return text


def _table(value: Any, origin: Origin) -> dict[str, Any]:
    if origin.from_text or not isinstance(value, dict):
        raise Bad("must be a table in the configuration file",
                  note=f"write it as [{origin.section.strip('[]')}.{origin.name}]")
    return value


def as_connector_config(value: Any, origin: Origin) -> dict[str, Any]:
    """A third-party connector's config: plain values, and secret references
    (``{ env = … }``, ``{ file = … }``, ``{ command = … }``) at any depth."""
    def convert(inner: Any, path: str) -> Any:
        where = replace(origin, name=path)
        if isinstance(inner, dict) and len(inner) == 1 and next(iter(inner)) in SECRET_KINDS:
            return as_secret(inner, where)
        if isinstance(inner, dict):
            return {str(k): convert(v, f"{path}.{k}") for k, v in inner.items()}
        if isinstance(inner, list):
            return [convert(v, f"{path}[{i}]") for i, v in enumerate(inner)]
        return inner
    return {str(k): convert(v, f"{origin.name}.{k}") for k, v in _table(value, origin).items()}


def as_relations(value: Any, origin: Origin) -> dict[str, str]:
    """``"stream.field" = "target stream"``: which field of which stream points where."""
    table = _table(value, origin)
    for key, target in table.items():
        stream, dot, path = str(key).partition(".")
        if not (stream and dot and path) or not isinstance(target, str) or not target.strip():
            raise Bad(f"{key!r} = {target!r} is not a relation",
                      fix='"deals.person_id" = "persons" (stream.field = target stream)')
    return {str(k): str(v).strip() for k, v in table.items()}


def as_archived_rules(value: Any, origin: Origin) -> dict[str, dict[str, Any]]:
    """Per stream, how the source marks archived/deleted records: ``{ field = "deleted" }``
    (a true value), ``{ field = "status", equals = "deleted" }``, or
    ``{ stream = "deleted_deals" }`` (another stream holds them)."""
    table = _table(value, origin)
    out: dict[str, dict[str, Any]] = {}
    for stream, rule in table.items():
        ok = isinstance(rule, dict) and (
            (set(rule) <= {"field", "equals"} and isinstance(rule.get("field"), str))
            or (set(rule) == {"stream"} and isinstance(rule["stream"], str)))
        if not ok:
            raise Bad(f"{stream} = {rule!r} is not an archived rule",
                      fix=f'{stream} = {{ field = "status", equals = "deleted" }} or '
                          f'{{ field = "deleted" }} or {{ stream = "deleted_{stream}" }}')
        out[str(stream)] = dict(rule)
    return out


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


def settings_fields(cls: type, **convert: Field) -> dict[str, Field]:
    # Keys are exactly the dataclass fields, so the file, the environment and the code agree.
    names = [f.name for f in fields(cls) if not f.metadata.get("derived")]
    assert sorted(names) == sorted(convert), (cls, set(names) ^ set(convert))
    return {n: convert[n] for n in names}


SOURCE_FIELDS = settings_fields(
    SourceSettings,
    connector=Field(as_choice(*CONNECTORS), registry.DEFAULT),
    base_url=Field(as_http_url, "https://api.hubapi.com"),
    token=Field(as_secret, None), ca_file=Field(as_path, "certs/ca.pem"),
    api_version=Field(as_api_version, "59.0"),
    path=Field(as_path, "crm-export.zip"), flavour=Field(as_choice(*FLAVOURS), FLAVOURS[0]),
    records=Field(as_int(0), 1000), seed=Field(as_int(), 42), faults=Field(as_str, "none"),
    objects=Field(as_names, ["contacts", "companies"]),
    exclude=Field(as_names, ["emails"]), page_size=Field(as_int(1), 100),
    max_retries=Field(as_int(0), 8), timeout=Field(as_float(0.0), 60.0),
    max_url_length=Field(as_int(1024), 12000), id_column=Field(as_str, "Id"),
    encoding=Field(as_str, "cp1252"), delimiter=Field(as_str, ";"),
    auth=Field(as_choice(*SF_AUTH_FLOWS), "jwt"),
    login_url=Field(as_http_url, "https://login.salesforce.com"),
    client_id=Field(as_str, "3MVG9…consumer-key"),
    username=Field(as_str, "backup@example.org"),
    private_key=Field(as_secret, None), client_secret=Field(as_secret, None),
    refresh_token=Field(as_secret, None), bulk_threshold=Field(as_int(0), 10000),
    files=Field(as_files, {"max_size": "25 MB"}),
    api_reserve=Field(as_percent, "30%"),
    package=Field(as_package, "airbyte-source-pipedrive==2.3.7"),
    executable=Field(as_str, "source-pipedrive"), python=Field(as_str, "python3.11"),
    config=Field(as_connector_config, {"api_token": {"env": "PIPEDRIVE_TOKEN"}}),
    environment=Field(as_connector_config, {"HTTPS_PROXY": "http://proxy.example.org:3128"}),
    relations=Field(as_relations, {"deals.person_id": "persons"}),
    archived=Field(as_archived_rules, {"deals": {"field": "status", "equals": "deleted"}}))
LOCATION_FIELDS = settings_fields(
    LocationSettings,
    name=Field(as_str, "office-nas"), url=Field(as_location_url, "/srv/backup/vaultkeeper"),
    access_key=Field(as_secret, None), secret_key=Field(as_secret, None),
    offline=Field(as_bool, True), append_only=Field(as_bool, True),
    immutable=Field(as_bool, True), country=Field(as_str, "Netherlands"))
ALERT_FIELDS = settings_fields(
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


EMERGENCY_FIELDS = settings_fields(
    EmergencySettings, default_region=Field(as_region, "GB"),
    target=Field(as_choice(*EMERGENCY_TARGETS), registry.import_targets()[0]))


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


ESCROW_FIELDS = settings_fields(
    EscrowSettings, url=Field(as_location_url, "s3:https://escrow.example.org/vaultkeeper"),
    access_key=Field(as_secret, None), secret_key=Field(as_secret, None),
    credentials_from=Field(as_str, "offsite"),
    release_conditions=Field(as_choices(*ESCROW_RELEASE_CONDITIONS),
                             ["insolvency", "cessation_of_service"]),
    refresh=Field(as_refresh, "30d"), escrow_password=Field(as_secret, None))
SECTIONS: dict[str, dict[str, Field]] = {
    "source": SOURCE_FIELDS,
    "repository": {"password": Field(as_secret, None)},
    "schedule": {**{job: Field(as_schedule, "every day at 02:00") for job in SCHEDULE_JOBS},
                 "full_every": Field(as_full_every, "7d")},
    "paths": {"state_dir": Field(as_path, ".vaultkeeper"),
              "export_dir": Field(as_path, "exports"),
              "policies_dir": Field(as_path, "policies")},
    "alerts": ALERT_FIELDS,
    "risk": settings_fields(
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
HOME_OF = {key: f"[{section}]" for section, spec in SECTIONS.items() for key in spec} | {
    key: "[[locations]]" for key in LOCATION_FIELDS}
