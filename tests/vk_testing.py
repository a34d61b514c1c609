"""Helpers shared by tests (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

from vaultkeeper.connectors.hubspot import HubSpotConnector
from vaultkeeper.connectors.salesforce import SalesforceConnector

RECORDS = 5000
SEED = 11


def hubspot(sb, **kw):
    kw.setdefault("max_retries", 12)
    return HubSpotConnector(sb.url, sb.token, ca_file=sb.ca_file, **kw)


def export_sandbox(out, *, records: int = 300, seed: int = 3, objects=()):
    """Export a fault-free HubSpot-flavour sandbox into ``out``; returns the manifest."""
    from vaultkeeper.sandbox import FaultConfig, Sandbox
    from vaultkeeper.services.export import run_export

    with Sandbox(records=records, seed=seed, faults=FaultConfig.parse("none")) as sb:
        connector = hubspot(sb)
        try:
            return run_export(connector, out, objects=objects)
        finally:
            connector.close()


def salesforce(sb, **kw):
    kw.setdefault("max_retries", 12)
    return SalesforceConnector(sb.url, sb.token, ca_file=sb.ca_file, **kw)


def pair_counts(manifest):
    """Relation counts keyed by the unordered pair of objects."""
    out = {}
    for stem, entry in manifest["relations"].items():
        a, b = stem.split("__")
        out[frozenset((a, b))] = out.get(frozenset((a, b)), 0) + entry["count"]
    return out
