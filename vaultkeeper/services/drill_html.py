"""The drill report as one self-contained HTML page (see html_page)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vaultkeeper.services.html_page import e as _e
from vaultkeeper.services.html_page import page


def _mark(ok: bool) -> str:
    return '<span class="ok">✔</span>' if ok else '<span class="bad">✘</span>'


def _hours(seconds: Any) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def _day(stamp: Any) -> str:
    """``2026-12-01T…`` → ``1 December 2026`` (the stamp as written when it does not parse)."""
    try:
        when = datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp or "an unknown date")
    return f"{when.day} {when:%B %Y}"


def _took(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return ""
    return (f" in {seconds:.0f} seconds" if seconds < 120 else
            f" in {seconds / 60:.0f} minutes")


def verdict(report: dict[str, Any]) -> str:
    """One plain sentence for a board member: did the backup come back, and how much of it."""
    day = _day(report.get("started_at"))
    where = report.get("location") or "?"
    result = report.get("result")
    if result == "verified":
        relations = report.get("relations") or []
        links = sum(int(r.get("expected") or 0) for r in relations)
        rels = f", every relation ({links:,})" if relations else ""
        rto = (report.get("durations") or {}).get("rto_s")
        return (f"On {day} your backup at {where} was restored completely: "
                f"{int(report.get('records') or 0):,} records{rels}{_took(rto)}.")
    if result == "failed":
        n = len(report.get("failures") or [])
        return (f"On {day} the backup at {where} was restored but is NOT complete or not "
                f"identical to what was exported: {n} problem{'s' if n != 1 else ''}, listed "
                "below with what to do.")
    return (f"On {day} the restore drill of the backup at {where} could not run; nothing was "
            "proven. The reason is below.")


def render(report: dict[str, Any]) -> str:
    """The HTML page for a drill report (``DrillReport.as_json()``)."""
    d = report.get("durations") or {}
    result = str(report.get("result", "error"))
    facts = [
        ("Location", f"{report.get('location')} ({report.get('location_url', '')})"),
        ("Snapshot", f"{report.get('short_id')} — {report.get('snapshot_id')}"),
        ("Snapshot taken", report.get("snapshot_time")),
        ("Age at drill (achieved RPO)", _hours(report.get("age_s"))),
        ("Restore + load (measured RTO)", f"{d.get('rto_s', '-')} s"),
        ("restic check", f"read-data-subset {report.get('read_data_subset')}, "
                         f"{d.get('check_s', '-')} s"),
        ("Durations", ", ".join(f"{k[:-2]} {v} s" for k, v in d.items())),
        ("Records", f"{report.get('records', 0):,}"),
        ("Drill started", report.get("started_at")),
        ("Mirror", report.get("mirror_path")),
    ]
    parts = [f"<h1>Restore drill {_e(report.get('drill_id'))} "
             f'<span class="badge {_e(result)}">{_e(result)}</span></h1>',
             f'<p class="verdict {_e(result)}">{_e(verdict(report))}</p>',
             "<dl>"]
    parts += [f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts]
    parts.append("</dl>")
    if report.get("error"):
        parts.append(f'<h2>Could not run</h2><p class="bad">{_e(report["error"])}</p>')
    failures = report.get("failures") or []
    if failures:
        parts.append("<h2>Failures and what to do</h2><ul>")
        parts += [f'<li><span class="bad">{_e(f["message"])}</span><br>'
                  f'<span class="muted">Fix: {_e(f["fix"])}</span></li>' for f in failures]
        parts.append("</ul>")
    if report.get("objects"):
        parts.append("<h2>Objects</h2><table><thead><tr><th>object</th>"
                     "<th class=num>manifest</th>"
                     "<th class=num>restored</th><th class=num>archived</th>"
                     "<th>content digest</th>"
                     "<th>schema</th><th>result</th></tr></thead><tbody>")
        for o in report["objects"]:
            parts.append(
                f"<tr><td>{_e(o['object'])}</td><td class=num>{_e(o['expected'])}</td>"
                f"<td class=num>{_e(o['restored'])}</td><td class=num>{_e(o['archived'])}</td>"
                f"<td>{_mark(o['digest_ok'])}</td><td>{_mark(o['schema_ok'])}</td>"
                f"<td>{_mark(o['ok'])}</td></tr>")
        parts.append("</tbody></table>")
    if report.get("relations"):
        parts.append("<h2>Relations</h2><table><thead><tr><th>relation</th>"
                     "<th class=num>manifest</th><th class=num>restored</th><th>digest</th>"
                     "<th class=num>missing endpoints</th></tr></thead>"
                     "<tbody>")
        for r in report["relations"]:
            dangling = r["dangling_from"] + r["dangling_to"]
            detail = (f"{dangling}: {', '.join(r['dangling_samples'][:5])}" if dangling
                      else "0" if r["endpoints_checked"] else "not checked")
            parts.append(
                f"<tr><td>{_e(r['relation'])}</td><td class=num>{_e(r['expected'])}</td>"
                f"<td class=num>{_e(r['restored'])}</td><td>{_mark(r['digest_ok'])}</td>"
                f"<td class=num>{_e(detail)}</td></tr>")
        parts.append("</tbody></table>")
    if report.get("against_source"):
        parts.append("<h2>Against the live CRM</h2><table><thead><tr><th>object</th>"
                     "<th class=num>live in snapshot</th><th class=num>live now</th>"
                     "<th class=num>new since</th><th class=num>gone since</th></tr></thead>"
                     "<tbody>")
        parts += [f"<tr><td>{_e(s['object'])}</td><td class=num>{_e(s['snapshot_live'])}</td>"
                  f"<td class=num>{_e(s['source_live'])}</td>"
                  f"<td class=num>{_e(s['new_since'])}</td>"
                  f"<td class=num>{_e(s['gone_since'])}</td></tr>"
                  for s in report["against_source"]]
        parts.append("</tbody></table>")
    if report.get("warnings"):
        parts.append("<h2>Notes</h2><ul>")
        parts += [f"<li>{_e(w)}</li>" for w in report["warnings"]]
        parts.append("</ul>")
    return page(f"vaultkeeper drill {report.get('drill_id')}: {result}", parts)
