"""The sandbox as a source: ``[source] connector = "sandbox"`` starts the built-in CRM and reads
it through the connector of its flavour (HubSpot or Salesforce).

``vaultkeeper.registry`` imports this module by name the first time a configuration names the
sandbox, so no production module imports the sandbox. Its exports carry the flavour's name in
their manifest, so the mirror and the package read them as that vendor's.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from vaultkeeper import registry
from vaultkeeper.config import SourceSettings
from vaultkeeper.registry import SourceKind
from vaultkeeper.sandbox.data import HUBSPOT_OBJECTS, SALESFORCE_OBJECTS
from vaultkeeper.sandbox.faults import FaultConfig
from vaultkeeper.sandbox.server import Sandbox

OBJECTS = {"hubspot": tuple(HUBSPOT_OBJECTS), "salesforce": tuple(SALESFORCE_OBJECTS)}
"""The objects the sandbox serves, by flavour."""


def open_source(source: SourceSettings, stack: ExitStack) -> Any:
    """Start the sandbox (stopped with the stack) and connect to it as its flavour."""
    sandbox = stack.enter_context(Sandbox(records=source.records, seed=source.seed,
                                          faults=FaultConfig.parse(source.faults)))
    connect = registry.get(source.flavour).connect
    assert connect is not None, f"{source.flavour} cannot be a sandbox flavour"
    return connect(source, sandbox.url, sandbox.token, sandbox.ca_file)


def open_writer(source: SourceSettings, stack: ExitStack) -> Any:
    """Start a fresh sandbox (stopped with the stack) and write to it as its flavour."""
    sandbox = stack.enter_context(Sandbox(records=source.records, seed=source.seed,
                                          faults=FaultConfig.parse(source.faults)))
    return registry.writer_factory(source.flavour)(
        sandbox.url, sandbox.token, ca_file=sandbox.ca_file, api_version=source.api_version,
        max_retries=source.max_retries, timeout=source.timeout)


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
