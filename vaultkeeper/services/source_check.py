"""``config check --online``: sign in to the source and report what the connected user can read."""

from __future__ import annotations

from typing import Any

from vaultkeeper.config import SourceSettings
from vaultkeeper.connectors import open_connector


def check_source(source: SourceSettings) -> dict[str, Any]:
    """Sign in (Salesforce flows included) and list readable objects; raises ConnectorError."""
    with open_connector(source) as connector:
        facts = dict(connector.check_access())
    facts.setdefault("connector", source.connector)
    return facts


def describe_access(facts: dict[str, Any]) -> list[str]:
    """Human lines for the check's answer."""
    objects = [str(o) for o in facts.get("readable_objects", [])]
    shown = ", ".join(objects[:12]) + (f" … (+{len(objects) - 12})" if len(objects) > 12 else "")
    who = facts.get("user")
    lines = [f"Source OK: {facts.get('connector')}" + (f", signed in as {who}" if who else "")
             + (f" ({facts['sign_in']})" if facts.get("sign_in") else "")]
    if facts.get("instance_url"):
        lines.append(f"  instance   {facts['instance_url']}")
    lines.append(f"  can read   {len(objects)} objects" + (f": {shown}" if objects else ""))
    if facts.get("api_usage"):
        lines.append(f"  api usage  {facts['api_usage']}")
    return lines
