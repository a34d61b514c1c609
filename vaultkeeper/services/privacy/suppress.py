"""Suppression of erased persons wherever data comes back — THE function restore calls.

``erased_ids(ctx, export_root)`` reads an export folder (a restored snapshot, a fresh export)
and returns ``Suppression``: per exported object, the ids of the records to drop — the
registered persons (matched by the keyed hash of their e-mail or ``object:id``) and, per
``policies/privacy.toml [suppress]``, the records that are theirs alone (notes, memberships,
donations), found through the canonical mapping's ``person_id`` (a relation, the record itself
or a field). Then:

* ``filter_export(root, suppression)`` rewrites the export in place (it must live in a private
  folder): object and relation files without those records, the manifest's counts and digests
  recomputed and ``privacy.suppressed`` added — so everything built from it (the emergency
  package, an escrow release, a restore) balances against its manifest;
* ``db.mirror.delete_records`` removes them from a loaded mirror (the drill, after proving the
  bytes against the untouched manifest).

Files (``files/index.ndjson``, the mirror's ``_files``) follow the records: a file whose every
link to an exported object names a suppressed record is theirs alone and is dropped (its bytes
too); a file that also belongs to a kept record stays, without its links to suppressed records.
Links to objects the export does not hold (Salesforce users) do not make a file anyone's.

Restore: call ``erased_ids(ctx, export_root)`` and skip every record whose id is in
``suppression.ids.get(object, ())`` (or call ``filter_export`` on the restored folder first).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from vaultkeeper import crypto, registry
from vaultkeeper.canonical import CanonicalMapping
from vaultkeeper.db import mirror as mirrordb
from vaultkeeper.db import mirror_files
from vaultkeeper.digest import ContentDigest
from vaultkeeper.exportfmt import MANIFEST, iter_lines, write_manifest
from vaultkeeper.exportfmt_files import FileRecord, hash_file
from vaultkeeper.policies.privacy import PrivacyPolicy
from vaultkeeper.privatefs import open_private
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.emergency.source import ExportFolder
from vaultkeeper.services.privacy import register

REGISTER_FILE = register.REGISTER_FILE


@dataclass
class Suppression:
    """What to drop: record ids per object, the erased persons, and relation lines dropped."""

    ids: dict[str, set[str]] = field(default_factory=dict)
    persons: int = 0
    person_object: str = ""
    relations: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    files: set[tuple[str, str]] = field(default_factory=set)
    """(kind, id) of the files that are the suppressed records' alone."""
    file_links: int = 0
    """Links (file → suppressed record) dropped, on dropped and on kept files."""

    @property
    def records(self) -> int:
        """Records dropped, every object together."""
        return sum(len(v) for v in self.ids.values())

    def counts(self) -> dict[str, int]:
        """Records dropped per object."""
        return {k: len(v) for k, v in sorted(self.ids.items()) if v}

    def summary(self) -> str:
        """``3 erased persons suppressed (7 records, 2 files)``."""
        noun = "person" if self.persons == 1 else "persons"
        files = (f", {len(self.files)} file{'' if len(self.files) == 1 else 's'}"
                 if self.files else "")
        return f"{self.persons} erased {noun} suppressed ({self.records} records{files})"

    def as_json(self) -> dict[str, Any]:
        """For reports and ``--json`` (counts only: never an id)."""
        return {"persons": self.persons, "records": self.records, "objects": self.counts(),
                "relations": dict(sorted(self.relations.items())),
                "requests": self.requests, "files": len(self.files),
                "file_links": self.file_links, "summary": self.summary()}


