"""The vendor targets: an empty HubSpot portal or Salesforce org (the built-in sandbox)."""

from __future__ import annotations

from collections.abc import Callable

from vaultkeeper.errors import UsageError
from vaultkeeper.services.rehearse.model import LoadStats, PackageData, Returned, TargetMapping
from vaultkeeper.services.rehearse.targets import Target


def default_mapping(kind: str) -> dict[str, dict[str, str]]:
    """The built-in mapping for a vendor target."""
    return {}


def destinations(kind: str) -> frozenset[str]:
    """Destinations a vendor mapping may use."""
    return frozenset()


def rehearse_vendor(target: Target, pkg: PackageData, mapping: TargetMapping,
                    progress: Callable[[str, int], None]
                    ) -> tuple[LoadStats, Returned, dict[str, float]]:
    """Import into the vendor target, export back."""
    raise UsageError(f"rehearsals into {target.kind} are not available yet",
                     "rehearse into a Tryton server (tryton:URL)")
