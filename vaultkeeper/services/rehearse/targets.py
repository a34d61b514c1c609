"""Where a rehearsal imports to: ``tryton:URL``, ``sandbox:hubspot|salesforce``, or a name.

A name refers to a ``[rehearsal.NAME]`` section of vaultkeeper.toml::

    [rehearsal.tryton-test]
    kind = "tryton"                       # tryton | hubspot | salesforce
    url = "http://127.0.0.1:8000/crm"     # Tryton: server URL and database (last path part)
    user = "admin"
    password = { file = "~/.config/vaultkeeper/tryton.pass" }
    mapping = "policies/rehearse-tryton.toml"   # optional: your own rehearsal mapping

Credentials are secret references only. ``tryton:URL`` takes the password from the file named
by ``$TRYTONPASSFILE`` (Tryton's own convention) and the user from the URL
(``http://admin@host:8000/db``, default ``admin``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from vaultkeeper import registry
from vaultkeeper.config import Secret, Settings
from vaultkeeper.config.fields import as_secret
from vaultkeeper.errors import ConfigError, UsageError
from vaultkeeper.tomlcheck import (
    Field,
    Origin,
    as_choice,
    as_http_url,
    as_path,
    as_str,
    read_fields,
    read_toml,
)

SANDBOX_KINDS = tuple(k for k in registry.rehearsable() if k in registry.flavours())
"""The vendors ``--into sandbox:KIND`` can start empty (each a rehearsal target)."""
KINDS = ("tryton", *registry.rehearsable())
TARGET_FIELDS: dict[str, Field] = {
    "kind": Field(as_choice(*KINDS), "tryton"),
    "url": Field(as_http_url, "http://127.0.0.1:8000/crm"),
    "user": Field(as_str, "admin"),
    "password": Field(as_secret, None),
    "token": Field(as_secret, None),
    "mapping": Field(as_path, "policies/rehearse-tryton.toml"),
    "ca_file": Field(as_path, "certs/ca.pem"),
}


@dataclass(frozen=True)
class Target:
    """A resolved rehearsal target."""

    label: str              # as the user wrote it (never a secret)
    kind: str               # tryton | hubspot | salesforce
    sandbox: bool = False   # an empty built-in sandbox started for the rehearsal
    url: str = ""
    database: str = ""
    user: str = "admin"
    password: Secret | None = None
    token: Secret | None = None
    mapping: Path | None = None
    ca_file: Path | None = None

    def as_json(self) -> dict[str, Any]:
        """What the report says about the target (no secret)."""
        return {"label": self.label, "kind": self.kind, "sandbox": self.sandbox,
                "url": self.url, "database": self.database}


def _tryton_url(url: str) -> tuple[str, str, str]:
    """``http://user@host:port/db`` → (server URL, database, user)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{url!r} is not a Tryton URL",
                         "write tryton:http://127.0.0.1:8000/DATABASE")
    if parts.password:
        raise UsageError("the target URL holds a password",
                         "remove it; put the password in a file named by $TRYTONPASSFILE "
                         "or use a [rehearsal.NAME] section with password = { file = … }")
    database = parts.path.strip("/")
    if not database or "/" in database:
        raise UsageError(f"{url!r} names no database",
                         "write tryton:http://127.0.0.1:8000/DATABASE")
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, "", "", "")), database, parts.username or "admin"


def resolve_target(spec: str, settings: Settings | None,
                   env: dict[str, str] | None = None) -> Target:
    """The target named by ``--into``."""
    env = dict(os.environ if env is None else env)
    kind, sep, rest = spec.partition(":")
    if sep and kind == "sandbox":
        if rest not in SANDBOX_KINDS:
            raise UsageError(f"no built-in sandbox {rest!r}",
                             "use " + " or ".join(f"sandbox:{k}" for k in SANDBOX_KINDS))
        return Target(spec, rest, sandbox=True)
    if sep and kind == "tryton":
        url, database, user = _tryton_url(rest)
        passfile = env.get("TRYTONPASSFILE")
        if not passfile:
            raise ConfigError("no password for the Tryton target",
                              "export TRYTONPASSFILE=/path/to/a/0600/file holding it, or "
                              "define [rehearsal.NAME] with password = { file = … }")
        return Target(spec, "tryton", url=url, database=database, user=user,
                      password=Secret("file", passfile, setting="$TRYTONPASSFILE"))
    return _named(spec, settings)


def _named(name: str, settings: Settings | None) -> Target:
    if settings is None or settings.config_file is None:
        raise UsageError(f"unknown target {name!r}",
                         "use tryton:URL, sandbox:hubspot, sandbox:salesforce or a "
                         "[rehearsal.NAME] section of vaultkeeper.toml")
    file = settings.config_file
    doc = read_toml(file).get("rehearsal", {})
    if not isinstance(doc, dict) or name not in doc:
        known = ", ".join(sorted(doc)) if isinstance(doc, dict) and doc else "none defined"
        raise UsageError(f"unknown target {name!r} ({known})",
                         f"add a [rehearsal.{name}] section to {file}, or use tryton:URL / "
                         "sandbox:hubspot / sandbox:salesforce")
    origin = Origin(str(file), f"[rehearsal.{name}]", base=settings.base_dir)
    values = read_fields(doc[name], TARGET_FIELDS, origin)
    kind = values.get("kind")
    if kind is None:
        raise ConfigError("kind is missing", 'add kind = "tryton" (or hubspot, salesforce)',
                          file=str(file), key=f"[rehearsal.{name}] kind")
    url = values.get("url", "")
    database, user = "", values.get("user", "admin")
    if kind != "tryton" and (not url or values.get("token") is None):
        raise ConfigError("url and token are required for a vendor target",
                          'add url = "https://…" and token = { env = "…" }', file=str(file),
                          key=f"[rehearsal.{name}]")
    if kind == "tryton":
        if not url:
            raise ConfigError("url is missing", 'add url = "http://127.0.0.1:8000/DATABASE"',
                              file=str(file), key=f"[rehearsal.{name}] url")
        url, database, _user = _tryton_url(url)
        if values.get("password") is None:
            raise ConfigError("password is missing",
                              'add password = { file = "…" } (mode 0600) or { env = "…" }',
                              file=str(file), key=f"[rehearsal.{name}] password")
    return Target(name, kind, url=url, database=database, user=user,
                  password=values.get("password"), token=values.get("token"),
                  mapping=values.get("mapping"), ca_file=values.get("ca_file"))
