"""Files in ``vaultkeeper diff``: which files were added, removed or changed between two
snapshots, by their links and SHA-256.

A file is the same file across snapshots by its vendor identity: HubSpot's file id, a
Salesforce ContentDocument (each new ContentVersion has a new id, so versions of one document
are the same file), an Attachment's id. ``changed`` means other bytes (SHA-256); ``relinked``
means the same bytes on other records (links added or removed).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from vaultkeeper.exportfmt_files import FILES_INDEX, FileRecord

SAMPLE = 200
"""Files listed per kind of change (the counts are always complete)."""


def _key(rec: FileRecord) -> str:
    document = rec.raw.get("document_id") if rec.kind == "ContentVersion" else None
    return f"ContentDocument:{document}" if document else rec.key


def _read(root: Path) -> dict[str, FileRecord] | None:
    path = root / FILES_INDEX
    if not path.exists():
        return None
    out: dict[str, FileRecord] = {}
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                rec = FileRecord.parse(orjson.loads(line))
                out[_key(rec)] = rec
    return out


def _links(rec: FileRecord) -> set[str]:
    return {f"{obj} {rid}" for obj, rid in rec.links}


def _item(change: str, a: FileRecord | None, b: FileRecord | None) -> dict[str, Any]:
    rec = b or a
    assert rec is not None
    la, lb = _links(a) if a else set(), _links(b) if b else set()
    return {"change": change, "kind": rec.kind, "id": rec.id, "name": rec.name,
            "size_before": a.size if a else None, "size_after": b.size if b else None,
            "sha256_before": a.sha256 if a else None, "sha256_after": b.sha256 if b else None,
            "links_added": sorted(lb - la), "links_removed": sorted(la - lb)}


def compare_files(root_a: Path, root_b: Path) -> dict[str, Any] | None:
    """Counts (``before``, ``after``, ``added``, ``removed``, ``changed``, ``relinked``,
    ``unchanged``) and the files of each change (``items``, at most ``SAMPLE`` per change);
    None when neither snapshot has a files part."""
    a, b = _read(root_a), _read(root_b)
    if a is None and b is None:
        return None
    a, b = a or {}, b or {}
    counts = {"before": len(a), "after": len(b), "added": 0, "removed": 0, "changed": 0,
              "relinked": 0, "unchanged": 0}
    items: list[dict[str, Any]] = []
    shown: dict[str, int] = {}

    def note(change: str, before: FileRecord | None, after: FileRecord | None) -> None:
        counts[change] += 1
        if change != "unchanged" and shown.get(change, 0) < SAMPLE:
            shown[change] = shown.get(change, 0) + 1
            items.append(_item(change, before, after))

    for key in sorted(set(a) | set(b)):
        before, after = a.get(key), b.get(key)
        if before is None:
            note("added", None, after)
        elif after is None:
            note("removed", before, None)
        elif before.sha256 != after.sha256:
            note("changed", before, after)
        elif _links(before) != _links(after):
            note("relinked", before, after)
        else:
            note("unchanged", before, after)
    return {**counts, "items": items}


def files_table_rows(files: Mapping[str, Any] | None) -> list[str]:
    """One line per added/removed/changed/relinked file, for the terminal."""
    if not files:
        return []
    out = []
    for item in files.get("items", []):
        size = item["size_after"] if item["size_after"] is not None else item["size_before"]
        links = ""
        if item["links_added"]:
            links += f" +{', '.join(item['links_added'][:3])}"
        if item["links_removed"]:
            links += f" -{', '.join(item['links_removed'][:3])}"
        out.append(f"file {item['change']}: {item['name']} ({item['kind']} {item['id']}, "
                   f"{size} bytes){links}")
    return out
