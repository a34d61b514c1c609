"""The erasure register: ``privacy forget`` records keyed hashes of a person's identifiers,
the request reference and date, and the snapshots that still hold the person.

Identifiers are normalised (e-mail: trimmed, lower-case; record: ``object:id``) and hashed with
HMAC-SHA256 under a key derived from the repository password (HKDF, crypto.py): the register
holds no plain identifier and cannot be checked against a list of e-mail addresses without the
password. Each backup writes the register (and the matching key, inside the encrypted snapshot
only) as ``privacy-register.json`` next to the export's manifest, so a restore from any copy —
an escrow release included, which opens the deposit with a different password — suppresses the
same persons.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from vaultkeeper import crypto
from vaultkeeper.db import mirror as mirrordb
from vaultkeeper.db import privacy as privacydb
from vaultkeeper.errors import StorageError, UsageError, VaultkeeperError
from vaultkeeper.exportfmt import find_export_root
from vaultkeeper.privatefs import private_workdir, write_private
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.emergency.source import ExportFolder

REGISTER_FILE = "privacy-register.json"
FORMAT = 1


def normalise_email(value: str) -> str:
    """An e-mail address as compared: trimmed, ``mailto:`` removed, lower-case."""
    text = value.strip().lower()
    return text[7:] if text.startswith("mailto:") else text


def identifiers(emails: Iterable[str] = (), ids: Iterable[str] = ()) -> list[str]:
    """Normalised identifiers to hash: ``email:…`` and ``id:object:id``."""
    out = [f"email:{normalise_email(e)}" for e in emails if e.strip()]
    for item in ids:
        obj, sep, rid = item.partition(":")
        if not sep or not obj or not rid:
            raise UsageError(f"--id {item!r} is not OBJECT:ID", "e.g. --id contacts:1501")
        out.append(f"id:{obj.strip()}:{rid.strip()}")
    return out


def key_for(ctx: CommandContext) -> bytes:
    """The register's HMAC key, derived from the repository password."""
    return crypto.register_key(ctx.password.reveal().encode("utf-8"))


def configured_keys(ctx: CommandContext) -> list[bytes]:
    """The register key of the configured repository password, if it can be read."""
    if ctx.settings.repository_password is None:
        return []
    try:
        return [key_for(ctx)]
    except VaultkeeperError:
        return []


@dataclass
class Request:
    """One erasure request as given: reference, identifiers (plain, in memory only)."""

    ref: str
    emails: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


def read_requests_csv(path: Path) -> list[Request]:
    """A CSV of requests: columns ``ref`` and ``email`` and/or ``id`` (OBJECT:ID)."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", "give a readable CSV file") \
            from None
    with handle:
        reader = csv.DictReader(handle)
        cols = {c.strip().lower() for c in reader.fieldnames or []}
        if "ref" not in cols or not cols & {"email", "id"}:
            raise UsageError(f"{path.name} needs a ref column and an email or id column",
                             "header: ref,email,id")
        found: dict[str, Request] = {}
        for row in reader:
            low = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            if not low.get("ref"):
                continue
            req = found.setdefault(low["ref"], Request(low["ref"]))
            if low.get("email"):
                req.emails.append(low["email"])
            if low.get("id"):
                req.ids.append(low["id"])
    return list(found.values())


def forget(ctx: CommandContext, requests: list[Request], *,
           search_snapshots: bool = True) -> list[dict[str, Any]]:
    """Register each request (hashes only) and where the person still is; returns the
    register rows (hashes left out)."""
    key = key_for(ctx)
    out = []
    for req in requests:
        if not req.emails and not req.ids:
            raise UsageError(f"request {req.ref}: no identifier", "give --email or --id")
        idents = identifiers(req.emails, req.ids)
        hashes = [crypto.keyed_hash(key, i) for i in idents]
        kinds = sorted({i.split(":", 1)[0] for i in idents})
        found, holdings = find_holdings(ctx, key, set(hashes), search_snapshots)
        row = privacydb.record_request(ctx.db, req.ref, hashes, kinds, found=found,
                                       holdings=holdings)
        out.append(public_row(row))
    return out


def public_row(row: dict[str, Any]) -> dict[str, Any]:
    """A register row for reports: no hashes."""
    return {k: v for k, v in row.items() if k != "hashes"} | {"identifiers": len(row["hashes"])}


def matching_material(ctx: CommandContext, export_root: Path | None = None
                      ) -> tuple[list[bytes], set[str], int]:
    """Keys and hashes to match: the state database's register (key from the password) and
    the register backed up in ``export_root``, if any. Also how many requests."""
    keys: list[bytes] = []
    rows = privacydb.requests(ctx.db)
    hashes = {h for r in rows for h in r["hashes"]}
    refs = {r["ref"] for r in rows}
    keys.extend(configured_keys(ctx))
    backed = read_register_file(export_root) if export_root is not None else None
    if backed is not None:
        keys.append(bytes.fromhex(backed["key"]))
        for req in backed.get("requests", []):
            hashes.update(req.get("hashes", []))
            refs.add(req.get("ref"))
    return list(dict.fromkeys(keys)), hashes, len(refs)


def read_register_file(root: Path) -> dict[str, Any] | None:
    """The register backed up in an export folder (None when absent or unreadable)."""
    path = root / REGISTER_FILE
    if not path.is_file():
        return None
    try:
        doc = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("key"), str) else None


def write_register_file(ctx: CommandContext, export_dir: Path) -> int:
    """Put the register into an export folder about to be backed up (0600; the folder is
    private staging). Returns the number of requests written (0: no file)."""
    rows = privacydb.requests(ctx.db)
    if not rows or ctx.settings.repository_password is None:
        return 0
    doc = {"format": FORMAT, "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
           "key": key_for(ctx).hex(),
           "requests": [{k: r[k] for k in ("ref", "registered_at", "hashes", "kinds", "found")}
                        for r in rows]}
    write_private(export_dir / REGISTER_FILE, orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    return len(rows)


# ------------------------------------------------------------------------------ holdings
def find_holdings(ctx: CommandContext, key: bytes, hashes: set[str],
                  search_snapshots: bool) -> tuple[int, list[dict[str, Any]]]:
    """How many person records match, and which snapshots (per location) hold them: the
    drilled mirror first, then each snapshot's person file restored into a private folder."""
    holdings: list[dict[str, Any]] = []
    found = 0
    mirror = mirrordb.mirror_path(ctx.state_dir)
    person_obj, email_col = _person_fields(ctx, mirror)
    if mirror.is_file() and person_obj:
        n = _search_mirror(mirror, person_obj, email_col, key, hashes)
        if n:
            found = n
            facts = mirrordb.info(mirror)
            holdings.append({"location": facts.get("location", ""), "snapshot_id":
                             facts.get("snapshot_id", ""), "time": facts.get("snapshot_time"),
                             "where": "drilled mirror"})
    if search_snapshots:
        found = max(found, _search_snapshots(ctx, key, hashes, holdings))
    return found, holdings


