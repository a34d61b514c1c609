"""``policies/retention.toml``: how many snapshots of each period to keep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vaultkeeper.errors import ConfigError
from vaultkeeper.policies.common import as_table
from vaultkeeper.tomlcheck import Field, Origin, as_float, as_int, read_fields


@dataclass(frozen=True)
class RetentionPolicy:
    """How many snapshots each location keeps, and the mass-deletion guard."""

    keep_last: int = 3
    keep_hourly: int = 24
    keep_daily: int = 14
    keep_weekly: int = 8
    keep_monthly: int = 12
    keep_yearly: int = 7
    mass_deletion_threshold: float = 0.20

    def forget_args(self) -> list[str]:
        """``restic forget`` options for this policy: ``--keep-daily 14 …`` (zeros left out)."""
        args: list[str] = []
        for unit in ("last", "hourly", "daily", "weekly", "monthly", "yearly"):
            count = getattr(self, f"keep_{unit}")
            if count:
                args += [f"--keep-{unit}", str(count)]
        return args


_KEEP = {unit: Field(as_int(0), 14) for unit in ("last", "hourly", "daily", "weekly", "monthly",
                                                  "yearly")}


def parse_retention(doc: dict[str, Any], file: str) -> RetentionPolicy:
    """``retention.toml`` as a RetentionPolicy."""
    top = read_fields(doc, {"mass_deletion_threshold": Field(as_float(0.0, 1.0), 0.2),
                            "keep": Field(as_table, None)}, Origin(file, ""))
    keep = read_fields(top.get("keep", {}), _KEEP, Origin(file, "[keep]"))
    if "keep" in top:   # what the file lists is the policy: a rule left out is off
        keep = dict.fromkeys(_KEEP, 0) | keep
    policy = RetentionPolicy(**{f"keep_{k}": v for k, v in keep.items()},
                             **{k: v for k, v in top.items() if k != "keep"})
    if not policy.forget_args():
        # restic would refuse, but only after the first backup; say it now.
        raise ConfigError("every rule is 0, so no snapshot would be kept", "daily = 14",
                          file=file, key="[keep]")
    return policy
