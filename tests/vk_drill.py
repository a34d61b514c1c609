"""Helpers for drill and diff tests: export folders written with the export's own writers, and
snapshots of them taken with the real restic."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from vaultkeeper.config import Secret
from vaultkeeper.crypto import SIGNATURE_TAG, manifest_signature
from vaultkeeper.digest import canonical_json
from vaultkeeper.exportfmt import write_manifest
from vaultkeeper.restic import Restic
from vaultkeeper.services.export import NdjsonWriter, prepare_out_dir
from vaultkeeper.storage.locations import Location


def hubspot_schema(props: list[str]) -> dict[str, Any]:
    return {"results": [{"name": p, "type": "number" if p.startswith("n_") else "string"}
                        for p in props]}


def make_export(out: Path, objects: dict[str, list[dict[str, Any]]],
                relations: dict[str, list[dict[str, Any]]] | None = None, *,
                connector: str = "hubspot", schemas: dict[str, Any] | None = None) -> dict:
    """An export folder exactly as the export service writes it (canonical lines, manifest)."""
    if out.exists():
        shutil.rmtree(out)
    prepare_out_dir(out, overwrite=False)
    entries = {}
    for name, records in objects.items():
        schema = (schemas or {}).get(name)
        if schema is None:
            props = sorted({k for r in records for k in (r.get("properties") or {})})
            schema = hubspot_schema(props)
        schema_bytes = canonical_json(schema)
        (out / "schema" / f"{name}.json").write_bytes(schema_bytes)
        writer = NdjsonWriter(out / "objects" / f"{name}.ndjson")
        archived = 0
        for record in records:
            writer.write(record)
            archived += bool(record.get("archived") or record.get("IsDeleted"))
        entry = writer.close()
        entries[name] = {
            "count": entry["count"], "live": entry["count"] - archived, "archived": archived,
            "quarantined": 0, "source_count": None, "difference": None,
            "file": f"objects/{name}.ndjson", "sha256": entry["sha256"],
            "bytes": entry["bytes"], "content_digest": entry["content_digest"],
            "quarantine_file": None, "primary_key": "Id" if connector == "salesforce" else "id",
            "schema": {"file": f"schema/{name}.json",
                       "sha256": hashlib.sha256(schema_bytes).hexdigest(),
                       "properties": len(schema.get("results", schema.get("fields", [])))},
            "duration_s": 0.0}
    rels = {}
    for stem, lines in (relations or {}).items():
        writer = NdjsonWriter(out / "relations" / f"{stem}.ndjson")
        for line in lines:
            writer.write(line)
        rels[stem] = {"path": f"relations/{stem}.ndjson", **writer.close()}
    manifest = {
        "format": "vaultkeeper-export/1", "tool": {"name": "vaultkeeper", "version": "test"},
        "connector": {"name": connector, "version": "test"}, "source": {},
        "started_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:00:01+00:00",
        "duration_s": 1.0, "status": "complete", "problems": [], "order": list(objects),
        "excluded": [], "objects": entries, "relations": rels, "requests": {}}
    write_manifest(out, manifest)
    return manifest


def rewrite_object(out: Path, name: str, lines: list[bytes]) -> None:
    """Replace an object's file and fix its manifest entry (a consistent but different export)."""
    import orjson

    from vaultkeeper.digest import ContentDigest

    data = b"".join(line + b"\n" for line in lines)
    (out / "objects" / f"{name}.ndjson").write_bytes(data)
    digest = ContentDigest()
    for line in lines:
        digest.add_canonical(line)
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    manifest["objects"][name].update(count=len(lines), sha256=hashlib.sha256(data).hexdigest(),
                                     bytes=len(data), content_digest=digest.hexdigest())
    write_manifest(out, manifest)


def restic_for(repo: str, key: Path, cache: Path) -> Restic:
    location = Location(name="t", kind="local", display_url=repo, url=repo)
    return Restic(location, Secret(kind="file", ref=str(key)), cache_dir=cache)


def snapshot(root: Path, location_dir: Path, export: Path) -> str:
    """Back ``export`` up into a location of a make_config() tree, as `vaultkeeper backup` tags
    it; returns the full snapshot id."""
    key = root / "secrets" / "repository.key"
    restic = restic_for(str(location_dir), key, root / ".vaultkeeper" / "cache")
    manifest = (export / "manifest.json").read_bytes()
    manifest_sha = hashlib.sha256(manifest).hexdigest()
    # Signed as `vaultkeeper backup` signs it (issue 12): the HMAC keyed by the password.
    signature = manifest_signature(key.read_text(encoding="utf-8").strip(), manifest)
    return restic.backup(export, tags=["vaultkeeper", "source:test",
                                       f"manifest:{manifest_sha[:16]}",
                                       f"{SIGNATURE_TAG}{signature}"]).snapshot_id


def flip_bytes_in_largest_pack(location_dir: Path) -> Path:
    """Corrupt the repository's largest pack file in place (as a failing disk would)."""
    packs = sorted((p for p in (location_dir / "data").rglob("*") if p.is_file()),
                   key=lambda p: p.stat().st_size)
    pack = packs[-1]
    pack.chmod(0o600)
    with pack.open("r+b") as handle:
        handle.seek(pack.stat().st_size // 2)
        chunk = handle.read(16)
        handle.seek(pack.stat().st_size // 2)
        handle.write(bytes(b ^ 0xFF for b in chunk))
        handle.flush()
        os.fsync(handle.fileno())
    return pack


# JSON values with the awkward bits: unicode (incl. astral and RTL), control characters,
# empty strings vs nulls, nesting, big and negative numbers.
text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
leaf = st.one_of(st.none(), st.booleans(), text, st.just(""),
                 st.integers(min_value=-(2**63), max_value=2**63 - 1),
                 st.floats(allow_nan=False, allow_infinity=False))
value = st.recursive(leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)), max_leaves=8)
prop_names = st.sampled_from(["firstname", "lastname", "email", "city", "notes", "n_score",
                              "Firstname", "ünïcode", "with space", 'quo"te', "id", "_raw"])


@st.composite
def records(draw):
    ids = draw(st.lists(st.text(min_size=1, max_size=12), min_size=0, max_size=12, unique=True))
    out = []
    for rid in ids:
        props = draw(st.dictionaries(prop_names, value, max_size=6))
        if draw(st.booleans()):
            props["notes"] = draw(st.sampled_from(["", None, "x" * 70_000]))
        out.append({"id": rid, "archived": draw(st.booleans()), "properties": props,
                    "extra": draw(value)})
    return out