def _person_fields(ctx: CommandContext, mirror: Path) -> tuple[str, str]:
    connector = mirrordb.connector_of(mirror) if mirror.is_file() else None
    source = ctx.settings.source
    mapping = (ctx.policies.canonical.get(connector or source.connector)
               or ctx.policies.canonical.get(source.flavour))
    person = mapping.entity("person") if mapping else None
    if person is None:
        return "", ""
    src = person.fields.get("email")
    return person.object, src.name if src is not None and src.kind == "field" else ""


def _match(key: bytes, hashes: set[str], obj: str, rid: str, email: str | None) -> bool:
    cands = [f"id:{obj}:{rid}"] + ([f"email:{normalise_email(email)}"] if email else [])
    return any(crypto.keyed_hash(key, c) in hashes for c in cands)


def _search_mirror(mirror: Path, obj: str, email_col: str, key: bytes,
                   hashes: set[str]) -> int:
    table = mirrordb.quote(obj)
    cols, _ = mirrordb.query(mirror, f"SELECT * FROM {table} LIMIT 0")  # noqa: S608
    email_sql = mirrordb.quote(email_col) if email_col in cols else "NULL"
    _, rows = mirrordb.query(mirror, f"SELECT id, {email_sql} FROM {table}")  # noqa: S608
    return sum(1 for rid, email in rows
               if _match(key, hashes, obj, str(rid), str(email) if email else None))


def _search_snapshots(ctx: CommandContext, key: bytes, hashes: set[str],
                      holdings: list[dict[str, Any]]) -> int:
    """Restore the manifest and person file of each distinct snapshot (by original id) into a
    private folder and look for the person there."""
    seen: dict[str, int] = {}
    found = 0
    for location in ctx.usable_locations():
        restic = ctx.restic(location)
        try:
            snaps = restic.snapshots()
        except StorageError:
            continue
        for snap in snaps:
            original = snap.original or snap.id
            if original not in seen:
                seen[original] = _scan_snapshot(ctx, restic, snap.id, key, hashes)
            if seen[original]:
                found = max(found, seen[original])
                holdings.append({"location": location.name, "snapshot_id": original,
                                 "time": snap.time.isoformat(), "where": "snapshot"})
    return found


def _scan_snapshot(ctx: CommandContext, restic: Any, snap_id: str, key: bytes,
                   hashes: set[str]) -> int:
    with private_workdir(ctx.state_dir, "privacy-scan") as work:
        restic.restore(snap_id, work, include=["*.json", "*.ndjson"])
        root = find_export_root(work, with_objects=True)
        if root is None:
            return 0
        folder = ExportFolder(root)
        mapping = ctx.policies.canonical.get(folder.connector)
        person = mapping.entity("person") if mapping else None
        if person is None or person.object not in folder.objects:
            return 0
        src = person.fields.get("email")
        col = src.name if src is not None and src.kind == "field" else ""
        obj = folder.objects[person.object]
        return sum(1 for row, _a in obj.rows()
                   if _match(key, hashes, person.object, row.get(obj.id_column, ""),
                             row.get(col) if col else None))
