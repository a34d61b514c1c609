"""Test-side checks for restore scenarios: an export of the live sandbox read back into
plain dictionaries, written independently of the restore service's own verification."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from vaultkeeper.connectors.hubspot import HubSpotConnector
from vaultkeeper.connectors.salesforce import SalesforceConnector
from vaultkeeper.db.selection import MirrorReader
from vaultkeeper.sandbox import Sandbox
from vaultkeeper.services.export import run_export


def export_live(vendor: str, sb: Sandbox, out: Path, objects: list[str]) -> Path:
    """Export the sandbox with the normal exporter; returns the folder."""
    cls = HubSpotConnector if vendor == "hubspot" else SalesforceConnector
    with cls(sb.url, sb.token, ca_file=sb.ca_file, objects=objects) as conn:
        run_export(conn, out, objects=objects)
    return out


def records(folder: Path, obj: str) -> dict[str, dict[str, Any]]:
    """id → record of one exported object."""
    out = {}
    for line in (folder / "objects" / f"{obj}.ndjson").read_bytes().splitlines():
        if line.strip():
            rec = orjson.loads(line)
            out[str(rec.get("id") or rec.get("Id"))] = rec
    return out


def relations(folder: Path) -> set[tuple[str, str, str]]:
    """(stem, from id, to id) of every exported relation."""
    out = set()
    for path in (folder / "relations").glob("*.ndjson"):
        for line in path.read_bytes().splitlines():
            if line.strip():
                rel = orjson.loads(line)
                out.add((path.stem, rel["from_id"], rel["to_id"]))
    return out


def props(vendor: str, rec: dict[str, Any]) -> dict[str, Any]:
    """A record's vendor properties."""
    return dict(rec["properties"]) if vendor == "hubspot" else dict(rec)


def is_live(vendor: str, rec: dict[str, Any]) -> bool:
    """Not archived / deleted."""
    return not (rec.get("archived") if vendor == "hubspot" else rec.get("IsDeleted"))


_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def email_ok(vendor: str, rec: dict[str, Any]) -> bool:
    """True when the record's e-mail is empty or looks valid (the CRM would accept it)."""
    value = props(vendor, rec).get("email" if vendor == "hubspot" else "Email")
    return not value or bool(_EMAIL.fullmatch(str(value)))


def related_contacts(mirror: Path, contacts: str, n: int, *, valid: bool = True) -> list[str]:
    """``n`` live contacts of the snapshot that have relations (to delete with relations);
    ``valid``: only those whose e-mail the CRM accepts (else only those it refuses)."""
    reader = MirrorReader(mirror)
    vendor = "salesforce" if contacts[0].isupper() else "hubspot"
    try:
        live = {i for i, rec in reader.raw(contacts, reader.live_ids(contacts)).items()
                if email_ok(vendor, rec) == valid}
        linked: list[str] = []
        for stem in reader.relation_stems:
            a, _, b = stem.partition("__")
            for from_id, to_id, _k in reader.all_relations(stem):
                rid = from_id if a == contacts else to_id if b == contacts else None
                if rid in live and rid not in linked:
                    linked.append(rid)
        rest = sorted(live - set(linked))
        return (sorted(linked) + rest)[:n]
    finally:
        reader.close()


def snapshot_relations(mirror: Path) -> list[tuple[str, str, str, str, str]]:
    """(stem, from object, from id, to object, to id) of the snapshot's relations."""
    reader = MirrorReader(mirror)
    try:
        out = []
        for stem in reader.relation_stems:
            a, _, b = stem.partition("__")
            out += [(stem, a, f, b, t) for f, t, _k in reader.all_relations(stem)]
        return out
    finally:
        reader.close()


def snapshot_records(mirror: Path, obj: str) -> dict[str, dict[str, Any]]:
    """id → record (live ones) of one object in the snapshot."""
    reader = MirrorReader(mirror)
    try:
        return reader.raw(obj, reader.live_ids(obj))
    finally:
        reader.close()
