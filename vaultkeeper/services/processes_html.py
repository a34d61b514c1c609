"""The business-process readiness report as one self-contained HTML page for a board: one
plain sentence first, then each process with its targets and what stands in the way."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from vaultkeeper.services.html_page import e, page
from vaultkeeper.services.processes import AMBER, GREEN, RED, Readiness, human


def verdict(results: Sequence[Readiness], now: datetime) -> str:
    """``On 1 December 2026 all 6 business processes could be restored within their
    targets.`` or which could not, and why, first."""
    day = f"{now.day} {now:%B %Y}"
    red = [r for r in results if r.colour == RED]
    amber = [r for r in results if r.colour not in (RED, GREEN)]
    n = len(results)
    if not results:
        return f"On {day} no business process is defined: see `vaultkeeper processes list`."
    if not red:
        tail = (f" ({len(amber)} with a warning, below)" if amber else "")
        return (f"On {day} all {n} business processes could be restored from the last backup "
                f"within their recovery targets{tail}.")
    first = red[0]
    names = ", ".join(r.process.title or r.process.name for r in red)
    return (f"On {day} {len(red)} of {n} business processes could NOT be restored within their "
            f"targets: {names}. First reason: {first.reasons[0] if first.reasons else '?'}.")


def render(results: Sequence[Readiness], now: datetime) -> str:
    """The HTML page for ``processes check``."""
    worst = RED if any(r.colour == RED for r in results) else (
        GREEN if all(r.colour == GREEN for r in results) else AMBER)
    parts = ["<h1>Business processes: can we restore them in time?</h1>",
             f'<p class="verdict {worst}">{e(verdict(results, now))}</p>',
             "<table><thead><tr><th class=num>rank</th><th>process</th><th>owner</th>"
             "<th>status</th><th class=num>RTO</th><th class=num>RPO</th><th>why</th>"
             "</tr></thead><tbody>"]
    for r in results:
        p = r.process
        why = r.reasons or [f.message for f in r.findings if f.aspect in ("fresh", "rto")]
        parts.append(
            f"<tr><td class=num>{p.priority}</td><td>{e(p.title or p.name)}</td>"
            f"<td>{e(p.owner)}</td><td><span class='badge {e(r.colour)}'>{e(r.colour)}</span>"
            f"</td><td class=num>{e(human(p.rto))}</td><td class=num>{e(human(p.rpo))}</td>"
            f"<td>{'<br>'.join(e(w) for w in why)}</td></tr>")
    parts.append("</tbody></table>")
    return page("vaultkeeper: business process readiness", parts)
