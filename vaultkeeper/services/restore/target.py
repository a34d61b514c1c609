"""The CRM a restore writes into: ``[source]`` (the CRM the backups come from) or a named
``[targets.NAME]`` (another portal/org), opened as a writer and, for drills, as a reader."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from vaultkeeper import registry
from vaultkeeper.config import Settings, SourceSettings
from vaultkeeper.connectors import make_writer
from vaultkeeper.connectors.base import Connector
from vaultkeeper.connectors.writer import CrmWriter
from vaultkeeper.errors import ConfigError, UsageError

SOURCE = "source"


@dataclass
class Target:
    """An open target: its name, settings, writer, and where its API lives."""

    name: str
    settings: SourceSettings
    vendor: str
    writer: CrmWriter
    url: str
    token: str
    ca_file: Path | None

    def reader(self) -> Connector:
        """A fresh reader (the normal exporter's connector) on the same CRM."""
        connect = registry.get(self.vendor).connect
        assert connect is not None
        connector: Connector = connect(self.settings, self.url, self.token, self.ca_file)
        return connector


def target_settings(settings: Settings, name: str | None) -> tuple[str, SourceSettings]:
    """(name, settings) of the target: ``None`` is the configured ``[source]``."""
    if name is None or name == SOURCE:
        return SOURCE, settings.source
    if name not in settings.targets:
        known = ", ".join(settings.targets) or "none configured"
        raise UsageError(f"no target named {name!r} (targets: {known})",
                         f"add a [targets.{name}] section (connector, base_url, token) to "
                         "vaultkeeper.toml, see docs/restore.md")
    return name, settings.targets[name]


@contextmanager
def open_target(settings: Settings, name: str | None) -> Iterator[Target]:
    """Open the target's writer (a HubSpot portal or a Salesforce org)."""
    label, source = target_settings(settings, name)
    with ExitStack() as stack:
        if source.connector in registry.writable():
            if not source.base_url or source.token is None:
                raise ConfigError("base_url and token are required to write to a CRM",
                                  'set base_url and token = { env = "CRM_TOKEN" }',
                                  key=f"[{'source' if label == SOURCE else 'targets.' + label}]")
            vendor, url, token, ca = (source.connector, source.base_url, source.token.reveal(),
                                      source.ca_file)
        else:
            raise UsageError(f"cannot restore into a {source.connector!r} CRM",
                             f"restore into a {' or '.join(registry.writable())} target (--into "
                             "NAME); to try it, run `vaultkeeper sandbox serve` and point a "
                             "[targets.NAME] at it")
        writer = make_writer(vendor, url, token, ca_file=ca, api_version=source.api_version,
                             max_retries=source.max_retries, timeout=source.timeout)
        stack.callback(writer.close)
        yield Target(label, source, vendor, writer, url, token, ca)
