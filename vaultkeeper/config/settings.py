"""The settings dataclasses, one per section of ``vaultkeeper.toml``, and their fixed choices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from vaultkeeper import registry
from vaultkeeper.config.secrets import Secret
from vaultkeeper.filelimits import FileLimits

CONFIG_NAME = "vaultkeeper.toml"
CONNECTORS = registry.names()
"""``[source] connector`` values: one per source in the registry."""
FLAVOURS = registry.flavours()
SF_AUTH_FLOWS = ("token", "jwt", "client_credentials", "refresh_token")
"""``[source] auth``: a static access token, or a Salesforce OAuth flow vaultkeeper runs."""
"""``[source] flavour`` values: the APIs the sandbox speaks."""
SCHEDULE_JOBS = ("backup", "drill", "check", "risk")
"""Jobs that ``[schedule]`` (and risk levels) may time; ``vaultkeeper run`` runs them."""
DEFAULT_SCHEDULE = {"backup": "every day at 02:00", "check": "every sunday at 04:00",
                    "drill": "every monday at 06:00", "risk": "every day at 07:00"}
"""What ``vaultkeeper run`` does when the file has no ``[schedule]`` section at all."""


@dataclass(frozen=True)
class SourceSettings:
    """``[source]``: which CRM is exported and how."""

    connector: str
    base_url: str | None = None
    token: Secret | None = None
    ca_file: Path | None = None
    api_version: str = "59.0"
    path: Path | None = None
    flavour: str = FLAVOURS[0]
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
    # Salesforce sign-in (connectors/sf_auth.py): a static token, or an OAuth flow.
    auth: str = "token"
    login_url: str | None = None
    client_id: str | None = None
    username: str | None = None
    private_key: Secret | None = None
    client_secret: Secret | None = None
    refresh_token: Secret | None = None
    bulk_threshold: int | None = None
    files: FileLimits | None = None
    """Attachments to download (vaultkeeper/filelimits.py); None: files are not exported."""
    api_reserve: float | None = None
    """Share of the vendor's daily API quota kept for the organisation's other integrations
    (``"30%"`` → 0.3); None: no budget check (services/budget.py)."""
    # Third-party sources (connectors/thirdparty.py): an Airbyte source or a Singer tap.
    package: str | None = None
    executable: str | None = None
    python: str | None = None
    config: Mapping[str, object] = field(default_factory=dict)
    environment: Mapping[str, object] = field(default_factory=dict)
    relations: Mapping[str, str] = field(default_factory=dict)
    archived: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    state_dir: Path | None = field(default=None, metadata={"derived": True})
    """Not a key of the file: the ``[paths] state_dir``, filled in by the loader."""

    def secrets(self) -> list[Secret]:
        """Every secret reference of this source (the sign-in ones, then those in ``config``
        and ``environment``)."""
        found = [self.token, self.private_key, self.client_secret, self.refresh_token]
        return [s for s in found if s is not None] + nested_secrets(self.config) + \
            nested_secrets(self.environment)


def nested_secrets(value: object) -> list[Secret]:
    """The secret references inside a nested table (``[source.config]``), in order."""
    if isinstance(value, Secret):
        return [value]
    if isinstance(value, Mapping):
        return [s for inner in value.values() for s in nested_secrets(inner)]
    if isinstance(value, list | tuple):
        return [s for inner in value for s in nested_secrets(inner)]
    return []


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
    country: str | None = None
    """Where the data is stored (for the record of processing, ``privacy report``)."""


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


EMERGENCY_TARGETS = ("generic", *registry.import_targets())
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
    targets: Mapping[str, SourceSettings] = field(default_factory=dict)
    full_every: timedelta | int | None = None
    """``[schedule] full_every``: with it, backups are incremental with a real full export
    every this long (``7d``) or every this many runs (``7``); None: every backup is full."""
    """``[targets.NAME]``: other CRMs that ``restore --into`` / ``drill --into-crm`` write to
    (same keys as ``[source]``)."""

    def secrets(self) -> list[Secret]:
        """Every secret reference in the settings, in file order."""
        found: list[Secret | None] = [*self.source.secrets(), self.repository_password]
        for target in self.targets.values():
            found += target.secrets()
        for loc in self.locations:
            found += [loc.access_key, loc.secret_key]
        hook = self.alerts.webhook_url
        found += [hook if isinstance(hook, Secret) else None, self.alerts.webhook_token,
                  self.alerts.smtp_password]
        found += [self.escrow.access_key, self.escrow.secret_key, self.escrow.escrow_password]
        return [s for s in found if s is not None]
