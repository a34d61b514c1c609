"""What one restore run did: the plan, the outcome of every record with the vendor's reason, the
relations re-linked, the verification; as JSON (``--json``) and a self-contained HTML page."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from typing import Any

ACTIONS = ("skip", "update", "undelete", "create")
OUTCOMES = ("Created", "Updated", "Undeleted", "Skipped", "Failed")


@dataclass
class RestoreReport:
    """Everything one restore run decided and did (shapes only ever gain fields)."""

    run_id: int = 0
    status: str = "error"
    """planned (dry run) | done | partial | mismatch | refused | error"""
    target: str = ""
    connector: str = ""
    snapshot_id: str = ""
    source: str = ""
    dry_run: bool = False
    resumed: bool = False
    plan: dict[str, dict[str, int]] = field(default_factory=dict)
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    links: dict[str, int] = field(default_factory=dict)
    link_failures: list[dict[str, Any]] = field(default_factory=list)
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    requests: dict[str, Any] = field(default_factory=dict)
    id_map: dict[str, dict[str, str]] = field(default_factory=dict)
    """object → old id → new id, for every re-created record."""
    files: dict[str, Any] = field(default_factory=dict)
    """Files of the written records: counts (present, uploaded/to_upload, kept, failed,
    bytes) and every file not simply present (services/restore/files.py)."""
    exit_code: int = 0
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"ok": self.exit_code == 0, **asdict(self)}

    def to_write(self) -> int:
        """Records the plan would write (update + undelete + create)."""
        return sum(n for counts in self.plan.values() for a, n in counts.items() if a != "skip")

    def failed(self) -> list[dict[str, Any]]:
        """The records that ended Failed."""
        return [r for r in self.records if r.get("outcome") == "Failed"]

    def summary(self) -> str:
        """One line: what happened."""
        if self.status == "planned":
            return f"dry run: {self.to_write()} record(s) would be written into {self.target}"
        totals = {o: sum(c.get(o, 0) for c in self.outcomes.values()) for o in OUTCOMES}
        text = ", ".join(f"{n} {o.lower()}" for o, n in totals.items() if n)
        return f"restore #{self.run_id} into {self.target}: {text or 'nothing to do'}"


def render_html(data: dict[str, Any]) -> str:
    """A self-contained HTML page (no scripts, no external resources)."""
    e = html.escape

    def table(head: list[str], rows: list[list[Any]]) -> str:
        cells = "".join(f"<th>{e(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>"
                       for row in rows)
        return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"

    plan = [[obj, *(counts.get(a, 0) for a in ACTIONS),
             *(data["outcomes"].get(obj, {}).get(o, 0) for o in OUTCOMES)]
            for obj, counts in data["plan"].items()]
    records = [[r["object"], r["id"], r.get("target_id") or "", r["action"],
                r.get("outcome") or "", r.get("reason") or ""] for r in data["records"]]
    mismatches = [[m["object"], m["id"], m["field"]] for m in data["mismatches"]]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>vaultkeeper restore #{e(str(data['run_id']))}</title>",
        "<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em}table{border-collapse:"
        "collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:2px 6px;text-align:left}"
        "th{background:#eee}.bad{color:#a00}</style></head><body>",
        f"<h1>Restore #{e(str(data['run_id']))}: {e(data['status'])}</h1>",
        f"<p>Snapshot {e(data['snapshot_id'][:8])} ({e(data['source'])}) into "
        f"{e(data['target'])} ({e(data['connector'])}); dry run: {data['dry_run']}; "
        f"exit code {data['exit_code']}.</p>",
    ]
    if data.get("error"):
        parts.append(f'<p class="bad">{e(data["error"])}</p>')
    parts += ["<h2>Plan and outcomes per object</h2>",
              table(["object", *ACTIONS, *OUTCOMES], plan),
              f"<h2>Relations</h2><p>{e(str(data['links']))}</p>"]
    if mismatches:
        parts += ['<h2 class="bad">Not as in the snapshot after the restore</h2>',
                  table(["object", "id", "field"], mismatches)]
    parts += ["<h2>Records</h2>",
              table(["object", "snapshot id", "id in the CRM", "action", "outcome", "reason"],
                    records)]
    files = data.get("files") or {}
    if files.get("items"):
        parts += ["<h2>Files</h2>", table(
            ["file", "kind", "id", "size", "action", "state", "new id", "records", "reason"],
            [[i["name"], i["kind"], i["file_id"], i["size"], i["action"], i["state"],
              i.get("new_id") or "", ", ".join(i["records"]), i.get("reason") or ""]
             for i in files["items"]])]
    parts += [f"<p>{e(w)}</p>" for w in data.get("warnings", [])]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
