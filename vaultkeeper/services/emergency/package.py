"""Build the emergency package from an export folder, streaming every object twice.

Pass 1 profiles each object (columns, completeness, which declared types really hold, ids into
the scratch store) and loads the relations into the scratch store. Pass 2 writes, record by
record: the object's CSV, the canonical entity rows with their extra fields, the target's import
files, the quality findings, the sample and the id-map template. Then the relations, the
duplicate candidates, the Frictionless descriptor (validated), the runbook, and last the signed
``package.json`` and ``SHA256SUMS``.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import KW_ONLY, InitVar, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from vaultkeeper import __version__, crypto
from vaultkeeper.canonical import CanonicalMapping, EntityMapping
from vaultkeeper.config import Settings
from vaultkeeper.db import open_state_db
from vaultkeeper.db.rehearsals import latest_rehearsal
from vaultkeeper.db.scratch import Scratch
from vaultkeeper.errors import UsageError
from vaultkeeper.policies import Policies
from vaultkeeper.privatefs import private_workdir
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.emergency import dedupe, duplicates, relations, runbook, split
from vaultkeeper.services.emergency.descriptor import descriptor, validate_descriptor
from vaultkeeper.services.emergency.files import (
    FINAL_DIRS,
    CsvOut,
    RowCells,
    all_files,
    hash_files,
    sha256_file,
    write_bytes,
    write_text,
)
from vaultkeeper.services.emergency.generic_writer import GenericWriter
from vaultkeeper.services.emergency.infer import infer
from vaultkeeper.services.emergency.passes import phone_pool, prepared, profile_object
from vaultkeeper.services.emergency.placement import IDMAP_HEADER, Placement
from vaultkeeper.services.emergency.quality import QualityLog, render_html
from vaultkeeper.services.emergency.result import (
    CHECKSUMS,
    EXPORT_MANIFEST,
    FORMAT,
    PACKAGE_JSON,
    PUBLIC_KEY,
    SIGNATURE,
    BuildObserver,
    PackageResult,
    Provenance,
    prepare_out,
)
from vaultkeeper.services.emergency.source import (
    ExportFolder,
    ExportObject,
    open_export,
    resource_name,
)
from vaultkeeper.services.emergency.split import ObjectOut
from vaultkeeper.services.emergency.targets import import_files, target_names
from vaultkeeper.services.emergency.writers import EntityWriter

IMPORT_ORDER = ("organisation", "person", "membership", "donation", "activity")
"""Dependency order: each entity's references point at entities imported before it."""

