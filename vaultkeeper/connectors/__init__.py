"""CRM sources by name; ``open_connector`` builds one from settings (or starts the sandbox).

Each source's record (how to open it, its settings, its readers) is in its own module and found
through ``vaultkeeper.registry``, which imports that module the first time it is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

from vaultkeeper import registry
from vaultkeeper.connectors.base import Connector

if TYPE_CHECKING:
    from vaultkeeper.config import SourceSettings


@contextmanager
def open_connector(source: SourceSettings) -> Iterator[Connector]:
    """Yield a ready connector for ``source``; ``sandbox`` starts the built-in CRM first."""
    with ExitStack() as stack:
        connector: Connector = registry.get(source.connector).open(source, stack)
        stack.callback(connector.close)
        yield connector
