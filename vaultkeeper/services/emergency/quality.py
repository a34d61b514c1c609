"""The data-quality report: counters and example lists kept while the package is written.

Counters are bounded by the number of fields, example lists by ``EXAMPLES``; the complete lists
go to CSV files under ``quality/`` as they are found, so memory does not grow with the records.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultkeeper.services.emergency.files import CsvOut

EXAMPLES = 50

EMAIL_HEADER = ("entity", "legacy_id", "field", "value", "status", "normalised", "reason")
PHONE_HEADER = ("entity", "legacy_id", "field", "value", "status", "normalised", "reason")
DATE_HEADER = ("entity", "legacy_id", "field", "value", "status", "normalised", "reason")
DUPLICATE_HEADER = ("score", "reason", "legacy_id_a", "legacy_id_b", "name_a", "name_b",
                    "email_a", "email_b", "phone_a", "phone_b", "postcode_a", "postcode_b")
DANGLING_HEADER = ("relation", "from_id", "to_id", "type", "missing")


@dataclass
class FieldFindings:
    """Status counts for one checked field, plus the first examples of each problem."""

    statuses: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, str]] = field(default_factory=list)

    def add(self, status: str, example: dict[str, str] | None) -> None:
        """Count one value; keep it as an example when it is a problem."""
        self.statuses[status] += 1
        if example is not None and len(self.examples) < EXAMPLES:
            self.examples.append(example)


@dataclass
class ObjectProfile:
    """Per-object counts and per-column completeness from the first pass."""

    name: str
    records: int = 0
    archived: int = 0
    filled: Counter[str] = field(default_factory=Counter)
    nonconforming: Counter[str] = field(default_factory=Counter)

    def completeness(self, columns: list[str]) -> list[dict[str, Any]]:
        """Share of records with a value, per column, in column order."""
        total = self.records or 1
        return [{"field": c, "filled": self.filled[c],
                 "percent": round(100 * self.filled[c] / total, 1)} for c in columns]


class QualityLog:
    """Everything the quality report says, and the CSV files with the complete lists."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.emails = CsvOut(root / "quality" / "emails.csv", EMAIL_HEADER)
        self.phones = CsvOut(root / "quality" / "phones.csv", PHONE_HEADER)
        self.dates = CsvOut(root / "quality" / "dates.csv", DATE_HEADER)
        self.dangling = CsvOut(root / "quality" / "dangling_relations.csv", DANGLING_HEADER)
        self.checks: dict[str, dict[str, FieldFindings]] = {"email": {}, "phone": {}, "date": {}}
        self.profiles: dict[str, ObjectProfile] = {}
        self.columns: dict[str, list[str]] = {}
        self.entities: dict[str, dict[str, int]] = {}
        self.dangling_counts: Counter[str] = Counter()
        self.dangling_refs: Counter[str] = Counter()
        self.duplicates: dict[str, Any] = {}
        self.duplicate_examples: list[dict[str, str]] = []
        self.notes: list[str] = []

    def tally(self, kind: str, key: str, status: str) -> None:
        """Count one checked value that is no problem (``key``: ``entity.field``)."""
        checks = self.checks[kind]
        findings = checks.get(key) or checks.setdefault(key, FieldFindings())
        findings.statuses[status] += 1

    def finding(self, kind: str, entity: str, legacy_id: str, name: str, value: str,
                status: str, normalised: str, reason: str, *, problem: bool) -> None:
        """Record one checked value; problems (and normalisations) go to the CSV list."""
        checks = self.checks[kind]
        key = f"{entity}.{name}"
        findings = checks.get(key) or checks.setdefault(key, FieldFindings())
        if not problem:   # the common case: only counted
            findings.statuses[status] += 1
            return
        row = {"entity": entity, "legacy_id": legacy_id, "field": name, "value": value,
               "status": status, "normalised": normalised, "reason": reason}
        findings.add(status, row)
        {"email": self.emails, "phone": self.phones, "date": self.dates}[kind].write(row)

    def close(self) -> None:
        """Close the CSV lists."""
        for out in (self.emails, self.phones, self.dates, self.dangling):
            out.close()

    def as_json(self) -> dict[str, Any]:
        """The ``quality/report.json`` document."""
        return {
            "objects": {name: {"records": p.records, "archived": p.archived,
                               "live": p.records - p.archived,
                               "completeness": p.completeness(self.columns.get(name, [])),
                               "empty_fields": [c for c in self.columns.get(name, [])
                                                if not p.filled[c]],
                               "typed_as_text": dict(p.nonconforming)}
                        for name, p in self.profiles.items()},
            "entities": self.entities,
            "emails": _summary(self.checks["email"]),
            "phones": _summary(self.checks["phone"]),
            "dates": _summary(self.checks["date"]),
            "dangling_relations": dict(self.dangling_counts),
            "dangling_references": dict(self.dangling_refs),
            "duplicates": self.duplicates | {"examples": self.duplicate_examples},
            "notes": self.notes,
            "files": {"emails": "quality/emails.csv", "phones": "quality/phones.csv",
                      "dates": "quality/dates.csv", "duplicates": "quality/duplicates.csv",
                      "dangling_relations": "quality/dangling_relations.csv"},
        }


