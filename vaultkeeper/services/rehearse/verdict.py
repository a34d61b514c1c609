"""What the last rehearsal says about a set of objects (for the runbook and `processes check`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def summary(row: dict[str, Any]) -> str:
    """One line: when, where, the result and the counts."""
    report = row.get("report") or {}
    when = str(row.get("finished_at") or row.get("started_at") or "?")[:16].replace("T", " ")
    result = str(row.get("result") or "?").upper()
    line = f"{result} on {when} UTC into `{row.get('target', '?')}` ({row.get('kind', '?')})"
    if report.get("records") is not None:
        line += (f": {report.get('records_back', 0)} of {report['records']} records came back, "
                 f"{report.get('relations_linked', 0)} of {report.get('relations_expected', 0)} "
                 "relations linked")
    if row.get("error"):
        line += f" — {row['error']}"
    return line


def survival(row: dict[str, Any] | None, objects: Sequence[str]) -> tuple[str, str]:
    """``(state, message)`` for the objects of one process: ok, warn or fail."""
    if row is None:
        return "warn", "never rehearsed — run `vaultkeeper emergency rehearse PACKAGE --into …`"
    when = str(row.get("finished_at") or row.get("started_at") or "?")[:10]
    if row.get("result") == "error":
        return "warn", f"the last rehearsal ({when}) did not finish: {row.get('error') or '?'}"
    per_entity = (row.get("report") or {}).get("objects", {})
    mine = {e: o for e, o in per_entity.items() if o.get("object") in objects}
    if not mine:
        return "warn", (f"{', '.join(objects)}: not in the canonical model, so the rehearsal "
                        f"of {when} did not cover them")
    lost = [f"{e}.{x['field']}" for e, o in mine.items() for x in o.get("lost", [])]
    lost += [f"{e}: {o['missing_count']} records" for e, o in mine.items()
             if o.get("missing_count")]
    if lost:
        return "fail", f"lost in the rehearsal of {when}: {', '.join(lost[:6])}"
    return "ok", (f"{', '.join(sorted(mine))} survived the rehearsal of {when} into "
                  f"{row.get('target', '?')}")
