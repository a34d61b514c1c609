"""Build the emergency package from an export folder, streaming every object twice.

Pass 1 profiles each object (columns, completeness, which declared types really hold, ids into
the scratch store) and loads the relations into the scratch store. Pass 2 writes, record by
record: the object's CSV, the canonical entity rows with their extra fields, the target's import
files, the quality findings, the sample and the id-map template. Then the relations, the
duplicate candidates, the Frictionless descriptor (validated), the runbook, and last the signed
``package.json`` and ``SHA256SUMS``.
"""

from __future__ import annotations

import functools
import re
import shutil
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from vaultkeeper import __version__, crypto
from vaultkeeper.canonical import ENTITIES, CanonicalMapping, EntityMapping
from vaultkeeper.config import Settings
from vaultkeeper.db import open_state_db
from vaultkeeper.db.rehearsals import latest_rehearsal
from vaultkeeper.db.scratch import Scratch
from vaultkeeper.errors import UsageError
from vaultkeeper.policies import MappingPolicy, Policies, load_policies
from vaultkeeper.services.emergency import dedupe, runbook
from vaultkeeper.services.emergency.clean import (
    check_date,
    check_email,
    check_phone,
    region_of,
)
from vaultkeeper.services.emergency.files import (
    CsvOut,
    all_files,
    sha256_file,
    write_bytes,
    write_text,
)
from vaultkeeper.services.emergency.quality import (
    DUPLICATE_HEADER,
    EXAMPLES,
    ObjectProfile,
    QualityLog,
    render_html,
)
from vaultkeeper.services.emergency.source import (
    Column,
    ExportFolder,
    ExportObject,
    open_export,
    resource_name,
)
from vaultkeeper.services.emergency.targets import TARGETS, ImportFile, resolve

FORMAT = "vaultkeeper-emergency/1"
PACKAGE_JSON = "package.json"
SIGNATURE = "package.json.sig"
PUBLIC_KEY = "signing-key.pub"
CHECKSUMS = "SHA256SUMS"
EXPORT_MANIFEST = "export-manifest.json"
TARGET_NAMES = ("generic", "hubspot", "salesforce")
IMPORT_ORDER = ("organisation", "person", "membership", "donation", "activity")
"""Dependency order: each entity's references point at entities imported before it."""
_BATCH = 5000

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_DATE = re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")
_DATETIME = re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T\d{2}:\d{2}:\d{2}"
                       r"(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})")
_CONFORMS: dict[str, Callable[[str], bool]] = {
    "number": lambda v: _NUMBER.fullmatch(v) is not None,
    "boolean": lambda v: v in ("true", "false"),
    "date": lambda v: _DATE.fullmatch(v) is not None,
    "datetime": lambda v: _DATETIME.fullmatch(v) is not None,
}


class BuildObserver:
    """Progress of a build; the CLI draws bars from it. The default does nothing."""

    def stage(self, name: str, total: int | None) -> None:
        """A stage starts (``total`` records when known)."""

    def advance(self, records: int) -> None:
        """``records`` more records of the current stage are done."""


@dataclass
class Provenance:
    """Where the export came from, as the runbook and package.json tell it."""

    kind: str = "export"             # snapshot | fresh-export | export
    snapshot_id: str = ""
    location: str = ""
    drill: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """For package.json."""
        return {"kind": self.kind, "snapshot_id": self.snapshot_id, "location": self.location,
                "drill": self.drill, "warnings": self.warnings, "notes": self.notes}


@dataclass
class PackageResult:
    """What was built."""

    out: Path
    target: str
    counts: dict[str, int]
    relations: dict[str, int]
    entities: dict[str, dict[str, int]]
    sample: dict[str, int]
    duplicates: int
    valid: bool
    validation_errors: list[str]
    warnings: list[str]
    fingerprint: str
    files: int
    provenance: Provenance
    archive: Path | None = None

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"out": str(self.out), "target": self.target, "counts": self.counts,
                "relations": self.relations, "entities": self.entities, "sample": self.sample,
                "duplicate_candidates": self.duplicates, "valid": self.valid,
                "validation_errors": self.validation_errors, "warnings": self.warnings,
                "signing_key_fingerprint": self.fingerprint, "files": self.files,
                "source": self.provenance.as_json(),
                "archive": str(self.archive) if self.archive else None}