def erased_ids(ctx: Any, export_root: Path, *, keys: Sequence[bytes] = ()) -> Suppression:
    """The records of ``export_root`` to suppress for the erasure register in force: the state
    database's and the one backed up inside the export (``privacy-register.json``). ``keys``:
    more register keys (an escrow release opens the deposit with another password)."""
    context = CommandContext.of(ctx)
    found_keys, hashes, count = register.matching_material(context, export_root)
    keys = list(dict.fromkeys([*found_keys, *keys]))
    if not hashes:
        return Suppression()
    folder = ExportFolder(export_root)
    flavours = [obj.flavour for obj in folder.objects.values()][:1]
    mapping = (context.policies.canonical.get(folder.connector)
               or context.policies.canonical.get(flavours[0] if flavours else ""))
    result = find_suppressed(folder, mapping, context.policies.privacy, keys, hashes)
    result.requests = count
    return result


def find_suppressed(folder: ExportFolder, mapping: CanonicalMapping | None,
                    policy: PrivacyPolicy, keys: list[bytes], hashes: set[str], *,
                    file_records: Callable[[], Iterable[FileRecord]] | None = None
                    ) -> Suppression:
    """The pure part of ``erased_ids``: match hashes, then follow the canonical mapping and
    the files' links. ``file_records``: where the files are listed (default: the export's)."""
    result = Suppression()
    if not hashes or not keys:
        return result
    person = mapping.entity("person") if mapping else None
    person_obj = person.object if person is not None else ""
    email_src = person.fields.get("email") if person is not None else None
    email_col = email_src.name if email_src is not None and email_src.kind == "field" else ""
    for name, obj in folder.objects.items():
        dropped: set[str] = set()
        for row, _archived in obj.rows():
            rid = row.get(obj.id_column, "")
            candidates = [f"id:{name}:{rid}"]
            if name == person_obj and email_col and row.get(email_col):
                candidates.append("email:" + register.normalise_email(row[email_col]))
            if any(crypto.keyed_hash(k, c) in hashes for k in keys for c in candidates):
                dropped.add(rid)
        if dropped:
            result.ids[name] = dropped
    persons = set(result.ids.get(person_obj, set()))
    result.persons, result.person_object = len(persons), person_obj
    if persons and mapping is not None:
        _follow(folder, mapping, policy, persons, result)
    _relations(folder, result)
    if result.records:
        listed = file_records() if file_records is not None else folder.export.file_records()
        _files(listed, set(folder.objects), result)
    return result


def _files(records: Iterable[FileRecord], objects: set[str], result: Suppression) -> None:
    """Files whose every link to an exported object names a suppressed record."""
    for rec in records:
        gone = sum(1 for obj, rid in rec.links if rid in result.ids.get(obj, ()))
        if not gone:
            continue
        result.file_links += gone
        if all(rid in result.ids.get(obj, ()) for obj, rid in rec.links if obj in objects):
            result.files.add((rec.kind, rec.id))


def _follow(folder: ExportFolder, mapping: CanonicalMapping, policy: PrivacyPolicy,
            persons: set[str], result: Suppression) -> None:
    """Records that are the erased persons' alone (or any of theirs), per entity policy."""
    person_obj = result.person_object
    for entity in mapping.entities:
        mode = policy.suppress.get(entity.entity, "keep")
        src = entity.fields.get("person_id")
        if entity.entity == "person" or mode == "keep" or src is None:
            continue
        if entity.object not in folder.objects or src.kind == "id":
            continue        # @id: the record is the person itself, already dropped
        owners: dict[str, set[str]] = defaultdict(set)
        if src.kind == "rel" and src.name in folder.relations:
            rel = folder.relations[src.name]
            for a, b, _type in rel.pairs():
                if rel.from_object == entity.object and rel.to_object == person_obj:
                    owners[a].add(b)
                elif rel.to_object == entity.object and rel.from_object == person_obj:
                    owners[b].add(a)
        elif src.kind == "field":
            obj = folder.objects[entity.object]
            for row, _archived in obj.rows():
                if row.get(src.name):
                    owners[row.get(obj.id_column, "")].add(row[src.name])
        hit = {rid for rid, who in owners.items()
               if (who <= persons if mode == "alone" else bool(who & persons))}
        if hit:
            result.ids.setdefault(entity.object, set()).update(hit)


