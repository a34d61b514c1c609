"""The drill report as one self-contained HTML page: inline CSS, no script, no external URL —
it opens from a mail attachment or an offline disk."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;
max-width:72rem;padding:0 1rem;color:#1d2430;background:#fff}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:1.75rem 0 .5rem}
.badge{display:inline-block;padding:.15rem .6rem;border-radius:1rem;font-weight:600;color:#fff}
.verified{background:#1b7f3b}.failed{background:#b3261e}.error{background:#8a5300}
table{border-collapse:collapse;width:100%;margin:.25rem 0}
th,td{border-bottom:1px solid #d9dee7;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f5f9;font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{font-size:1.1rem;margin:.75rem 0 1rem;padding:.6rem .9rem;border-left:.3rem solid}
.verdict.verified{border-color:#1b7f3b;background:#eef7f0;color:#1d2430}
.verdict.failed,.verdict.error{border-color:#b3261e;background:#fbeeed;color:#1d2430}
.ok{color:#1b7f3b}.bad{color:#b3261e;font-weight:600}.muted{color:#5b6475}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}
dt{color:#5b6475}dd{margin:0}li{margin:.2rem 0}
@media print{body{margin:0}}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


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
    parts = ['<!DOCTYPE html>', '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>vaultkeeper drill {_e(report.get('drill_id'))}: {_e(result)}</title>",
             f"<style>{_CSS}</style>", "</head>", "<body>",
             f"<h1>Restore drill {_e(report.get('drill_id'))} "
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
    parts += ['<p class="muted">Generated by vaultkeeper. This page needs no network.</p>',
              "</body>", "</html>"]
    return "\n".join(parts) + "\n"