def prepare_out(out: Path) -> None:
    """A new or empty folder, created private (the package holds personal data)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} exists and is not an empty folder",
                         "choose a new --out folder (a package is never written over another)")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    out.chmod(0o700)


def _bucket(legacy_id: str, percent: int) -> bool:
    return zlib.crc32(legacy_id.encode()) % 100 < percent


def _batched(scratch_add: Callable[[list[Any]], None]) -> Callable[[Any], None]:
    batch: list[Any] = []

    def add(item: Any) -> None:
        if item is None:
            if batch:
                scratch_add(batch)
                batch.clear()
            return
        batch.append(item)
        if len(batch) >= _BATCH:
            scratch_add(batch)
            batch.clear()
    return add


class _Builder:
    """One build: holds the open export, the scratch store and the writers' bookkeeping."""

    def __init__(self, folder: ExportFolder, out: Path, work: Path, *, target: str,
                 policies: Policies, region: str | None, sample_percent: int,
                 observer: BuildObserver) -> None:
        self.folder = folder
        self.out = out
        self.target = target
        self.policies = policies
        self.region = region
        self.sample_percent = sample_percent
        self.observer = observer
        self.scratch = Scratch(work / "scratch.db")
        self.log = QualityLog(out)
        self.warnings: list[str] = []
        self.mapping = self._mapping(policies.canonical.get(folder.connector))
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
        self.generic_files: dict[str, str] = {}

    # -- set-up ------------------------------------------------------------------------
    def _mapping(self, mapping: CanonicalMapping | None) -> list[EntityMapping]:
        if mapping is None:
            self.warnings.append(f"no canonical mapping for connector {self.folder.connector!r}: "
                                 "write policies/mappings/<connector>.toml to get the canonical "
                                 "model and target import files")
            return []
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
            prof = ObjectProfile(obj.name)
            seen_cols: dict[str, Column] = dict(obj.columns)
            bad: set[str] = set()
            add_id = _batched(functools.partial(self.scratch.add_ids, obj.name))
            add_seed = _batched(functools.partial(self.scratch.add_ids, f"sample:{obj.name}"))
            seed_here = obj.name == self.person_object or obj.name not in connected
            n = 0
            for row, archived in obj.rows():
                prof.records += 1
                prof.archived += archived
                for key, value in row.items():
                    if not value:
                        continue
                    prof.filled[key] += 1
                    col = seen_cols.get(key)
                    if col is None:
                        col = seen_cols[key] = Column(key, key, "string",
                                                      "Found in the records, not in the schema")
                    check = _CONFORMS.get(col.candidate_type)
                    if check is not None and key not in bad and not check(value):
                        bad.add(key)
                legacy = row.get(obj.id_column, "")
                add_id(legacy)
                if seed_here and _bucket(legacy, self.sample_percent):
                    add_seed(legacy)
                n += 1
                if n % 2000 == 0:
                    self.observer.advance(2000)
            self.observer.advance(n % 2000)
            add_id(None)
            add_seed(None)
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
        idmap = CsvOut(self.out / "import" / "id-map" / f"{res}.csv",
                       ("object", "legacy_id", "archived", "new_id"))
        generic = self._generic_writers(obj) if self.target == "generic" else None
        entities = [_EntityWriter(self, em) for em in self.mapping if em.object == obj.name]
        self.observer.stage(f"write {obj.name}", obj.count)
        in_sample = f"sample:{obj.name}"
        n = 0
        for row, archived in obj.rows():
            legacy = row.get(obj.id_column, "")
            data.write(row)
            sampled = self.scratch.has(in_sample, legacy)
            if sampled:
                sample.write(row)
                self.sample_counts[obj.name] += 1
            idmap.write({"object": obj.name, "legacy_id": legacy,
                         "archived": "true" if archived else "false"})
            if generic is not None:
                generic.write(row, archived, sampled)
            for writer in entities:
                writer.write(row, legacy, archived, sampled)
            n += 1
            if n % 2000 == 0:
                self.observer.advance(2000)
        self.observer.advance(n % 2000)
        for out in (data, sample, idmap):
            out.close()
        if generic is not None:
            generic.close()
        for writer in entities:
            writer.close()

    def _generic_writers(self, obj: ExportObject) -> _GenericWriter:
        return _GenericWriter(self, obj, self.policies.mappings)

    # -- relations -----------------------------------------------------------------------
    def write_relations(self) -> None:
        """Relation CSVs keeping only resolvable keys; the rest listed as dangling."""
        for rel in self.folder.relations.values():
            self.observer.stage(f"relations {rel.stem}", rel.count)
            name = resource_name(rel.stem)
            header = ("from_id", "to_id", "type")
            out = CsvOut(self.out / "data" / "relations" / f"{name}.csv", header)
            sample = CsvOut(self.out / "sample" / "data" / "relations" / f"{name}.csv", header)
            have_from = rel.from_object in self.folder.objects
            have_to = rel.to_object in self.folder.objects
            rows = 0
            for a, b, kind in rel.pairs():
                missing = []
                if have_from and not self.scratch.has(rel.from_object, a):
                    missing.append(rel.from_object)
                if have_to and not self.scratch.has(rel.to_object, b):
                    missing.append(rel.to_object)
                row = {"from_id": a, "to_id": b, "type": kind}
                if missing:
                    self.log.dangling.write(row | {"relation": rel.stem,
                                                   "missing": ", ".join(missing)})
                    self.log.dangling_counts[rel.stem] += 1
                    continue
                out.write(row)
                rows += 1
                if (self.scratch.has(f"sample:{rel.from_object}", a)
                        and self.scratch.has(f"sample:{rel.to_object}", b)):
                    sample.write(row)
                    self.sample_counts[rel.stem] += 1
            out.close()
            sample.close()
            self.relation_rows[rel.stem] = rows
            self.observer.advance(rel.count)

    # -- duplicates ----------------------------------------------------------------------
    def write_duplicates(self) -> None:
        """Blocking + fuzzy scoring over persons; every candidate into quality/duplicates.csv."""
        self.observer.stage("duplicate candidates", None)
        stats = dedupe.find_candidates(self.scratch)
        stats.persons = self.entity_counts.get("person", Counter())["rows"]
        self.dup_stats = stats
        out = CsvOut(self.out / "quality" / "duplicates.csv", DUPLICATE_HEADER)
        for a, b, value, reason in self.scratch.pairs():
            people = self.scratch.features([a, b])
            pa, pb = dedupe.Person.unpack(people[a]), dedupe.Person.unpack(people[b])
            row = {"score": f"{value:.3f}", "reason": reason, "legacy_id_a": pa.legacy_id,
                   "legacy_id_b": pb.legacy_id, "name_a": pa.name, "name_b": pb.name,
                   "email_a": pa.email, "email_b": pb.email,
                   "phone_a": " ".join(pa.phones), "phone_b": " ".join(pb.phones),
                   "postcode_a": pa.postcode, "postcode_b": pb.postcode}
            out.write(row)
            if len(self.log.duplicate_examples) < EXAMPLES * 2:
                self.log.duplicate_examples.append(row)
        out.close()
        self.log.duplicates = {"persons": stats.persons, "blocks": stats.blocks,
                               "large_blocks": stats.large_blocks,
                               "comparisons": stats.comparisons, "candidates": stats.candidates,
                               "threshold": dedupe.THRESHOLD}


