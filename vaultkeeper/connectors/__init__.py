"""CRM sources by name: ``open_connector`` builds a reader from settings (or starts the
sandbox), ``open_writer`` / ``make_writer`` the matching writer (connectors/writer.py).

Each source's record (how to open it, its settings, its readers) is in its own module and found
through ``vaultkeeper.registry``, which imports that module the first time it is asked for; the
same goes for each vendor's writer.
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


def make_writer(kind: str, url: str, token: str, *, ca_file: Path | None = None,
                api_version: str = "59.0", max_retries: int = 8,
                timeout: float = 60.0) -> CrmWriter:
    """A writer for CRM ``kind`` (a vendor with a writer in the registry) at ``url``."""
    factory = registry.writer_factory(kind)
    writer: CrmWriter = factory(registry.WriterEndpoint(url, token, ca_file, api_version,
                                                        max_retries, timeout))
    return writer


@contextmanager
def open_writer(source: SourceSettings) -> Iterator[CrmWriter]:
    """Yield a writer for the CRM ``source`` describes (``sandbox``: a fresh built-in CRM
    of the configured flavour, which lives as long as the context)."""
    with ExitStack() as stack:
        kind = registry.get(source.connector)
        if kind.writer is not None:      # a source that starts its own CRM (the sandbox)
            writer: CrmWriter = kind.writer(source, stack)
        else:
            registry.writer_factory(source.connector)   # refuses a CRM without a writer
            if not source.base_url or source.token is None:
                raise ConfigError("base_url and token are required to write to the CRM",
                                  'set [source] base_url and token = { env = "CRM_TOKEN" }',
                                  key="[source] base_url")
            writer = make_writer(source.connector, source.base_url, source.token.reveal(),
                                 ca_file=source.ca_file, api_version=source.api_version,
                                 max_retries=source.max_retries, timeout=source.timeout)
        stack.callback(writer.close)
        yield writer
