"""CRM sources by name; ``open_connector`` builds a reader from settings (or starts the
sandbox), ``open_writer`` / ``make_writer`` the matching writer (connectors/writer.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from vaultkeeper.connectors.base import Connector
from vaultkeeper.connectors.writer import CrmWriter
from vaultkeeper.errors import ConfigError

if TYPE_CHECKING:
    from vaultkeeper.config import SourceSettings

@contextmanager
def open_connector(source: SourceSettings) -> Iterator[Connector]:
    """Yield a ready connector for ``source``; ``sandbox`` starts the built-in CRM first."""
    with ExitStack() as stack:
        if source.connector == "sandbox":
            from vaultkeeper.sandbox import FaultConfig, Sandbox

            sandbox = stack.enter_context(Sandbox(records=source.records, seed=source.seed,
                                                  faults=FaultConfig.parse(source.faults)))
            connector = _http_connector(source.flavour, source, sandbox.url, sandbox.token,
                                        sandbox.ca_file)
        elif source.connector in ("hubspot", "salesforce"):
            if not source.base_url:
                raise ConfigError("base_url is required for this connector",
                                  "set [source] base_url", key="[source] base_url")
            if source.token is None:
                raise ConfigError("token is required for this connector",
                                  'set [source] token = { env = "CRM_TOKEN" }',
                                  key="[source] token")
            connector = _http_connector(source.connector, source, source.base_url,
                                        source.token.reveal(), source.ca_file)
        elif source.connector == "csv":
            from vaultkeeper.connectors.csv_source import CsvConnector

            if source.path is None:
                raise ConfigError("path is required for the csv connector",
                                  "set [source] path to the folder or .zip the vendor delivered",
                                  key="[source] path")
            connector = CsvConnector(source.path, objects=source.objects,
                                     id_column=source.id_column, encoding=source.encoding,
                                     delimiter=source.delimiter)
        else:
            from vaultkeeper.config import CONNECTORS

            raise ConfigError(f"unknown connector {source.connector!r}",
                              f"use one of {', '.join(CONNECTORS)}", key="[source] connector")
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
