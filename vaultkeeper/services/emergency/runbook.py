"""The runbook: what to do with the package, in Markdown (and the same as self-contained HTML).

Processes come in priority order; each names the import steps it needs. Steps are in
dependency order (organisations before the persons that point at them, persons before their
memberships, donations and activities), each with the counts to expect after the import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt

from vaultkeeper.canonical import EntityMapping
from vaultkeeper.policies import Process


@dataclass(frozen=True)
class RunbookInput:
    """Everything the runbook is written from."""

    target: str
    provenance: dict[str, Any]
    manifest: dict[str, Any]
    counts: dict[str, int]
    archived: dict[str, int]
    relations: dict[str, int]
    entities: dict[str, dict[str, int]]
    import_files: dict[str, dict[str, int]]
    processes: Sequence[Process]
    mapping: Sequence[EntityMapping]
    warnings: Sequence[str]
    report: dict[str, Any]
    sample: dict[str, int]
    object_resources: dict[str, str]
    generic_files: dict[str, str]
    placement: dict[str, Any] = field(default_factory=dict)
    """``Placement.as_json()``: import files in dependency order, records per file, gaps."""
    mapping_info: dict[str, Any] = field(default_factory=dict)
    """Which canonical mapping was used (a file, built in, or inferred with confidences)."""


@dataclass(frozen=True)
class Step:
    """One import step."""

    number: int
    file: str
    objects: tuple[str, ...]
    expected: int
    held_back: int
    how: str


def _steps(r: RunbookInput) -> list[Step]:
    """One step per import file (inactive/archived copies are held back, not steps)."""
    steps: list[Step] = []
    for path, spec in r.placement.get("import_files", {}).items():
        if spec.get("held_back") or not spec.get("rows"):
            continue
        held = sum(other.get("rows", 0) for other in r.placement["import_files"].values()
                   if other.get("held_back") == path)
        steps.append(Step(len(steps) + 1, path, (spec["object"],), spec["rows"], held,
                          spec.get("how", "")))
    return steps


def _placement(r: RunbookInput) -> list[str]:
    """Where every record of the export went, and the counted gaps with their reasons."""
    objects = r.placement.get("objects", {})
    if not objects:
        return []
    lines = ["## Where every record goes", "",
             "Every record of the export is in exactly one import file (or its held-back "
             "`inactive/`/`archived/` copy), or counted below as a gap with the reason. "
             "`vaultkeeper emergency verify` proves it record by record through "
             "`import/id-map/`.", "",
             "| object | records | import files | not imported (gap) |", "|---|---:|---|---:|"]
    for name, info in objects.items():
        files = ", ".join(f"`{f}` {n}" for f, n in info.get("files", {}).items()) or "—"
        lines.append(f"| {name} | {info.get('records', 0)} | {files} | "
                     f"{sum(info.get('gaps', {}).values())} |")
    gaps = r.placement.get("gaps", [])
    if gaps:
        lines += ["", "Gaps (records no import file of this target holds; their complete data "
                      "stays in `data/objects/`):", ""]
        lines += [f"- **{g['object']}**: {g['records']} — {g['reason']}" for g in gaps]
    assoc = [(p, s) for p, s in r.placement.get("import_files", {}).items()
             if s.get("role") == "associations"]
    if assoc:
        lines += ["", "Relations that no column of an import file can hold (a second "
                      "organisation, a deal's further contacts) are in their own files, "
                      "imported after both sides:", ""]
        lines += [f"- `{p}`: {s['rows']} links ({s.get('how', '')})" for p, s in assoc]
    return [*lines, ""]


def _mapping_section(r: RunbookInput) -> list[str]:
    info = r.mapping_info
    if not info:
        return []
    lines = ["## Canonical mapping used", ""]
    if info.get("source") == "inferred":
        lines += ["**Inferred** from the export's column names and values (no mapping file "
                  "for this connector). Check it: `vaultkeeper emergency mapping suggest` "
                  "writes it as a file to correct; the package then uses the file.", "",
                  "| entity | field | source column | confidence | evidence |",
                  "|---|---|---|---:|---|"]
        for entity, ent in info.get("entities", {}).items():
            for name, fg in ent.get("fields", {}).items():
                lines.append(f"| {entity} ({ent['object']}) | {name} | {fg['source']} | "
                             f"{fg['confidence']:.2f} | {fg['evidence']} |")
    else:
        lines.append(f"From `{info.get('source', '?')}`.")
    return [*lines, ""]


def render(r: RunbookInput) -> str:
    """The runbook as Markdown."""
    src = r.provenance
    lines = ["# Emergency runbook", ""]
    for warning in src.get("warnings", []):
        lines += [f"> **⚠ WARNING: {warning}**", ""]
    source = r.manifest.get("source", {})
    origin = {"snapshot": f"restic snapshot `{src.get('snapshot_id', '')[:12]}` from location "
                          f"`{src.get('location', '')}`",
              "fresh-export": "a fresh export made while the vendor still answered",
              "export": "an export folder"}.get(src.get("kind", ""), "an export")
    drill = src.get("drill")
    lines += [
        f"This package was built by vaultkeeper from {origin}, exported from "
        f"{r.manifest.get('connector', {}).get('name', '?')} "
        f"({', '.join(f'{k} {v}' for k, v in source.items())}) at "
        f"{r.manifest.get('finished_at', '?')} (export status: {r.manifest.get('status', '?')}).",
        "",
    ]
    if drill:
        lines += [f"The snapshot passed a restore drill on {drill.get('finished_at', '?')} "
                  f"(location {drill.get('location', '?')}): every record and relation was "
                  "restored and compared with the export manifest.", ""]
    for note in src.get("notes", []):
        lines += [f"- {note}"]
    if src.get("notes"):
        lines.append("")
    steps = _steps(r)
    lines += [
        "## First: check the package", "",
        "```", "vaultkeeper emergency verify .      # or, without vaultkeeper:",
        "sha256sum -c SHA256SUMS",
        "openssl pkeyutl -verify -pubin -inkey signing-key.pub -rawin -in package.json "
        "-sigfile package.json.sig", "```", "",
        "Compare the signing-key fingerprint in `package.json` with the one you were given "
        "out of band.", "",
        "## Contacts and decisions", "",
        "Fill this in before the first import.", "",
        "| role | name | phone / e-mail |", "|---|---|---|",
        "| decides on the migration |  |  |", "| data-protection lead |  |  |",
        "| administrator of the new CRM |  |  |", "| old vendor / administrator |  |  |",
        "| IT support |  |  |", "",
        "Decisions to take (each with the file to look at):", "",
    ]
    lines += _decisions(r)
    lines += ["", *_mapping_section(r), *_placement(r)]
    lines += ["## Business processes, in priority order", ""]
    procs = sorted(r.processes, key=lambda p: (p.priority, p.name))
    for proc in procs:
        needed = [s for s in steps if set(s.objects) & set(proc.objects)]
        lines += [f"### {proc.priority}. {proc.title} (`{proc.name}`)", "",
                  f"Recovery time objective {_duration(proc.rto)}, recovery point objective "
                  f"{_duration(proc.rpo)}. Needs: {', '.join(proc.objects)}.", ""]
        if proc.description:
            lines += [proc.description, ""]
        if needed:
            lines += ["Import steps: " + ", ".join(f"[{s.number}](#step-{s.number})"
                                                     for s in needed) + ".", ""]
        else:
            lines += ["No import file covers these objects; their complete data is in "
                      + ", ".join(f"`data/objects/{r.object_resources.get(o, o)}.csv`"
                                  for o in proc.objects) + ".", ""]
    lines += ["## Import steps", "",
              "Start with a **trial import of `sample/`** (about 10 % of the records, relations "
              "kept consistent: no relation points outside the sample) into a test area of the "
              "new CRM, then repeat the steps below with the full files.", ""]
    for s in steps:
        lines += [f"### Step {s.number}", "", f"<a id='step-{s.number}'></a>",
                  f"File: `{s.file}` — **{s.expected}** rows.", "", s.how, "",
                  "Checks after this import:", "",
                  f"- the import reports {s.expected} records created or updated and 0 errors;",
                  f"- the new CRM holds {s.expected} more records of this kind than before;",
                  "- open five records from the file at random and compare every field;",
                  "- save the importer's success file and fill the id-map template "
                  f"`import/id-map/{r.object_resources.get(s.objects[0], s.objects[0])}.csv` "
                  "(legacy id → new id).", ""]
        if s.held_back:
            lines += [f"{s.held_back} archived or inactive rows are held back in the `inactive/` "
                      "(or `archived/`) folder next to the file: import them only if you "
                      "decide to.", ""]
    lines += ["## Expected counts (from the snapshot's manifest)", "",
              "| object | records | archived | in the sample |", "|---|---|---|---|"]
    for obj, n in r.counts.items():
        lines.append(f"| {obj} | {n} | {r.archived.get(obj, 0)} | {r.sample.get(obj, 0)} |")
    if r.relations:
        lines += ["", "| relation | rows |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in r.relations.items()]
    if r.warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in r.warnings]
    lines += ["", "## What is in the package", "",
              "- `data/` — every object as CSV (values exactly as exported, legacy id first) and "
              "every relation; described by `datapackage.json` (Frictionless Data Package);",
              "- `canonical/` — person, organisation, membership, donation, activity, cleaned "
              "(E.164 phones, ISO dates, trimmed e-mails), and `*.extra.csv` with every field "
              "the mapping does not cover;",
              f"- `import/{r.target}/` — files for the new CRM; `import/id-map/` — legacy id → "
              "new id templates;",
              "- `quality/` — the data-quality report (`report.html`, `report.json`) and the "
              "complete lists behind it;",
              "- `sample/` — the trial set; `export-manifest.json` — the original export "
              "manifest; `package.json` — signed inventory; `SHA256SUMS`.", ""]
    return "\n".join(lines)


def _decisions(r: RunbookInput) -> list[str]:
    rep = r.report
    out = []
    dup = rep.get("duplicates", {})
    if dup.get("candidates"):
        out.append(f"- **Duplicates**: {dup['candidates']} candidate pairs to review "
                   "(`quality/duplicates.csv`); the package never merges records.")
    for key, label in (("emails", "e-mail addresses"), ("phones", "phone numbers"),
                       ("dates", "dates")):
        bad = {k: v["counts"] for k, v in rep.get(key, {}).items()}
        problems = sum(c.get("invalid", 0) + c.get("unparseable", 0) + c.get("ambiguous", 0)
                       for c in bad.values())
        if problems:
            out.append(f"- **{label.capitalize()}**: {problems} invalid, unreadable or ambiguous "
                       f"(`quality/{key}.csv`): correct, drop, or import as they are.")
    held = {k: v.get("inactive", 0) for k, v in r.entities.items() if v.get("inactive")}
    if held:
        out.append("- **Archived and inactive records**: " + ", ".join(
            f"{n} {k}" for k, n in held.items()) + " — import, archive elsewhere, or drop?")
    archived = {k: v for k, v in r.archived.items() if v}
    if archived and r.target == "generic":
        out.append("- **Archived records**: " + ", ".join(f"{n} {k}" for k, n in archived.items())
                   + " are in `import/generic/archived/`.")
    out.append("- **Consent**: check opt-outs and newsletter consent survived the mapping before "
               "any mailing from the new CRM.")
    out.append("- **Fields without a home**: `canonical/*.extra.csv` lists fields the new CRM may "
               "need custom properties for.")
    return out


def _duration(value: Any) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_HTML_CSS = ("body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem}"
             "blockquote{background:#fee;border-left:4px solid #b00;margin:0;padding:.5rem 1rem}"
             "code,pre{background:#f4f4f4}")


def to_html(markdown: str, title: str) -> str:
    """Self-contained HTML of the Markdown (inline CSS, no scripts)."""
    body = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{_HTML_CSS}</style></head><body>{body}</body></html>\n")