def _relations(folder: ExportFolder, result: Suppression) -> None:
    for stem, rel in folder.relations.items():
        gone_from = result.ids.get(rel.from_object, set())
        gone_to = result.ids.get(rel.to_object, set())
        if not gone_from and not gone_to:
            continue
        n = sum(1 for a, b, _t in rel.pairs() if a in gone_from or b in gone_to)
        if n:
            result.relations[stem] = n


def filter_export(root: Path, suppression: Suppression) -> dict[str, Any]:
    """Rewrite the export in ``root`` (a private folder) without the suppressed records; the
    manifest's counts and digests are recomputed and record what was suppressed."""
    folder = ExportFolder(root)
    manifest: dict[str, Any] = orjson.loads((root / MANIFEST).read_bytes())
    if not suppression.records:
        return manifest
    for name, obj in folder.objects.items():
        drop = suppression.ids.get(name)
        if not drop or not obj.path.exists():
            continue
        rows = obj.rows()
        entry = manifest["objects"][name]
        kept, archived, digest = 0, 0, ContentDigest()
        sha = hashlib.sha256()
        tmp = obj.path.with_name(obj.path.name + ".part")
        with open_private(tmp) as out:
            for line in iter_lines(obj.path):
                if not line:
                    continue
                row, is_archived = next(rows)
                if row.get(obj.id_column, "") in drop:
                    continue
                out.write(line + b"\n")
                sha.update(line + b"\n")
                digest.add_canonical(line)
                kept += 1
                archived += int(is_archived)
        tmp.replace(obj.path)
        entry.update(count=kept, archived=archived, sha256=sha.hexdigest(),
                     content_digest=digest.hexdigest(), bytes=obj.path.stat().st_size)
        if "live" in entry:
            entry["live"] = kept - archived
    for stem, rel in folder.relations.items():
        if stem not in suppression.relations or not rel.path.exists():
            continue
        gone_from = suppression.ids.get(rel.from_object, set())
        gone_to = suppression.ids.get(rel.to_object, set())
        kept, digest, sha = 0, ContentDigest(), hashlib.sha256()
        tmp = rel.path.with_name(rel.path.name + ".part")
        with open_private(tmp) as out:
            for line in iter_lines(rel.path):
                if not line:
                    continue
                item = orjson.loads(line)
                if str(item["from_id"]) in gone_from or str(item["to_id"]) in gone_to:
                    continue
                out.write(line + b"\n")
                sha.update(line + b"\n")
                digest.add_canonical(line)
                kept += 1
        tmp.replace(rel.path)
        entry = manifest["relations"][stem]
        entry.update(count=kept, content_digest=digest.hexdigest())
        if "sha256" in entry:
            entry["sha256"] = sha.hexdigest()
        if "bytes" in entry:
            entry["bytes"] = rel.path.stat().st_size
    if suppression.file_links and isinstance(manifest.get("files"), dict):
        _filter_files(root, manifest["files"], suppression)
    manifest["privacy"] = {"suppressed": suppression.as_json()}
    write_manifest(root, manifest)
    return manifest


def _filter_files(root: Path, entry: dict[str, Any], suppression: Suppression) -> None:
    """Rewrite ``files/index.ndjson`` without the suppressed files and links; remove the
    bytes no kept file shares; the manifest's files entry is recounted."""
    index = root / str(entry.get("index") or "")
    if not index.is_file():
        return
    kept: list[FileRecord] = []
    dropped: list[FileRecord] = []
    for line in iter_lines(index):
        if not line:
            continue
        rec = FileRecord.parse(orjson.loads(line))
        if (rec.kind, rec.id) in suppression.files:
            dropped.append(rec)
            continue
        pairs = [(link, via) for link, via in zip(rec.links, rec.link_properties(), strict=True)
                 if link[1] not in suppression.ids.get(link[0], ())]
        kept.append(FileRecord(rec.kind, rec.id, rec.name, rec.size, rec.modified, rec.sha256,
                               rec.path, tuple(p[0] for p in pairs), rec.checksum, rec.raw,
                               via=tuple(p[1] for p in pairs)))
    tmp = index.with_name(index.name + ".part")
    with open_private(tmp) as out:
        for rec in kept:
            out.write(orjson.dumps(rec.as_json()) + b"\n")
    tmp.replace(index)
    still = {rec.path for rec in kept}
    for rec in dropped:
        if rec.path and rec.path not in still:
            (root / rec.path).unlink(missing_ok=True)
    entry.update(sha256=hash_file(index)[0], count=len(kept),
                 bytes=sum(rec.size for rec in kept), suppressed=len(dropped))


