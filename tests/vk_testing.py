"""Helpers shared by tests (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

from vaultkeeper.connectors.hubspot import HubSpotConnector
from vaultkeeper.connectors.salesforce import SalesforceConnector

RECORDS = 5000
SEED = 11


def hubspot(sb, **kw):
    kw.setdefault("max_retries", 12)
    return HubSpotConnector(sb.url, sb.token, ca_file=sb.ca_file, **kw)


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
