"""The rehearsal report in Markdown and self-contained HTML (same content)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vaultkeeper.services.emergency.runbook import to_html


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(data: dict[str, Any]) -> str:
    """The report of one rehearsal (``RehearsalResult.as_json()``) as Markdown."""
    target = data["target"]
    verdict = "PASSED — everything came back" if data["ok"] else "FAILED — data was lost"
    lines = [f"# Rehearsal of the emergency package: {verdict}", "",
             f"- package: `{data['package']}`",
             f"- target: `{target['label']}` ({target['kind']}"
             + (", empty built-in sandbox" if target.get("sandbox") else "") + ")",
             f"- date: {data['date']}", f"- mapping: {data['mapping']}",
             f"- records: {data['records_back']} of {data['records']} came back; relations "
             f"linked: {data['relations_linked']} of {data['relations_expected']}", ""]
    if data["lost"]:
        lines += ["## Lost", ""] + [f"- {_cell(x)}" for x in data["lost"]] + [""]
    lines += ["## Per object", "",
              "| entity | object | records | imported | fields carried | relations linked | "
              "lost |", "|---|---|---:|---:|---|---|---|"]
    for entity, o in data["objects"].items():
        lost = ", ".join(f"{x['field']} ({x['lost']}/{x['expected']})" for x in o["lost"])
        if o["missing_count"]:
            lost = f"{o['missing_count']} records; " + lost
        rels = ", ".join(f"{k} {v}" for k, v in o["relations_linked"].items())
        lines.append(f"| {entity} | {o.get('object') or ''} | {o['records']} | {o['imported']} "
                     f"| {', '.join(o['fields_carried'])} | {rels} | {_cell(lost) or 'none'} |")
    examples = [(e, x) for e, o in data["objects"].items() for x in o["lost"] if x["examples"]]
    if examples:
        lines += ["", "## Examples of lost values", "",
                  "Look the legacy ids up in `canonical/<entity>.csv` (no CRM data is kept in "
                  "this report).", "",
                  "| entity.field | legacy id | came back |", "|---|---|---|"]
        for entity, x in examples:
            for ex in x["examples"]:
                lines.append(f"| {entity}.{x['field']} | {ex['legacy_id']} | {ex['back']} |")
    declared = [(e, f, x) for e, o in data["objects"].items()
                for f, x in o.get("not_imported", {}).items()]
    if declared:
        lines += ["", "## Not imported, by the mapping's decision", "",
                  "| entity.field | values | why |", "|---|---:|---|"]
        lines += [f"| {e}.{f} | {x['values']} | {_cell(x['why'])} |" for e, f, x in declared]
    refused = [(e, r) for e, o in data["objects"].items() for r in o["refused"]]
    if refused:
        lines += ["", "## Refused by the target", ""]
        lines += [f"- {e}: {_cell(r)}" for e, r in refused[:50]]
    files = data.get("import_files")
    if files:
        lines += ["", "## The package's import files", "",
                  "| entity | file | rows | missing rows | missing columns | values the file "
                  "changes |", "|---|---|---:|---:|---|---|"]
        for entity, f in files.items():
            changed = ", ".join(f"{k} ({v})" for k, v in f["changed_values"].items())
            lines.append(f"| {entity} | `{f['file']}` | {f['rows']} | {f['missing_row_count']} "
                         f"| {', '.join(f['missing_columns']) or 'none'} | "
                         f"{changed or 'none'} |")
        lines += ["", "Changed values are the import format's own rules (invalid e-mails left "
                  "empty, partial dates dropped: see `quality/`)."]
    outside = data.get("outside_canonical", {})
    if outside.get("fields") or any(r["not_imported"] for r in outside.get("relations", {})
                                     .values()):
        lines += ["", "## Not imported by any target (outside the canonical model)", "",
                  "Kept in the package (`data/`, `canonical/<entity>.extra.csv`) but no import "
                  "file carries them; extend `policies/mappings/<connector>.toml` if the new "
                  "CRM needs them.", ""]
        for entity, fields in outside.get("fields", {}).items():
            names = ", ".join(f"{k} ({v})" for k, v in list(fields.items())[:12])
            more = f" and {len(fields) - 12} more" if len(fields) > 12 else ""
            lines.append(f"- {entity}: {len(fields)} fields with values: {_cell(names)}{more}")
        for stem, r in outside.get("relations", {}).items():
            if r["not_imported"]:
                lines.append(f"- relation `{stem}`: {r['not_imported']} of {r['pairs']} pairs "
                             "are held by no canonical reference")
    if data["notes"]:
        lines += ["", "## Notes", ""] + [f"- {_cell(n)}" for n in data["notes"]]
    return "\n".join(lines) + "\n"


def write_reports(data: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """``rehearsal.md`` and ``rehearsal.html`` in ``folder`` (created 0700)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    md = render_markdown(data)
    md_path, html_path = folder / "rehearsal.md", folder / "rehearsal.html"
    md_path.write_text(md, encoding="utf-8")
    html_path.write_text(to_html(md, "Rehearsal of the emergency package"), encoding="utf-8")
    return md_path, html_path
