"""The local CRM sandbox: HubSpot CRM v3 and Salesforce REST over HTTPS with seeded data.

``Sandbox`` serves deterministic data generated from ``(records, seed)``; ``FaultConfig``
switches on rate limits, server errors, slow pages, dropped connections and malformed records.
See docs/sandbox.md.
"""

from vaultkeeper.sandbox.faults import FaultConfig
from vaultkeeper.sandbox.server import DEFAULT_MAX_URL_LENGTH, SANDBOX_TOKEN, Sandbox

__all__ = ["DEFAULT_MAX_URL_LENGTH", "SANDBOX_TOKEN", "FaultConfig", "Sandbox"]
