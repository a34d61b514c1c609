"""The API budget: a run is planned within the vendor's daily quota less a reserve kept for
the organisation's other integrations (``[source] api_reserve``), before anything is read.

The quota comes from the vendor (HubSpot ``X-HubSpot-RateLimit-Daily`` / ``-Remaining``
headers; Salesforce ``/limits`` ``DailyApiRequests``); the estimate from each object's counts
(full: pages per property chunk; incremental: the changes since the object's high-water mark).
A run that cannot fit is refused with the numbers (QuotaError, exit 6: the source cannot serve
it now, like the vendor's own quota refusals). Priority objects are exported first anyway
(services/processes.priority_order); the refusal says what they alone would need.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from vaultkeeper.connectors.changes import ChangeFeed
from vaultkeeper.errors import QuotaError
from vaultkeeper.models import ObjectSpec

if TYPE_CHECKING:
    from vaultkeeper.services.incremental import BudgetCheck, ObjectPlan


def estimate(feed: ChangeFeed, specs: Sequence[ObjectSpec],
             plans: Mapping[str, ObjectPlan]) -> dict[str, int]:
    """Requests each object of the run will cost (carried objects cost none)."""
    out: dict[str, int] = {}
    for spec in specs:
        plan = plans.get(spec.name)
        if plan is not None and plan.mode == "carried":
            continue
        since = plan.since if plan is not None and plan.mode == "incremental" else None
        out[spec.name] = feed.estimate(spec, since)
    return out


def budget_check(reserve: float, priority: Sequence[str] = ()) -> BudgetCheck:
    """The check the export runs once it knows the objects and their plans."""
    def check(feed: ChangeFeed, specs: list[ObjectSpec],
              plans: Mapping[str, ObjectPlan]) -> None:
        quota = feed.quota()
        if quota is None:
            return   # the vendor does not say (HubSpot OAuth apps): nothing to plan against
        limit, remaining = quota
        kept = math.ceil(round(limit * reserve, 6))   # 15000 × 0.999 is 14985.000000000002
        usable = max(0, remaining - kept)
        per = estimate(feed, specs, plans)
        need = sum(per.values())
        if need <= usable:
            return
        first = [n for n in priority if n in per]
        alone = (f"; the priority objects ({', '.join(first[:3])}"
                 f"{' …' if len(first) > 3 else ''}) alone need {sum(per[n] for n in first)}"
                 if first else "")
        raise QuotaError(
            f"this run needs about {need} API requests but only {usable} may be used: "
            f"{remaining} of the daily {limit} remain and api_reserve keeps {kept} "
            f"({reserve * 100:g}%) for other integrations{alone}",
            "wait for the daily quota to reset, lower [source] api_reserve, or narrow "
            "[source] objects")
    return check
