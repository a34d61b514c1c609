"""``policies/retention.toml``: how many snapshots of each period to keep."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from vaultkeeper.errors import ConfigError
from vaultkeeper.policies.common import as_table
from vaultkeeper.tomlcheck import Field, Origin, as_float, as_int, read_fields

UNITS = ("last", "hourly", "daily", "weekly", "monthly", "yearly")
"""The periods of restic's ``--keep-*`` rules, in its order."""
DEFAULT_KEEP: Mapping[str, int] = MappingProxyType(
    {"last": 3, "hourly": 24, "daily": 14, "weekly": 8, "monthly": 12, "yearly": 7})
"""The rules without a ``retention.toml`` ``[keep]`` table."""


@dataclass(frozen=True)
class RetentionPolicy:
    """How many snapshots each location keeps, and the mass-deletion guard."""

    keep: Mapping[str, int] = field(default_factory=lambda: DEFAULT_KEEP, hash=False)
    """Snapshots kept per period of ``UNITS`` (0 or absent: the rule is off)."""
    mass_deletion_threshold: float = 0.20

    def rules(self) -> dict[str, int]:
        """The rules that are on: period → count, in restic's order."""
        return {unit: self.keep[unit] for unit in UNITS if self.keep.get(unit, 0) > 0}

    def forget_args(self) -> list[str]:
        """``restic forget`` options for this policy: ``--keep-daily 14 …`` (zeros left out)."""
        return [arg for unit, count in self.rules().items()
                for arg in (f"--keep-{unit}", str(count))]


_KEEP = {unit: Field(as_int(0), 14) for unit in UNITS}


def parse_retention(doc: dict[str, Any], file: str) -> RetentionPolicy:
    """``retention.toml`` as a RetentionPolicy."""
    top = read_fields(doc, {"mass_deletion_threshold": Field(as_float(0.0, 1.0), 0.2),
                            "keep": Field(as_table, None)}, Origin(file, ""))
    keep = read_fields(top.get("keep", {}), _KEEP, Origin(file, "[keep]"))
    # What the file lists is the policy: a rule left out is off.
    keep = (dict.fromkeys(UNITS, 0) if "keep" in top else dict(DEFAULT_KEEP)) | keep
    policy = RetentionPolicy(MappingProxyType(keep),
                             **{k: v for k, v in top.items() if k != "keep"})
    if not policy.forget_args():
        # restic would refuse, but only after the first backup; say it now.
        raise ConfigError("every rule is 0, so no snapshot would be kept", "daily = 14",
                          file=file, key="[keep]")
    return policy