def _summary(checks: dict[str, FieldFindings]) -> dict[str, Any]:
    return {key: {"counts": dict(f.statuses), "examples": f.examples}
            for key, f in sorted(checks.items())}


# ------------------------------------------------------------------------------------ HTML
_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#222}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #ddd;padding:.2rem .5rem;
font-size:.85rem;text-align:left;vertical-align:top}th{background:#f3f3f3}
.bar{background:#e5e5e5;width:10rem;height:.7rem;display:inline-block}
.bar span{background:#3a7;height:.7rem;display:block}.warn{color:#a40}.bad{color:#b00}
details{margin:.3rem 0}summary{cursor:pointer}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: dict[str, Any], title: str) -> str:
    """A self-contained HTML page (inline CSS, no scripts, no external links)."""
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}"
             f"</title><style>{_CSS}</style></head><body><h1>{_e(title)}</h1>"]
    parts.append("<h2>Records</h2>" + _table(
        ["object", "records", "live", "archived"],
        [[n, o["records"], o["live"], o["archived"]] for n, o in report["objects"].items()]))
    if report["entities"]:
        parts.append("<h2>Canonical model</h2>" + _table(
            ["entity", "rows", "active", "archived or inactive"],
            [[n, e.get("rows", 0), e.get("active", 0), e.get("inactive", 0)]
             for n, e in report["entities"].items()]))
    for title_, key in (("E-mail addresses", "emails"), ("Phone numbers", "phones"),
                        ("Dates", "dates")):
        block = report[key]
        if not block:
            continue
        parts.append(f"<h2>{title_}</h2>")
        statuses = sorted({s for v in block.values() for s in v["counts"]})
        parts.append(_table(["field", *statuses],
                            [[k, *(v["counts"].get(s, 0) for s in statuses)]
                             for k, v in block.items()]))
        for k, v in block.items():
            if v["examples"]:
                parts.append(f"<details><summary>{_e(k)}: first {len(v['examples'])} findings "
                             f"(all in {_e(report['files'][key])})</summary>" + _table(
                                 ["legacy id", "value", "status", "normalised", "reason"],
                                 [[x["legacy_id"], x["value"], x["status"], x["normalised"],
                                   x["reason"]] for x in v["examples"]]) + "</details>")
    dup = report["duplicates"]
    if dup:
        parts.append(f"<h2>Duplicate candidates</h2><p>{_e(dup.get('candidates', 0))} pairs "
                     f"to review among {_e(dup.get('persons', 0))} persons "
                     f"({_e(dup.get('comparisons', 0))} comparisons after blocking). Nothing "
                     "was merged; the complete list is quality/duplicates.csv.</p>")
        parts.append(_table(["score", "reason", "A", "B", "e-mail A", "e-mail B"],
                            [[x["score"], x["reason"], f"{x['name_a']} ({x['legacy_id_a']})",
                              f"{x['name_b']} ({x['legacy_id_b']})", x["email_a"], x["email_b"]]
                             for x in dup.get("examples", [])]))
    if report["dangling_relations"] or report["dangling_references"]:
        parts.append("<h2 class='warn'>Relations pointing at missing records</h2>" + _table(
            ["relation or reference", "rows"],
            [[k, v] for k, v in {**report["dangling_relations"],
                                 **report["dangling_references"]}.items()]))
    parts.append("<h2>Completeness per field</h2>")
    for name, o in report["objects"].items():
        rows = "".join(
            f"<tr><td>{_e(c['field'])}</td><td>{c['filled']}</td><td><span class='bar'>"
            f"<span style='width:{c['percent']}%'></span></span> {c['percent']}%</td></tr>"
            for c in o["completeness"])
        parts.append(f"<details><summary>{_e(name)} ({len(o['completeness'])} fields, "
                     f"{len(o['empty_fields'])} always empty)</summary><table><tr><th>field</th>"
                     f"<th>filled</th><th>completeness</th></tr>{rows}</table></details>")
    if report["notes"]:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in report["notes"])
                     + "</ul>")
    parts.append("</body></html>\n")
    return "".join(parts)