class _GenericWriter:
    """``import/generic/<Target>.csv``: the object's columns renamed by policies/mappings.toml."""

    def __init__(self, b: _Builder, obj: ExportObject, policy: MappingPolicy) -> None:
        spec = next((m for m in policy.objects if m.name == obj.name), None)
        renames = spec.fields if spec else {}
        name = (spec.target if spec else obj.name).replace("/", "-")
        cols = b.columns[obj.name]
        taken = set(renames.values())
        self.header = [renames.get(c, c if c not in taken else f"{obj.name}.{c}") for c in cols]
        self.pairs = list(zip(cols, self.header, strict=True))
        root = b.out / "import" / "generic"
        self.active = CsvOut(root / f"{name}.csv", self.header)
        self.archived = CsvOut(root / "archived" / f"{name}.csv", self.header, always=False)
        self.sample = CsvOut(b.out / "sample" / "import" / "generic" / f"{name}.csv", self.header,
                             always=False)
        self.b = b
        self.obj = obj

    def write(self, row: dict[str, str], archived: bool, sampled: bool) -> None:
        """One record, renamed; archived records to the archived/ file."""
        renamed = {new: row.get(old, "") for old, new in self.pairs}
        (self.archived if archived else self.active).write(renamed)
        if sampled and not archived:
            self.sample.write(renamed)

    def close(self) -> None:
        """Close the files and count them for the runbook."""
        for out in (self.active, self.archived, self.sample):
            out.close()
        counts = self.b.entity_counts.setdefault(f"generic:{self.obj.name}", Counter())
        counts["active"] = self.active.rows
        counts["inactive"] = self.archived.rows
        self.b.generic_files[self.obj.name] = self.active.path.name


