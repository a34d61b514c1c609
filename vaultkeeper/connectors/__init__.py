"""CRM sources by name; ``open_connector`` builds one from settings (or starts the sandbox)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from vaultkeeper.connectors.base import Connector
from vaultkeeper.errors import ConfigError

if TYPE_CHECKING:
    from vaultkeeper.config import Secret, SourceSettings
    from vaultkeeper.connectors.sf_auth import SalesforceSignIn
    from vaultkeeper.sandbox.sf_oauth import ConnectedApp

@contextmanager
def open_connector(source: SourceSettings) -> Iterator[Connector]:
    """Yield a ready connector for ``source``; ``sandbox`` starts the built-in CRM first."""
    with ExitStack() as stack:
        connector: Connector
        if source.connector == "sandbox":
            from vaultkeeper.sandbox import FaultConfig, Sandbox

            app = _sandbox_app(source) if source.auth != "token" else None
            sandbox = stack.enter_context(Sandbox(records=source.records, seed=source.seed,
                                                  faults=FaultConfig.parse(source.faults),
                                                  connected_app=app))
            if source.auth != "token" and source.flavour == "salesforce":
                from vaultkeeper.connectors.salesforce import SalesforceConnector

                connector = SalesforceConnector(
                    None, None, api_version=source.api_version, ca_file=sandbox.ca_file,
                    page_size=source.page_size, max_retries=source.max_retries,
                    timeout=source.timeout, objects=source.objects,
                    max_url_length=source.max_url_length, bulk_threshold=source.bulk_threshold,
                    sign_in=salesforce_sign_in(source, sandbox.ca_file, sandbox.url))
            else:
                connector = _http_connector(source.flavour, source, sandbox.url, sandbox.token,
                                            sandbox.ca_file)
        elif source.connector == "salesforce" and source.auth != "token":
            connector = _http_connector("salesforce", source, source.base_url, None,
                                        source.ca_file)
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


def _http_connector(kind: str, source: SourceSettings, url: str | None, token: str | None,
                    ca_file: Path | None) -> Connector:
    if kind == "salesforce":
        from vaultkeeper.connectors.salesforce import SalesforceConnector

        return SalesforceConnector(
            url, token, api_version=source.api_version, ca_file=ca_file,
            page_size=source.page_size, max_retries=source.max_retries, timeout=source.timeout,
            max_url_length=source.max_url_length, objects=source.objects,
            sign_in=salesforce_sign_in(source, ca_file) if source.auth != "token" else None,
            bulk_threshold=source.bulk_threshold)
    from vaultkeeper.connectors.hubspot import HubSpotConnector

    assert url is not None and token is not None
    return HubSpotConnector(
        url, token, ca_file=ca_file, page_size=source.page_size,
        max_retries=source.max_retries, timeout=source.timeout,
        max_url_length=source.max_url_length, objects=source.objects)


def salesforce_sign_in(source: SourceSettings, ca_file: Path | None,
                       login_url: str | None = None) -> SalesforceSignIn:
    """The OAuth sign-in ``[source] auth`` asks for (secrets stay references until used)."""
    from vaultkeeper.connectors.sf_auth import LOGIN_URL, SalesforceSignIn

    def ref(secret: Secret | None) -> Callable[[], str] | None:
        return secret.reveal if secret is not None else None

    return SalesforceSignIn(
        source.auth, login_url=login_url or source.login_url or LOGIN_URL,
        client_id=source.client_id, username=source.username,
        private_key=ref(source.private_key), client_secret=ref(source.client_secret),
        refresh_token=ref(source.refresh_token), ca_file=ca_file, timeout=source.timeout)


def _sandbox_app(source: SourceSettings) -> ConnectedApp:
    """The built-in sandbox trusts the configured client and key (a demo of the flows)."""
    from vaultkeeper import crypto
    from vaultkeeper.sandbox.sf_oauth import ConnectedApp

    app = ConnectedApp()
    if source.client_id:
        app.client_id = source.client_id
    if source.username:
        app.username = source.username
    if source.client_secret is not None:
        app.client_secret = source.client_secret.reveal()
    if source.refresh_token is not None:
        app.refresh_token = source.refresh_token.reveal()
    if source.private_key is not None:
        app.jwt_public_key = crypto.public_key_of(source.private_key.reveal())
    return app
