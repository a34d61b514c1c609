"""CRM sources by name; ``open_connector`` builds one from settings (or starts the sandbox).

Each source's record (how to open it, its settings, its readers) is in its own module and found
through ``vaultkeeper.registry``, which imports that module the first time it is asked for.
``open_writer`` / ``make_writer`` build the matching writer (connectors/writer.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from vaultkeeper import registry
from vaultkeeper.connectors.base import Connector
from vaultkeeper.connectors.writer import CrmWriter
from vaultkeeper.errors import ConfigError

if TYPE_CHECKING:
    from vaultkeeper.config import SourceSettings


@contextmanager
def open_connector(source: SourceSettings) -> Iterator[Connector]:
    """Yield a ready connector for ``source``; ``sandbox`` starts the built-in CRM first."""
    with ExitStack() as stack:
        connector: Connector = registry.get(source.connector).open(source, stack)
        stack.callback(connector.close)
        yield connector


def _http_connector(kind: str, source: SourceSettings, url: str, token: str,
                    ca_file: Path | None) -> Connector:
    if kind == "salesforce":
        from vaultkeeper.connectors.salesforce import SalesforceConnector

        return SalesforceConnector(
            url, token, api_version=source.api_version, ca_file=ca_file,
            page_size=source.page_size, max_retries=source.max_retries, timeout=source.timeout,
            max_url_length=source.max_url_length, objects=source.objects)
    from vaultkeeper.connectors.hubspot import HubSpotConnector

    return HubSpotConnector(
        url, token, ca_file=ca_file, page_size=source.page_size,
        max_retries=source.max_retries, timeout=source.timeout,
        max_url_length=source.max_url_length, objects=source.objects)


WRITABLE = ("hubspot", "salesforce")


def make_writer(kind: str, url: str, token: str, *, ca_file: Path | None = None,
                api_version: str = "59.0", max_retries: int = 8,
                timeout: float = 60.0) -> CrmWriter:
    """A writer for vendor ``kind`` (``hubspot`` | ``salesforce``) at ``url``."""
    if kind == "salesforce":
        from vaultkeeper.connectors.salesforce_writer import SalesforceWriter

        return SalesforceWriter(url, token, api_version=api_version, ca_file=ca_file,
                                max_retries=max_retries, timeout=timeout)
    if kind == "hubspot":
        from vaultkeeper.connectors.hubspot_writer import HubSpotWriter

        return HubSpotWriter(url, token, ca_file=ca_file, max_retries=max_retries,
                             timeout=timeout)
    raise ConfigError(f"connector {kind!r} cannot be written to",
                      f"restore into one of {', '.join(WRITABLE)}", key="[source] connector")


@contextmanager
def open_writer(source: SourceSettings) -> Iterator[CrmWriter]:
    """Yield a writer for the CRM ``source`` describes (``sandbox``: a fresh built-in CRM
    of the configured flavour, which lives as long as the context)."""
    with ExitStack() as stack:
        if source.connector == "sandbox":
            from vaultkeeper.sandbox import FaultConfig, Sandbox

            sandbox = stack.enter_context(Sandbox(records=source.records, seed=source.seed,
                                                  faults=FaultConfig.parse(source.faults)))
            writer = make_writer(source.flavour, sandbox.url, sandbox.token,
                                 ca_file=sandbox.ca_file, api_version=source.api_version,
                                 max_retries=source.max_retries, timeout=source.timeout)
        else:
            if source.connector not in WRITABLE:
                raise ConfigError(f"connector {source.connector!r} cannot be written to",
                                  f"restore into one of {', '.join(WRITABLE)}",
                                  key="[source] connector")
            if not source.base_url or source.token is None:
                raise ConfigError("base_url and token are required to write to the CRM",
                                  'set [source] base_url and token = { env = "CRM_TOKEN" }',
                                  key="[source] base_url")
            writer = make_writer(source.connector, source.base_url, source.token.reveal(),
                                 ca_file=source.ca_file, api_version=source.api_version,
                                 max_retries=source.max_retries, timeout=source.timeout)
        stack.callback(writer.close)
        yield writer