class _EntityWriter:
    """Canonical rows of one entity from one object, with extras, quality and import files."""

    def __init__(self, b: _Builder, em: EntityMapping) -> None:
        self.b = b
        self.em = em
        self.fields = list(ENTITIES[em.entity])
        header = ["legacy_id", *self.fields, "archived", "inactive"]
        root = b.out / "canonical"
        self.main = CsvOut(root / f"{em.entity}.csv", header)
        obj_cols = b.columns[em.object]
        used = em.source_fields() | {b.folder.objects[em.object].id_column}
        self.extra_cols = [c for c in obj_cols if c not in used and b.log.profiles[
            em.object].filled[c]]
        self.extra = CsvOut(root / f"{em.entity}.extra.csv", ["legacy_id", *self.extra_cols])
        self.imports: list[tuple[ImportFile, CsvOut, CsvOut, CsvOut]] = []
        for spec in TARGETS.get(b.target, ()):
            if spec.entity != em.entity:
                continue
            header_ = [h for h, _ in spec.columns]
            base = b.out / "import" / b.target
            self.imports.append((spec, CsvOut(base / spec.name, header_),
                                 CsvOut(base / "inactive" / spec.name, header_, always=False),
                                 CsvOut(b.out / "sample" / "import" / b.target / spec.name,
                                        header_, always=False)))
        self.counts = b.entity_counts.setdefault(em.entity, Counter())
        self.types = {f: ENTITIES[em.entity][f][0] for f in self.fields}
        self.tracked = bool(em.when)
        self.add_tracked = _batched(lambda x: b.scratch.add_ids(f"entity:{em.entity}", x))
        self.person_idx = 0
        if em.entity == "person":
            self.add_feat = _batched(b.scratch.put_features)
            self.add_key = _batched(b.scratch.add_keys)
            self.add_email = _batched(lambda x: b.scratch.put_values("person_email", x))
        if em.entity == "organisation":
            self.add_domain = _batched(lambda x: b.scratch.put_values("org_domain", x))

    def _source(self, row: dict[str, str], legacy: str, fname: str) -> str:
        src = self.em.fields.get(fname)
        if src is None:
            return ""
        if src.kind == "field":
            return row.get(src.name, "")
        if src.kind == "id":
            return legacy
        rel = self.b.folder.relations.get(src.name)
        if rel is None:
            return ""
        reverse = rel.to_object == self.em.object and rel.from_object != self.em.object
        return self.b.scratch.first_link(src.name, legacy, reverse=reverse) or ""

    def write(self, row: dict[str, str], legacy: str, archived: bool, sampled: bool) -> None:
        """One source record → at most one canonical row."""
        if not self.em.accepts(row):
            return
        values = {"legacy_id": legacy}
        entity = self.em.entity
        country = self._source(row, legacy, "country").strip() if "country" in self.types \
            else ""
        for fname in self.fields:
            raw = self._source(row, legacy, fname)
            kind = self.types[fname]
            if kind != "email":   # blanks around an e-mail are a finding, elsewhere noise
                raw = raw.strip()
            values[fname] = self._clean(kind, fname, raw, legacy, country) if raw.strip() \
                else ""
        for name in self.em.text_dates:
            raw = row.get(name, "").strip()
            if raw:
                result = check_date(raw, self.b.region)
                self.b.log.finding("date", entity, legacy, name, raw, result.status,
                                   result.value, result.reason,
                                   problem=result.status in ("ambiguous", "unparseable"))
        inactive = self.em.is_inactive(row)
        values["archived"] = "true" if archived else "false"
        values["inactive"] = "true" if inactive else "false"
        self._check_refs(values)
        self.main.write(values)
        self.extra.write({"legacy_id": legacy} | {c: row.get(c, "") for c in self.extra_cols})
        self.counts["rows"] += 1
        self.counts["inactive" if archived or inactive else "active"] += 1
        if self.tracked:
            self.add_tracked(legacy)
        if entity == "person":
            self._person(values)
        elif entity == "organisation":
            self.add_domain((legacy, values.get("domain", "")))
        lookup = self._lookup(values)
        for spec, active, inactive_out, sample in self.imports:
            out_row = {h: resolve(values, src, lookup) for h, src in spec.columns}
            (inactive_out if archived or inactive else active).write(out_row)
            if sampled and not (archived or inactive):
                sample.write(out_row)

    def _clean(self, kind: str, fname: str, raw: str, legacy: str, country: str) -> str:
        entity = self.em.entity
        log = self.b.log
        if kind == "email":
            result = check_email(raw)
            log.finding("email", entity, legacy, fname, raw, result.status,
                        result.value if result.status != "invalid" else "", result.reason,
                        problem=result.status != "valid")
            return result.value
        if kind == "phone":
            region = region_of(country, self.b.region)
            p = check_phone(raw, region)
            log.finding("phone", entity, legacy, fname, raw, p.status,
                        p.value if p.status in ("e164", "normalised") else "", p.reason,
                        problem=p.status in ("invalid", "unparseable"))
            return p.value
        if kind in ("date", "datetime"):
            d = check_date(raw, self.b.region, keep_time=kind == "datetime")
            log.finding("date", entity, legacy, fname, raw, d.status, d.value, d.reason,
                        problem=d.status in ("ambiguous", "unparseable"))
            return d.value
        if kind == "boolean":
            low = raw.lower()
            return "true" if low in ("true", "1", "yes") else "false" if low in (
                "false", "0", "no") else raw
        return raw

    def _check_refs(self, values: dict[str, str]) -> None:
        for fname in self.fields:
            kind = self.types[fname]
            ref = values.get(fname, "")
            if not ref or not kind.startswith("ref:"):
                continue
            target = kind[4:]
            em = next((e for e in self.b.mapping if e.entity == target), None)
            if em is None:
                continue
            if em.when:
                known = self.b.scratch.has(f"entity:{target}", ref)
            else:
                known = self.b.scratch.has(em.object, ref)
            if not known:
                self.b.dangling_refs[f"{self.em.entity}.{fname}"] += 1

    def _person(self, v: dict[str, str]) -> None:
        email_ok = v["email"] and check_email(v["email"]).status != "invalid"
        self.b.current = {"legacy_id": v["legacy_id"], "email": v["email"] if email_ok else ""}
        self.add_email((v["legacy_id"], v["email"] if email_ok else ""))
        person = dedupe.make_person(v["legacy_id"], first=v["first_name"], last=v["last_name"],
                                    email=v["email"] if email_ok else "",
                                    phones=[v["phone"], v["mobile"]],
                                    street=v["street"], postcode=v["postcode"], city=v["city"],
                                    birth=v["birth_date"])
        idx = self.person_idx
        self.person_idx += 1
        self.add_feat((idx, person.pack()))
        for key in dedupe.blocking_keys(person):
            self.add_key((key, idx))

    def _lookup(self, v: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.em.entity == "person":
            out["@valid_email"] = self.b.current.get("email", "")
        org = v.get("organisation_id", "")
        if org:
            out["@org_domain"] = self.b.scratch.value("org_domain", org) or ""
        person = v.get("person_id", "")
        if person:
            if self.b.current.get("legacy_id") == person:
                out["@person_email"] = self.b.current.get("email", "")
            else:
                out["@person_email"] = self.b.scratch.value("person_email", person) or ""
        return out

    def close(self) -> None:
        """Flush the scratch batches and close every file."""
        self.add_tracked(None)
        if self.em.entity == "person":
            self.add_feat(None)
            self.add_key(None)
            self.add_email(None)
        if self.em.entity == "organisation":
            self.add_domain(None)
        self.main.close()
        self.extra.close()
        for spec, active, inactive, sample in self.imports:
            for out in (active, inactive, sample):
                out.close()
            self.b.entity_counts.setdefault(f"{self.b.target}:{spec.name}", Counter()).update(
                {"active": active.rows, "inactive": inactive.rows, "file": 1})


# --------------------------------------------------------------------- datapackage.json
def _field(col: Column, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": col.name, "type": kind}
    if col.label and col.label != col.name:
        out["title"] = col.label
    text = col.description
    if col.vendor_type and col.vendor_type != "string":
        declared = f"vendor type: {col.vendor_type}"
        if kind == "string" and col.candidate_type != "string":
            declared += " (kept as text: some values do not conform)"
        text = f"{text} ({declared})" if text else declared.capitalize()
    if text:
        out["description"] = text
    if kind == "boolean":
        out["trueValues"] = ["true"]
        out["falseValues"] = ["false"]
    return out


def descriptor(b: _Builder, *, sample: bool) -> dict[str, Any]:
    """The Frictionless Data Package descriptor of the package (or of its sample)."""
    resources: list[dict[str, Any]] = []
    for obj in b.folder.objects.values():
        types = b.types[obj.name]
        schema: dict[str, Any] = {"fields": [_field(obj.columns[c], types[c])
                                             for c in b.columns[obj.name]]}
        if b.unique_ids[obj.name]:
            schema["primaryKey"] = [obj.id_column]
        resources.append(_resource(obj.resource, f"data/objects/{obj.resource}.csv", schema,
                                   f"{obj.name}: every exported record (archived included), "
                                   f"values exactly as the vendor returned them; legacy id in "
                                   f"{obj.id_column}"))
    for rel in b.folder.relations.values():
        schema = {"fields": [
            {"name": "from_id", "type": "string",
             "description": f"Legacy id in {rel.from_object}"},
            {"name": "to_id", "type": "string", "description": f"Legacy id in {rel.to_object}"},
            {"name": "type", "type": "string", "description": "Association type"}],
            "foreignKeys": []}
        for col, obj_name in (("from_id", rel.from_object), ("to_id", rel.to_object)):
            ref = b.folder.objects.get(obj_name)
            if ref is not None and b.unique_ids[obj_name]:
                schema["foreignKeys"].append({"fields": [col], "reference": {
                    "resource": ref.resource, "fields": [ref.id_column]}})
        name = resource_name(rel.stem)
        resources.append(_resource(name, f"data/relations/{name}.csv", schema,
                                   f"Relation {rel.from_object} → {rel.to_object}"))
    if not sample:
        resources += _canonical_resources(b)
    return {"profile": "tabular-data-package",
            "name": "vaultkeeper-emergency-sample" if sample else "vaultkeeper-emergency",
            "title": "CRM emergency exit package" + (" (sample)" if sample else ""),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "description": "Every object of the CRM as UTF-8 CSV with its legacy id as primary key"
                           ", relations as foreign keys, and the canonical model. "
                           + ("A ~10 % sample with relations kept consistent." if sample else
                              "See RUNBOOK.md."),
            "resources": resources}


def _resource(name: str, path: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "path": path, "profile": "tabular-data-resource", "format": "csv",
            "mediatype": "text/csv", "encoding": "utf-8", "description": description,
            "schema": schema}


def _canonical_resources(b: _Builder) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for em in b.mapping:
        fields: list[dict[str, Any]] = [{"name": "legacy_id", "type": "string",
                                         "description": f"Legacy id of the {em.object} record"}]
        src_types = b.types[em.object]
        fks = []
        for fname, (kind, text) in ENTITIES[em.entity].items():
            src = em.fields.get(fname)
            source_note = f"from {em.object}.{src.describe()}" if src else "not mapped (empty)"
            ftype = "string"
            if kind in ("number", "boolean") and src is not None and src.kind == "field" and \
                    src_types.get(src.name) == kind:
                ftype = kind
            spec: dict[str, Any] = {"name": fname, "type": ftype,
                                    "description": f"{text}; {source_note}"}
            if ftype == "boolean":
                spec |= {"trueValues": ["true"], "falseValues": ["false"]}
            fields.append(spec)
            target = kind[4:] if kind.startswith("ref:") else ""
            if target and src is not None and not b.dangling_refs.get(f"{em.entity}.{fname}") \
                    and any(e.entity == target for e in b.mapping):
                fks.append({"fields": [fname], "reference": {"resource": f"canonical-{target}",
                                                             "fields": ["legacy_id"]}})
        fields += [{"name": "archived", "type": "boolean", "trueValues": ["true"],
                    "falseValues": ["false"], "description": "Archived/deleted in the old CRM"},
                   {"name": "inactive", "type": "boolean", "trueValues": ["true"],
                    "falseValues": ["false"], "description": "Inactive by the mapping's "
                                                            "`inactive` rule"}]
        schema: dict[str, Any] = {"fields": fields, "foreignKeys": fks}
        if b.unique_ids[em.object]:
            schema["primaryKey"] = ["legacy_id"]
        out.append(_resource(f"canonical-{em.entity}", f"canonical/{em.entity}.csv", schema,
                             f"Canonical {em.entity} rows from {em.object}"))
        extra_fields = [{"name": "legacy_id", "type": "string"}] + [
            {"name": c, "type": "string"} for c in _extra_cols(b, em)]
        extra_schema: dict[str, Any] = {"fields": extra_fields}
        if b.unique_ids[em.object]:
            extra_schema["foreignKeys"] = [{"fields": ["legacy_id"], "reference": {
                "resource": f"canonical-{em.entity}", "fields": ["legacy_id"]}}]
        out.append(_resource(f"canonical-{em.entity}-extra", f"canonical/{em.entity}.extra.csv",
                             extra_schema, f"Fields of {em.object} that the mapping does not "
                                           f"cover, for every {em.entity} row"))
    return out


def _extra_cols(b: _Builder, em: EntityMapping) -> list[str]:
    used = em.source_fields() | {b.folder.objects[em.object].id_column}
    return [c for c in b.columns[em.object] if c not in used and
            b.log.profiles[em.object].filled[c]]


def validate_descriptor(root: Path, name: str = "datapackage.json") -> list[str]:
    """Frictionless validation of a package folder: one line per error (first 50)."""
    from frictionless import Package, system

    with system.use_context(trusted=True):
        report = Package(str(root.resolve() / name)).validate()
    if report.valid:
        return []
    lines = []
    for task in report.tasks:
        for error in task.errors[:10]:
            where = task.name or task.place
            lines.append(f"{where}: {error.type}: {error.note or error.message}")
    for error in report.errors[:10]:
        lines.append(f"datapackage.json: {error.type}: {error.message}")
    return lines[:50]


# ------------------------------------------------------------------------------ entry point
def build_package(export_dir: Path, out_dir: Path, settings: Settings, *, target: str,
                  provenance: Provenance | None = None, observer: BuildObserver | None = None,
                  validate: bool = True, sample_percent: int = 10,
                  policies: Policies | None = None) -> PackageResult:
    """Build the emergency package for ``target`` from an export folder into ``out_dir``."""
    if target not in TARGET_NAMES:
        raise UsageError(f"unknown target {target!r}", f"use one of {', '.join(TARGET_NAMES)}")
    observer = observer or BuildObserver()
    provenance = provenance or Provenance()
    policies = policies or load_policies(settings.policies_dir)
    folder = open_export(export_dir)
    prepare_out(out_dir)
    key = crypto.load_or_create_signing_key(settings.state_dir / "keys")
    settings.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="emergency-work-", dir=settings.state_dir))
    try:
        b = _Builder(folder, out_dir, work, target=target, policies=policies,
                     region=settings.emergency.default_region, sample_percent=sample_percent,
                     observer=observer)
        try:
            b.profile()
            b.write_objects()
            b.write_relations()
            b.write_duplicates()
        finally:
            b.scratch.close()
            b.log.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _finish(b, key, provenance, validate=validate,
                   rehearsal=latest_rehearsal(open_state_db(settings.state_dir)))


