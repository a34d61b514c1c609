"""The sandbox as a source: ``[source] connector = "sandbox"`` starts the built-in CRM and reads
it through the connector of its flavour (HubSpot or Salesforce).

``vaultkeeper.registry`` imports this module by name the first time a configuration names the
sandbox, so no production module imports the sandbox. Its exports carry the flavour's name in
their manifest, so the mirror and the package read them as that vendor's.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import replace
from typing import Any

from vaultkeeper import crypto, registry
from vaultkeeper.config import SourceSettings
from vaultkeeper.registry import SourceKind
from vaultkeeper.sandbox.data import HUBSPOT_OBJECTS, SALESFORCE_OBJECTS
from vaultkeeper.sandbox.faults import FaultConfig
from vaultkeeper.sandbox.server import Sandbox
from vaultkeeper.sandbox.sf_oauth import ConnectedApp

OBJECTS = {"hubspot": (*HUBSPOT_OBJECTS, "owners", "pipelines"),
           "salesforce": tuple(SALESFORCE_OBJECTS)}
"""The objects the sandbox serves, by flavour."""


def open_source(source: SourceSettings, stack: ExitStack) -> Any:
    """Start the sandbox (stopped with the stack) and connect to it as its flavour."""
    app = _sandbox_app(source) if source.auth != "token" else None
    sandbox = stack.enter_context(Sandbox(records=source.records, seed=source.seed,
                                          faults=FaultConfig.parse(source.faults),
                                          connected_app=app))
    if app is not None and source.flavour == "salesforce":
        # Sign in at the sandbox's own /services/oauth2/token with the configured flow.
        source = replace(source, login_url=sandbox.url)
    connect = registry.get(source.flavour).connect
    assert connect is not None, f"{source.flavour} cannot be a sandbox flavour"
    return connect(source, sandbox.url, sandbox.token, sandbox.ca_file)


def _sandbox_app(source: SourceSettings) -> ConnectedApp:
    """The built-in sandbox trusts the configured client and key (a demo of the flows)."""
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


def open_writer(source: SourceSettings, stack: ExitStack) -> Any:
    """Start a fresh sandbox (stopped with the stack) and write to it as its flavour."""
    sandbox = stack.enter_context(Sandbox(records=source.records, seed=source.seed,
                                          faults=FaultConfig.parse(source.faults)))
    return registry.writer_factory(source.flavour)(
        registry.WriterEndpoint.of(source, sandbox.url, sandbox.token, sandbox.ca_file))


def known_objects(source: SourceSettings) -> tuple[set[str], str]:
    """Exactly the objects the sandbox serves in its flavour."""
    names = set(OBJECTS[source.flavour])
    return names, f"the sandbox ({source.flavour} flavour) has {', '.join(sorted(names))}"


def summary(source: SourceSettings) -> str:
    """``config show``: the flavour, size, seed and faults."""
    return (f"built-in sandbox, {source.flavour} API, {source.records} records, seed "
            f"{source.seed}, faults {source.faults}")


SOURCE = registry.register(SourceKind(name=registry.SANDBOX, open=open_source,
                                      known_objects=known_objects, summary=summary,
                                      writer=open_writer))
