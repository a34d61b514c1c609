"""``privacy report``: the record of processing a data protection officer asks for — what
personal data is backed up, where (locations and their countries), for how long, who holds the
keys, and the erasure requests with their status — as JSON and a self-contained HTML page."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import orjson

from vaultkeeper.canonical import ENTITIES
from vaultkeeper.db import escrow as escrowdb
from vaultkeeper.db import mirror as mirrordb
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.privacy.status import privacy_status
from vaultkeeper.services.retention import keeps
from vaultkeeper.storage.locations import preflight

PURPOSE = ("Backup and disaster recovery of the organisation's CRM (members, donors, "
           "contacts), so it can be restored or migrated when the vendor fails.")


def _categories(ctx: CommandContext) -> list[dict[str, Any]]:
    source = ctx.settings.source
    mapping = (ctx.policies.canonical.get(source.connector)
               or ctx.policies.canonical.get(source.flavour))
    counts: dict[str, Any] = {}
    mirror = mirrordb.mirror_path(ctx.state_dir)
    if mirror.is_file():
        manifest = orjson.loads(mirrordb.info(mirror).get("manifest") or "{}")
        counts = {n: e.get("count") for n, e in (manifest.get("objects") or {}).items()}
    sensitive = set(ctx.policies.privacy.sensitive)
    out = []
    for name, spec in ENTITIES.items():
        entity = mapping.entity(name) if mapping else None
        if entity is None:
            continue
        fields = [f for f, src in entity.fields.items() if src.kind == "field"]
        out.append({"entity": name, "object": entity.object, "records": counts.get(
            entity.object), "fields": fields,
            "sensitive": sorted(f for f in spec if f"{name}.{f}" in sensitive or (
                f in entity.fields and entity.fields[f].kind == "field"
                and f"{entity.object}.{entity.fields[f].name}" in sensitive))})
    listed = {c["object"] for c in out}
    for obj, count in sorted(counts.items()):
        if obj not in listed:
            out.append({"entity": None, "object": obj, "records": count, "fields": [],
                        "sensitive": []})
    return out


def record_of_processing(settings: Any) -> dict[str, Any]:
    """The record as one JSON object (never a secret, never a personal identifier)."""
    ctx = CommandContext.of(settings)
    rules = keeps(ctx.policies.retention)
    locations = []
    for loc in ctx.locations():
        check = preflight(loc)
        locations.append({"name": loc.name, "kind": loc.kind, "url": loc.display_url,
                          "country": loc.country or "not stated", "offline": loc.offline,
                          "append_only": loc.append_only, "immutable": loc.immutable,
                          "object_lock_days": check.lock_days,
                          "retention": "never pruned" if loc.append_only or loc.immutable
                          else rules})
    esc = ctx.settings.escrow
    sets = escrowdb.share_sets(ctx.db)
    keys = {
        "repository_password": (ctx.settings.repository_password.kind
                                if ctx.settings.repository_password else None),
        "trustees": ({"threshold": sets[0]["threshold"], "shares": sets[0]["shares"],
                      "organisation": sets[0]["organisation"], "since": sets[0]["created_at"]}
                     if sets else None),
        "escrow_agent_keys": [{"location": k["location"], "label": k["label"],
                               "added_at": k["added_at"]} for k in escrowdb.active_keys(ctx.db)],
    }
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "purpose": PURPOSE,
        "source": {"connector": ctx.settings.source.connector},
        "categories": _categories(ctx),
        "locations": locations,
        "escrow": ({"url": "configured", "refresh": esc.refresh,
                    "release_conditions": list(esc.release_conditions)} if esc.url else None),
        "retention": {"keep": rules, "backup_schedule": ctx.settings.schedule.get("backup")},
        "keys": keys,
        "erasure_requests": privacy_status(ctx),
    }


def _table(rows: list[list[Any]], head: list[str]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, list | tuple):
            v = ", ".join(str(x) for x in v)
        elif isinstance(v, dict):
            v = ", ".join(f"{k} {x}" for k, x in v.items())
        return html.escape("-" if v is None or v == "" else str(v))
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return ("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head)
            + f"</tr></thead><tbody>{body}</tbody></table>")


def render_html(record: dict[str, Any]) -> str:
    """The record as a self-contained HTML page (no scripts, no external resources)."""
    k = record["keys"]
    trustees = k["trustees"]
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>Record of processing: CRM backups</title><style>body{font-family:sans-serif;"
        "max-width:60em;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid"
        " #ccc;padding:.2em .5em;text-align:left}</style></head><body>",
        "<h1>Record of processing: CRM backups</h1>",
        f"<p>{html.escape(record['purpose'])} Generated {html.escape(record['generated_at'])}."
        "</p>",
        "<h2>Personal data backed up</h2>",
        _table([[c["entity"], c["object"], c["records"], c["fields"], c["sensitive"]]
                for c in record["categories"]],
               ["category", "object", "records", "fields", "sensitive"]),
        "<h2>Where</h2>",
        _table([[loc["name"], loc["kind"], loc["country"], loc["retention"],
                 loc["object_lock_days"]] for loc in record["locations"]],
               ["location", "kind", "country", "kept (restic keep rules)", "Object Lock days"]),
        "<h2>Who holds the keys</h2><ul>",
        f"<li>Repository password: kept as a {html.escape(str(k['repository_password']))} "
        "reference</li>",
        (f"<li>Trustees: {trustees['threshold']} of {trustees['shares']} key shares "
         f"({html.escape(str(trustees['organisation']))})</li>" if trustees else
         "<li>Trustees: no key shares handed out</li>"),
        f"<li>Escrow agent keys: {len(k['escrow_agent_keys'])}</li></ul>",
        "<h2>Erasure requests</h2>",
        _table([[r["ref"], r["registered_at"], r["status"], r["aged_out_by"] or "never"]
                for r in record["erasure_requests"]],
               ["request", "registered", "status", "every copy gone by"]),
        "</body></html>\n"]
    return "".join(parts)