def _finish(b: _Builder, key: Any, provenance: Provenance, *, validate: bool,
            rehearsal: dict[str, Any] | None = None) -> PackageResult:
    out = b.out
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
        rehearsal=rehearsal))
    write_text(out / "RUNBOOK.md", md)
    write_text(out / "runbook.html", runbook.to_html(md, "Emergency runbook"))
    errors: list[str] = []
    if validate:
        b.observer.stage("validate (frictionless)", None)
        errors = validate_descriptor(out) + [
            f"sample: {e}" for e in validate_descriptor(out / "sample")]
    public = crypto.public_key_pem(key)
    write_bytes(out / PUBLIC_KEY, public)
    files = all_files(out, skip=(CHECKSUMS, SIGNATURE, PACKAGE_JSON))
    b.observer.stage("checksums", len(files))
    hashes = {}
    for rel in files:
        hashes[rel] = {"sha256": sha256_file(out / rel), "bytes": (out / rel).stat().st_size}
        b.observer.advance(1)
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
                        "manifest_count": o.count, "sample": b.sample_counts.get(n, 0)}
                    for n, o in b.folder.objects.items()},
        "relations": {r.stem: {"file": f"data/relations/{resource_name(r.stem)}.csv",
                               "rows": b.relation_rows.get(r.stem, 0),
                               "dangling": b.log.dangling_counts.get(r.stem, 0),
                               "manifest_count": r.count,
                               "sample": b.sample_counts.get(r.stem, 0)}
                      for r in b.folder.relations.values()},
        "entities": b.log.entities,
        "validation": {"frictionless": "skipped" if not validate else
                       ("valid" if not errors else "invalid"), "errors": errors},
        "warnings": b.warnings,
        "signing": {"algorithm": "Ed25519", "public_key": PUBLIC_KEY,
                    "fingerprint": crypto.fingerprint(public), "signature": SIGNATURE},
        "files": hashes,
    }
    data = orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    write_bytes(out / PACKAGE_JSON, data)
    write_bytes(out / SIGNATURE, crypto.sign(key, data))
    write_checksums(out)
    return PackageResult(
        out=out, target=b.target, counts=counts, relations=dict(b.relation_rows),
        entities=b.log.entities, sample=dict(b.sample_counts),
        duplicates=b.dup_stats.candidates, valid=not errors, validation_errors=errors,
        warnings=b.warnings, fingerprint=crypto.fingerprint(public),
        files=len(files) + 3, provenance=provenance)


def write_checksums(out: Path) -> None:
    """``SHA256SUMS`` in ``sha256sum -c`` format over every other file of the package."""
    lines = [f"{sha256_file(out / rel)}  {rel}\n" for rel in all_files(out, skip=(CHECKSUMS,))]
    write_text(out / CHECKSUMS, "".join(lines))


def iter_package_files(out: Path) -> Iterator[Path]:
    """Every file of a package (for archiving)."""
    for rel in all_files(out):
        yield out / rel