@dataclass(eq=False)
class PackageBuilder:
    """One build: holds the open export, the scratch store and the writers' bookkeeping."""

    folder: ExportFolder
    out: Path
    work: InitVar[Path]
    _: KW_ONLY
    target: str
    policies: Policies
    region: str | None
    sample_percent: int
    observer: BuildObserver

    def __post_init__(self, work: Path) -> None:
        self.workdir = work
        self.scratch = Scratch(work / "scratch.db")
        self.log = QualityLog(self.out)
        self.warnings: list[str] = []
        self.placement = Placement()
        self.mapping_info: dict[str, Any] = {}
        self.mapping = self._mapping(self.policies.canonical.get(self.folder.connector))
        self.types: dict[str, dict[str, str]] = {}
        self.columns: dict[str, list[str]] = {}
        self.unique_ids: dict[str, bool] = {}
        self.entity_counts: dict[str, Counter[str]] = {}
        self.sample_counts: Counter[str] = Counter()
        self.relation_rows: dict[str, int] = {}
        self.dangling_refs: Counter[str] = Counter()
        self.person_object = self._person_object()
        self.current: dict[str, str] = {}
        self.dup_stats = dedupe.DedupeStats()
        self.hashed: Future[dict[str, dict[str, Any]]] | None = None
        """Digests of the files final before the duplicate list (see ``hash_final``)."""
        self.generic_files: dict[str, str] = {}
        self.done: set[str] = set()
        """Objects whose pass 2 is over (what they wrote to the scratch store is final)."""

    # -- set-up ------------------------------------------------------------------------
    def _mapping(self, mapping: CanonicalMapping | None) -> list[EntityMapping]:
        if mapping is None:
            self.observer.stage("infer the canonical mapping", None)
            inference = infer(self.folder)
            mapping = inference.mapping()
            self.mapping_info = inference.as_json()
            if not mapping.entities:
                self.warnings.append(f"no canonical mapping for connector "
                                     f"{self.folder.connector!r} and none could be inferred: "
                                     "write policies/mappings/<connector>.toml")
                return []
            self.warnings.append(f"no mapping file for connector {self.folder.connector!r}: "
                                 "the canonical mapping was INFERRED from column names and "
                                 "values (see the runbook); check it with `vaultkeeper "
                                 "emergency mapping suggest`")
        else:
            self.mapping_info = {"source": mapping.source}
        usable = []
        for em in mapping.entities:
            if em.object not in self.folder.objects:
                self.warnings.append(f"{mapping.source}: [{em.entity}] object {em.object!r} is "
                                     "not in this export; the entity is left out")
                continue
            for src in em.fields.values():
                if src.kind == "rel" and src.name not in self.folder.relations:
                    self.warnings.append(f"{mapping.source}: relation {src.name!r} is not in "
                                         f"this export ([{em.entity}] fields stay empty)")
            obj = self.folder.objects[em.object]
            if em.id_field and not obj.primary_key:   # "Lidnummer" as the legacy id
                obj.primary_key = em.id_field
                obj.columns.pop("_row", None)
            usable.append(em)
        return sorted(usable, key=lambda e: IMPORT_ORDER.index(e.entity))

    def _person_object(self) -> str:
        person = next((e for e in self.mapping if e.entity == "person"), None)
        if person is not None:
            return person.object
        sized = sorted(self.folder.objects.values(), key=lambda o: -o.count)
        return sized[0].name if sized else ""

    # -- pass 1 --------------------------------------------------------------------------
    def profile(self) -> None:
        """Columns, completeness, conforming types; ids and sample seeds into the scratch."""
        connected = self._connected(self.person_object)
        for obj in self.folder.objects.values():
            self.observer.stage(f"profile {obj.name}", obj.count)
            seed_here = obj.name == self.person_object or obj.name not in connected
            prof, seen_cols, bad = (split.profile_split(self, obj, seed_here)
                                    if split.worth_profiling(obj) else
                                    profile_object(self, obj, seed_here=seed_here))
            cols = list(seen_cols)
            pk = obj.id_column
            if pk in cols:
                cols.remove(pk)
            cols.insert(0, pk)
            obj.columns = {c: seen_cols[c] for c in cols}
            self.columns[obj.name] = cols
            self.unique_ids[obj.name] = self.scratch.count_ids(obj.name) == prof.records
            if not self.unique_ids[obj.name]:
                self.warnings.append(f"{obj.name}: legacy ids are not unique; no primary key is "
                                     "declared for it in datapackage.json")
            types = {}
            for c in cols:
                kind = seen_cols[c].candidate_type
                if kind != "string" and c in bad:
                    prof.nonconforming[c] = 1
                    kind = "string"
                types[c] = kind
            self.types[obj.name] = types
            self.log.profiles[obj.name] = prof
            self.log.columns[obj.name] = cols
            if prof.records != obj.count:
                self.warnings.append(f"{obj.name}: {prof.records} records read but the export "
                                     f"manifest says {obj.count}")
        for rel in self.folder.relations.values():
            self.observer.stage(f"index {rel.stem}", rel.count)
            self.scratch.add_links(rel.stem, ((a, b) for a, b, _t in rel.pairs()))
            self.observer.advance(rel.count)
        self._close_sample()

    def _connected(self, root: str) -> set[str]:
        seen, frontier = {root}, [root]
        while frontier:
            obj = frontier.pop()
            for rel in self.folder.relations.values():
                for a, b in ((rel.from_object, rel.to_object), (rel.to_object, rel.from_object)):
                    if a == obj and b not in seen:
                        seen.add(b)
                        frontier.append(b)
        return seen

    def _close_sample(self) -> None:
        """Records related to sampled persons join the sample (breadth first from persons)."""
        done, frontier = {self.person_object}, [self.person_object]
        while frontier:
            obj = frontier.pop(0)
            for rel in self.folder.relations.values():
                if rel.from_object == obj and rel.to_object not in done:
                    self.scratch.close_over(f"sample:{rel.to_object}", f"sample:{obj}", rel.stem)
                    done.add(rel.to_object)
                    frontier.append(rel.to_object)
                elif rel.to_object == obj and rel.from_object not in done:
                    self.scratch.close_over(f"sample:{rel.from_object}", f"sample:{obj}",
                                            rel.stem, reverse=True)
                    done.add(rel.from_object)
                    frontier.append(rel.from_object)

    # -- pass 2 --------------------------------------------------------------------------
    def write_objects(self) -> None:
        """Every object's CSV plus everything derived from its records."""
        order = sorted(self.folder.objects.values(), key=self._object_rank)
        for obj in order:
            self._write_object(obj)

    def _object_rank(self, obj: ExportObject) -> tuple[int, int]:
        # Organisations first: persons' import rows look up their organisation's domain.
        ranks = [IMPORT_ORDER.index(e.entity) for e in self.mapping if e.object == obj.name]
        return (min(ranks) if ranks else len(IMPORT_ORDER),
                list(self.folder.objects).index(obj.name))

    def _write_object(self, obj: ExportObject) -> None:
        cols = self.columns[obj.name]
        res = obj.resource
        data = CsvOut(self.out / "data" / "objects" / f"{res}.csv", cols)
        sample = CsvOut(self.out / "sample" / "data" / "objects" / f"{res}.csv", cols)
        idmap = CsvOut(self.out / "import" / "id-map" / f"{res}.csv", IDMAP_HEADER)
        generic = self._generic_writers(obj) if self.target == "generic" else None
        mine = [em for em in self.mapping if em.object == obj.name]
        placing = None
        if generic is None:
            with_files = [em for em in mine if any(s.entity == em.entity
                                                   for s in import_files(self.target))]
            placing = next((em for em in with_files if not em.when),
                           with_files[0] if with_files else None)
        entities = [EntityWriter(self, em, placing=em is placing) for em in mine]
        gap = (f"no import file of the {self.target} target takes {obj.name} records "
               f"(no canonical entity is fed from it); they are complete in "
               f"data/objects/{res}.csv" if placing is None else
               f"not taken by the {placing.entity} rule and no other import file")
        self.observer.stage(f"write {obj.name}", obj.count)
        o = ObjectOut(obj, data, sample, idmap, generic, entities, gap)
        if split.worth(self, o):
            split.write_split(self, o)
        else:
            pool = phone_pool(obj, entities)
            try:
                self.write_rows(o, obj.rows(), pool)
            finally:
                if pool is not None:
                    pool.shutdown(cancel_futures=True)
        self.done.add(obj.name)
        for out in (data, sample, idmap):
            out.close()
        if generic is not None:
            generic.close()
        for writer in entities:
            writer.close()

    def write_rows(self, o: ObjectOut, rows: Iterator[tuple[dict[str, str], bool]],
                   pool: Executor | None) -> None:
        """Pass 2 over ``rows`` (all of an object's records, or one worker's share)."""
        obj, gap, generic, entities = o.obj, o.gap, o.generic, o.entities
        data, sample, idmap = o.data, o.sample, o.idmap
        in_sample = f"sample:{obj.name}"
        idc, has = obj.id_column, self.scratch.has
        data_cells, name = RowCells(data.header), obj.name
        for chunk in prepared(self, obj, entities, pool, rows):
            for row, archived in chunk:
                legacy = row.get(idc, "")
                cells = data_cells(row)
                data.write_values(cells)
                sampled = has(in_sample, legacy)
                if sampled:
                    sample.write_values(cells)   # the same columns
                    self.sample_counts[name] += 1
                where = generic.write(row, archived, sampled) if generic is not None else None
                for writer in entities:
                    placed = writer.write(row, legacy, archived, sampled)
                    where = where or placed
                if where:
                    self.placement.place(name, where)
                    idmap.write_values([name, legacy, "true" if archived else "false", where,
                                        "", ""])
                else:
                    self.placement.gap(name, gap)
                    idmap.write_values([name, legacy, "true" if archived else "false", "",
                                        gap, ""])
            self.observer.advance(len(chunk))

    def _generic_writers(self, obj: ExportObject) -> GenericWriter:
        return GenericWriter(self, obj, self.policies.mappings)

    # -- relations -----------------------------------------------------------------------
    def write_relations(self) -> None:
        """Relation CSVs keeping only resolvable keys; the rest listed as dangling."""
        relations.write_relations(self)

    # -- duplicates ----------------------------------------------------------------------
    def write_duplicates(self, meanwhile: Callable[[], None] | None = None) -> None:
        """Duplicate candidates into quality/duplicates.csv (``meanwhile`` first: see
        duplicates.py)."""
        duplicates.write_duplicates(self, meanwhile)

    def hash_final(self) -> None:
        """Start hashing the files no later step writes (data, canonical rows, import files,
        attachments, the sample's data) in a thread, while the rest is written; ``_finish``
        takes each digest whose file is unchanged since (size and time)."""
        files = [f for f in all_files(self.out) if f.startswith(FINAL_DIRS)]
        pool = ThreadPoolExecutor(1)
        self.hashed = pool.submit(hash_files, self.out, files)
        pool.shutdown(wait=False)


