"""CRM sources by name; ``open_connector`` builds one from settings (or starts the sandbox)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from vaultkeeper.connectors.base import Connector
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