# ----------------------------------------------------------------------- the drilled mirror
class _MirrorObject:
    """A mirror table read like an export object: flattened rows, the CRM id in ``__id``."""

    id_column = "__id"

    def __init__(self, path: Path, name: str, flatten: Any) -> None:
        self.path, self.name, self.flatten = path, name, flatten

    def rows(self) -> Any:
        """(row, archived) per record, from the exact JSON kept in ``_raw``."""
        _, found = mirrordb.query(self.path, f"SELECT id, _raw, _archived FROM "  # noqa: S608
                                  f"{mirrordb.quote(self.name)}")
        for rid, raw, archived in found:
            yield self.flatten(orjson.loads(raw)) | {"__id": str(rid)}, bool(archived)


class _MirrorRelation:
    """A ``rel_<stem>`` table read like a relation file."""

    def __init__(self, path: Path, stem: str) -> None:
        self.path, self.stem = path, stem
        self.from_object, _, self.to_object = stem.partition("__")

    def pairs(self) -> Any:
        """(from id, to id, type) of every relation row."""
        _, found = mirrordb.query(self.path, "SELECT from_id, to_id, type FROM "  # noqa: S608
                                  f"{mirrordb.quote('rel_' + self.stem)}")
        for a, b, kind in found:
            yield str(a), str(b), str(kind or "")


class _MirrorFolder:
    def __init__(self, path: Path, objects: list[str], relations: list[str],
                 flatten: Any) -> None:
        self.path = path
        self.objects = {n: _MirrorObject(path, n, flatten) for n in objects}
        self.relations = {s: _MirrorRelation(path, s) for s in relations}

    def file_records(self) -> list[FileRecord]:
        """The mirror's ``_files`` with their ``_file_links`` (none without those tables)."""
        return mirror_files.file_records(self.path)


def suppress_drilled_mirror(ctx: Any) -> Suppression:
    """Apply the register to the drilled mirror now (``privacy forget`` calls it), so the
    mirror and ``mirror serve`` drop a person registered after the last drill."""
    context = CommandContext.of(ctx)
    path = mirrordb.mirror_path(context.state_dir)
    if not path.is_file():
        return Suppression()
    keys, hashes, count = register.matching_material(context)
    manifest = orjson.loads(mirrordb.info(path).get("manifest") or "{}")
    connector = str((manifest.get("connector") or {}).get("name") or "")
    mapping = context.policies.canonical.get(connector)
    reader = registry.reader_for(connector).package
    if not hashes or reader is None:
        return Suppression()
    _, tables = mirrordb.query(path, "SELECT name FROM sqlite_master WHERE type = 'table'")
    names = {str(t[0]) for t in tables}
    objects = [n for n in (manifest.get("objects") or {}) if n in names]
    relations = [s for s in (manifest.get("relations") or {}) if f"rel_{s}" in names]
    folder = _MirrorFolder(path, objects, relations, reader.flatten)
    result = find_suppressed(folder, mapping, context.policies.privacy,  # type: ignore[arg-type]
                             keys, hashes, file_records=folder.file_records)
    result.requests = count
    if result.records:
        mirrordb.delete_records(path, result.ids, files=result.files)
    return result