# ------------------------------------------------------------------------------ entry point
def build_package(export_dir: Path, out_dir: Path, settings: Settings, *, target: str,
                  provenance: Provenance | None = None, observer: BuildObserver | None = None,
                  validate: bool = True, sample_percent: int = 10,
                  policies: Policies | None = None) -> PackageResult:
    """Build the emergency package for ``target`` from an export folder into ``out_dir``."""
    if target not in target_names():
        raise UsageError(f"unknown target {target!r}", f"use one of {', '.join(target_names())}")
    observer = observer or BuildObserver()
    provenance = provenance or Provenance()
    policies = policies or CommandContext(settings).policies
    folder = open_export(export_dir)
    prepare_out(out_dir)
    key = crypto.load_or_create_signing_key(settings.state_dir / "keys")
    # The scratch store holds e-mails and phone numbers: a private folder the next run of any
    # command removes if this one is killed.
    with private_workdir(settings.state_dir, "emergency-work") as work, _fewer_collections():
        b = PackageBuilder(folder, out_dir, work, target=target, policies=policies,
                           region=settings.emergency.default_region,
                           sample_percent=sample_percent, observer=observer)
        try:
            b.profile()
            b.write_objects()
            b.write_duplicates(meanwhile=b.write_relations)
        finally:
            b.scratch.close()
            b.log.close()
    return _finish(b, key, provenance, validate=validate,
                   rehearsal=latest_rehearsal(open_state_db(settings.state_dir)))


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """The passes allocate millions of short-lived, acyclic rows and cells: the cyclic
    garbage collector runs less often meanwhile (at the default thresholds it took ~8 % of
    a 20,000-contact build's CPU walking the long-lived objects again and again, now ~3 %)."""
    before = gc.get_threshold()
    gc.set_threshold(10_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _finish(b: PackageBuilder, key: Any, provenance: Provenance, *, validate: bool,
            rehearsal: dict[str, Any] | None = None) -> PackageResult:
    out = b.out
    unverified = [n for n, e in (b.folder.manifest.get("objects") or {}).items()
                  if isinstance(e, dict) and e.get("count_verified") is False]
    if unverified:
        b.warnings.append(f"counts unverified: {', '.join(unverified)} (the source reported no "
                          "totals, so the export's completeness could not be checked)")
    b.log.dangling_refs.update(b.dangling_refs)
    b.log.entities = {k: dict(v) for k, v in b.entity_counts.items() if ":" not in k}
    for ref, n in b.dangling_refs.items():
        b.warnings.append(f"{n} canonical {ref} value(s) point at records not in the package; "
                          "no foreign key is declared for it")
    for stem, n in b.log.dangling_counts.items():
        b.warnings.append(f"{stem}: {n} relation(s) point at records not in the export "
                          "(listed in quality/dangling_relations.csv, left out of the CSV)")
    report = b.log.as_json()
    report["warnings"] = b.warnings
    write_bytes(out / "quality" / "report.json",
                orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    write_text(out / "quality" / "report.html", render_html(report, "Data-quality report"))
    write_bytes(out / EXPORT_MANIFEST, b.folder.manifest_bytes)
    pkg = descriptor(b, sample=False)
    write_bytes(out / "datapackage.json", orjson.dumps(pkg, option=orjson.OPT_INDENT_2))
    write_bytes(out / "sample" / "datapackage.json",
                orjson.dumps(descriptor(b, sample=True), option=orjson.OPT_INDENT_2))
    counts = {name: b.log.profiles[name].records for name in b.folder.objects}
    files_by_step = {k: dict(v) for k, v in b.entity_counts.items() if ":" in k}
    md = runbook.render(runbook.RunbookInput(
        target=b.target, provenance=provenance.as_json(), manifest=b.folder.manifest,
        counts=counts, archived={n: b.log.profiles[n].archived for n in counts},
        relations=b.relation_rows, entities=b.log.entities, import_files=files_by_step,
        processes=b.policies.processes, mapping=b.mapping, warnings=b.warnings,
        report=report, sample=dict(b.sample_counts), object_resources={
            n: o.resource for n, o in b.folder.objects.items()}, generic_files=b.generic_files,
        placement=b.placement.as_json(), mapping_info=b.mapping_info, rehearsal=rehearsal))
    write_text(out / "RUNBOOK.md", md)
    write_text(out / "runbook.html", runbook.to_html(md, "Emergency runbook"))
    errors: list[str] = []
    public = crypto.public_key_pem(key)
    write_bytes(out / PUBLIC_KEY, public)
    files = all_files(out, skip=(CHECKSUMS, SIGNATURE, PACKAGE_JSON))
    # Every file is final now: hash them in a thread (hashlib releases the GIL) while
    # Frictionless validates on the other core; SHA256SUMS reuses the digests.
    ahead = b.hashed.result() if b.hashed is not None else {}
    with ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(hash_files, out, files, ahead)
        if validate:
            b.observer.stage("validate (frictionless)", None)
            errors = validate_descriptor(out) + [
                f"sample: {e}" for e in validate_descriptor(out / "sample")]
        b.observer.stage("checksums", None)
        hashes = hashing.result()
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tool": {"name": "vaultkeeper", "version": __version__},
        "target": b.target,
        "source": provenance.as_json() | {"connector": b.folder.connector,
                                          "exported_at": b.folder.manifest.get("finished_at"),
                                          "export_status": b.folder.manifest.get("status")},
        "export_manifest": {"file": EXPORT_MANIFEST,
                            "sha256": hashes[EXPORT_MANIFEST]["sha256"]},
        "objects": {n: {"resource": o.resource, "file": f"data/objects/{o.resource}.csv",
                        "records": b.log.profiles[n].records,
                        "archived": b.log.profiles[n].archived,
                        "manifest_count": o.count, "count_verified": n not in unverified,
                        "sample": b.sample_counts.get(n, 0)}
                    for n, o in b.folder.objects.items()},
        "relations": {r.stem: {"file": f"data/relations/{resource_name(r.stem)}.csv",
                               "rows": b.relation_rows.get(r.stem, 0),
                               "dangling": b.log.dangling_counts.get(r.stem, 0),
                               "manifest_count": r.count,
                               "sample": b.sample_counts.get(r.stem, 0)}
                      for r in b.folder.relations.values()},
        "entities": b.log.entities,
        "placement": b.placement.as_json(),
        "mapping": b.mapping_info,
        "validation": {"frictionless": "skipped" if not validate else
                       ("valid" if not errors else "invalid"), "errors": errors},
        "warnings": b.warnings,
        "signing": {"algorithm": "Ed25519", "public_key": PUBLIC_KEY,
                    "fingerprint": crypto.fingerprint(public), "signature": SIGNATURE},
        "files": {rel: {"sha256": h["sha256"], "bytes": h["bytes"]} for rel, h in hashes.items()},
    }
    data = orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    write_bytes(out / PACKAGE_JSON, data)
    write_bytes(out / SIGNATURE, crypto.sign(key, data))
    write_checksums(out, {rel: h["sha256"] for rel, h in hashes.items()})
    return PackageResult(
        out=out, target=b.target, counts=counts, relations=dict(b.relation_rows),
        entities=b.log.entities, sample=dict(b.sample_counts),
        duplicates=b.dup_stats.candidates, valid=not errors, validation_errors=errors,
        warnings=b.warnings, fingerprint=crypto.fingerprint(public),
        files=len(files) + 3, provenance=provenance, placement=b.placement.as_json(),
        mapping=b.mapping_info)


def write_checksums(out: Path, known: dict[str, str] | None = None) -> None:
    """``SHA256SUMS`` in ``sha256sum -c`` format over every other file of the package
    (``known``: digests already computed, for files unchanged since)."""
    known = known or {}
    lines = [f"{known.get(rel) or sha256_file(out / rel)}  {rel}\n"
             for rel in all_files(out, skip=(CHECKSUMS,))]
    write_text(out / CHECKSUMS, "".join(lines))


def iter_package_files(out: Path) -> Iterator[Path]:
    """Every file of a package (for archiving)."""
    for rel in all_files(out):
        yield out / rel
