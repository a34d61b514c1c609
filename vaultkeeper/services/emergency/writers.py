"""The per-record writers of pass 2: the canonical entity rows (with extras, quality checks,
target import files and dedupe keys), and the batching of scratch writes. The generic import
files of an object are ``generic_writer.GenericWriter``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from itertools import repeat
from typing import TYPE_CHECKING, Any

from vaultkeeper.canonical import ENTITIES, EntityMapping, ImportFile
from vaultkeeper.services.emergency import dedupe
from vaultkeeper.services.emergency.clean import (
    check_date,
    check_email,
    check_number,
    check_phone,
    region_of,
)
from vaultkeeper.services.emergency.files import CsvOut, RowCells
from vaultkeeper.services.emergency.targets import (
    import_files,
    legacy_column,
    other_name,
    resolve,
    resolver,
)

if TYPE_CHECKING:
    from vaultkeeper.services.emergency.package import PackageBuilder


BATCH = 5000
_ABSENT = object()
"""A key no row has: ``row.get(_ABSENT, "")`` is the empty string."""
_NONE: frozenset[str] = frozenset()
_check_datetime = check_date.__wrapped__
"""``check_date`` without its cache: timestamps (created, modified) are nearly all distinct,
so caching them only churns the cache that dates of birth and the like do hit."""
_CHECKED = frozenset(("number", "email", "phone", "date", "datetime", "boolean"))
"""The kinds ``EntityWriter._clean`` checks or normalises; it returns any other as it is."""


class Batched:
    """Collect items and hand them to ``scratch_add`` in batches of BATCH; None flushes."""

    __slots__ = ("batch", "scratch_add")

    def __init__(self, scratch_add: Callable[[list[Any]], None]) -> None:
        self.scratch_add = scratch_add
        self.batch: list[Any] = []

    def __call__(self, item: Any) -> None:
        """Add one item (None: hand over what is collected)."""
        batch = self.batch
        if item is None:
            if batch:
                self.scratch_add(batch)
                self.batch = []
            return
        batch.append(item)
        if len(batch) >= BATCH:
            self.scratch_add(batch)
            self.batch = []

    def extend(self, items: Iterable[Any]) -> None:
        """Add several items."""
        self.batch.extend(items)
        if len(self.batch) >= BATCH:
            self.scratch_add(self.batch)
            self.batch = []


def batched(scratch_add: Callable[[list[Any]], None]) -> Batched:
    """Collect items and hand them to ``scratch_add`` in batches of BATCH; None flushes."""
    return Batched(scratch_add)


class EntityWriter:
    """Canonical rows of one entity from one object, with extras, quality and import files."""

    def __init__(self, b: PackageBuilder, em: EntityMapping, *, placing: bool = False) -> None:
        self.b = b
        self.em = em
        self.placing = placing
        """This entity's first import file places the object's records (see placement.py)."""
        self.fields = list(ENTITIES[em.entity])
        header = ["legacy_id", *self.fields, "archived", "inactive"]
        root = b.out / "canonical"
        self.main = CsvOut(root / f"{em.entity}.csv", header)
        obj_cols = b.columns[em.object]
        used = em.source_fields() | {b.folder.objects[em.object].id_column}
        self.extra_cols = [c for c in obj_cols if c not in used and b.log.profiles[
            em.object].filled[c]]
        self.extra = CsvOut(root / f"{em.entity}.extra.csv", ["legacy_id", *self.extra_cols])
        self.extra_cells = RowCells(self.extra_cols)
        self.imports: list[tuple[ImportFile, CsvOut, CsvOut, CsvOut]] = []
        self.others: list[tuple[ImportFile, CsvOut, CsvOut]] = []
        self.paths: dict[str, tuple[str, str]] = {}
        for spec in import_files(b.target):
            if spec.entity != em.entity:
                continue
            header_ = [h for h, _ in spec.columns]
            base = b.out / "import" / b.target
            self.imports.append((spec, CsvOut(base / spec.name, header_),
                                 CsvOut(base / "inactive" / spec.name, header_, always=False),
                                 CsvOut(b.out / "sample" / "import" / b.target / spec.name,
                                        header_, always=False)))
            primary = placing and len(self.imports) == 1
            self._declare(spec, spec.name, "primary" if primary else "derived")
            if primary and em.when:
                name = other_name(spec, em.object)
                self.others.append((spec, CsvOut(base / name, header_, always=False),
                                    CsvOut(base / "inactive" / name, header_, always=False)))
                self._declare(spec, name, "primary", other=True)
        self.resolvers = [[resolver(src) for _h, src in spec.columns]
                          if len({h for h, _ in spec.columns}) == len(spec.columns) else None
                          for spec, *_files in self.imports]
        # Import rows at C speed: each column is a key of one per-record dict holding the
        # canonical values, the lookups, the constants and the filtered values.
        self.cell_keys = [[src for _h, src in spec.columns] for spec, *_files in self.imports]
        self.constants = {src: src[1:] for spec, *_f in self.imports for _h, src in spec.columns
                          if src.startswith("=")}
        self.filtered = list(dict.fromkeys(
            (src, resolver(src)) for spec, *_f in self.imports for _h, src in spec.columns
            if "|" in src and not src.startswith(("=", "@"))))
        self.counts = b.entity_counts.setdefault(em.entity, Counter())
        self.types = {f: ENTITIES[em.entity][f][0] for f in self.fields}
        self.plan = [(f, kind, kind in _CHECKED) for f, kind in self.types.items()]
        """Per field: its kind and whether ``_clean`` checks it (else it is plain text)."""
        # Per field, the row key its raw value is read from at C speed (the id column for
        # ``@id``, a key no row has for unmapped ones); joins and relations are read after.
        obj = b.folder.objects[em.object]
        self.raw_keys: list[Any] = []
        self.computed: list[tuple[int, str]] = []
        for i, f in enumerate(self.fields):
            src = em.fields.get(f)
            if src is not None and src.kind == "field":
                self.raw_keys.append(src.name)
            elif src is not None and src.kind == "id":
                self.raw_keys.append(obj.id_column)
            else:
                self.raw_keys.append(_ABSENT)
                if src is not None:
                    self.computed.append((i, f))
        self.raw_cells = RowCells(self.raw_keys)
        self.finding_keys = {f: f"{em.entity}.{f}" for f in self.fields}
        self.plain_keys = {f: src.name for f, src in em.fields.items() if src.kind == "field"}
        self.checked = [(i, f, kind) for i, (f, kind, checked) in enumerate(self.plan)
                        if checked]
        self.country_at = self.fields.index("country") if "country" in self.types else -1
        self.inactive_sets = [(name, frozenset(v.lower() for v in allowed))
                              for name, allowed in em.inactive.items()]
        self.ref_checks = [(f, kind[4:], bool(target.when)) for f, kind in self.types.items()
                           if kind.startswith("ref:") and (target := next(
                               (e for e in b.mapping if e.entity == kind[4:]), None)) is not None]
        self.email_status = ""
        """The status of this record's ``email`` check (see ``_person``)."""
        self.refs = [(f, target.object) for f, kind in self.types.items()
                     if kind.startswith("ref:") and f in em.fields and (target := next(
                         (e for e in b.mapping if e.entity == kind[4:]), None)) is not None]
        self.tracked = bool(em.when)
        self.add_tracked = batched(lambda x: b.scratch.add_ids(f"entity:{em.entity}", x))
        self.person_idx = 0
        if em.entity == "person":
            # late-bound: a worker process replaces b.scratch (see split.py)
            self.add_feat = batched(lambda x: b.scratch.put_features(x))
            self.add_key = batched(lambda x: b.scratch.add_keys(x))
            self.add_email = batched(lambda x: b.scratch.put_values("person_email", x))
        if em.entity == "organisation":
            self.add_domain = batched(lambda x: b.scratch.put_values("org_domain", x))

    def _declare(self, spec: ImportFile, name: str, role: str, *, other: bool = False) -> None:
        """Announce an import file and its inactive copy to the placement log."""
        b, em = self.b, self.em
        legacy = legacy_column(spec)
        links: dict[str, str] = {}
        relation_columns: dict[str, str] = {}
        for header, src in spec.columns:
            kind = ENTITIES[em.entity].get(src, ("",))[0]
            if not kind.startswith("ref:") or src not in em.fields:
                continue
            target = next((e.object for e in b.mapping if e.entity == kind[4:]), "")
            if target:
                links[header] = target
            source = em.fields[src]
            rel = b.folder.relations.get(source.name) if source.kind == "rel" else None
            if rel is not None and rel.from_object == em.object:
                relation_columns[header] = rel.stem
        how = spec.how
        if other:
            rule = ", ".join(f"{k} {'in ' + '/'.join(v) if v else 'set'}"
                             for k, v in em.when.items())
            how = (f"Records of {em.object} outside the {em.entity} rule ({rule}), with the "
                   f"same columns; constant columns hold the record's own "
                   f"{'/'.join(em.when)} instead. {spec.how}")
        base = f"import/{b.target}"
        main = f"{base}/{name}"
        self.paths[name] = (main, f"{base}/inactive/{name}")
        for path, held in ((main, ""), (f"{base}/inactive/{name}", main)):
            b.placement.declare(path, object_=em.object, entity=em.entity, role=role,
                                legacy_column=legacy, links=links, how=how, held_back=held)
            b.placement.files[path]["relation_columns"] = relation_columns

    def source(self, row: dict[str, str], legacy: str, fname: str) -> str:
        """The raw value of canonical field ``fname`` for one record (before cleaning)."""
        key = self.plain_keys.get(fname)
        if key is not None:
            return row.get(key, "")
        src = self.em.fields.get(fname)
        if src is None:
            return ""
        if src.kind in ("field", "fields"):
            return src.value(row)
        if src.kind == "id":
            return legacy
        rel = self.b.folder.relations.get(src.name)
        if rel is None:
            return ""
        reverse = rel.to_object == self.em.object and rel.from_object != self.em.object
        return self.b.scratch.first_link(src.name, legacy, reverse=reverse) or ""

    def write(self, row: dict[str, str], legacy: str, archived: bool,
              sampled: bool) -> str | None:
        """One source record → at most one canonical row; returns the import file that places
        the record (when this writer places its object's records), else None."""
        if self.em.when and not self.em.accepts(row):
            if self.others:
                return self._other(row, legacy, archived)
            return None
        entity = self.em.entity
        raws = self.raw_cells(row)
        for i, fname in self.computed:
            raws[i] = self.source(row, legacy, fname)
        cleaned = list(map(str.strip, raws))   # plain text: only the blanks around go
        country = cleaned[self.country_at] if self.country_at >= 0 else ""
        self.email_status = ""
        for i, fname, kind in self.checked:
            if cleaned[i]:   # blanks around an e-mail are a finding, elsewhere noise
                cleaned[i] = self._clean(kind, fname, raws[i] if kind == "email" else
                                         cleaned[i], legacy, country)
        for name in self.em.text_dates:
            raw = row.get(name, "").strip()
            if raw:
                result = check_date(raw, self.b.region)
                self.b.log.finding("date", entity, legacy, name, raw, result.status,
                                   result.value, result.reason,
                                   problem=result.status in ("ambiguous", "unparseable"))
        inactive = any(row.get(name, "").strip().lower() in allowed
                       for name, allowed in self.inactive_sets) if self.inactive_sets else False
        held = archived or inactive
        values = dict(zip(self.fields, cleaned, strict=True))
        values["legacy_id"] = legacy
        values["archived"] = archived_s = "true" if archived else "false"
        values["inactive"] = inactive_s = "true" if inactive else "false"
        missing = self._missing(values) if self.refs else _NONE
        if self.ref_checks:
            self._check_refs(values, missing)
        self.main.write_values([legacy, *cleaned, archived_s, inactive_s])
        self.extra.write_values([legacy, *self.extra_cells(row)])
        counts = self.counts
        counts["rows"] += 1
        counts["inactive" if held else "active"] += 1
        if self.tracked:
            self.add_tracked(legacy)
        if entity == "person":
            self._person(values)
        elif entity == "organisation":
            self.add_domain((legacy, values.get("domain", "")))
        if not self.imports:
            return None
        lookup = self._lookup(values)
        # One dict answers every import column (canonical values with dangling references
        # blanked, lookups, constants, filtered values): as ``targets.resolve`` per column.
        linked = values | dict.fromkeys(missing, "") if missing else values
        linked.update(lookup)
        linked.update(self.constants)
        for src, fn in self.filtered:
            linked[src] = fn(linked, lookup)
        placed = None
        for (spec, active, inactive_out, sample), keys, fns in zip(
                self.imports, self.cell_keys, self.resolvers, strict=True):
            if fns is None:   # a header naming a column twice: by name, as CsvOut.write
                out_row = {h: linked.get(src, "") for h, src in spec.columns}
                (inactive_out if held else active).write(out_row)
                if sampled and not held:
                    sample.write(out_row)
            else:
                cells = list(map(linked.get, keys, repeat("")))
                (inactive_out if held else active).write_values(cells)
                if sampled and not held:
                    sample.write_values(cells)
            if placed is None and self.placing:
                placed = self.paths[spec.name][1 if held else 0]
        return placed

    def _missing(self, values: dict[str, str]) -> set[str]:
        """Reference fields whose value is no record of the referenced object's export."""
        missing = set()
        for fname, target in self.refs:
            ref = values.get(fname, "")
            if ref and not self.b.scratch.has(target, ref):
                missing.add(fname)
        return missing

    @staticmethod
    def _resolvable(values: dict[str, str], missing: set[str]) -> dict[str, str]:
        """The values with references to records missing from the export blanked (an import
        link must resolve; the canonical file keeps them, counted as dangling)."""
        return values if not missing else values | dict.fromkeys(missing, "")

    def _other(self, row: dict[str, str], legacy: str, archived: bool) -> str:
        """A record the entity's ``when`` rule leaves out, into the "other" import file."""
        values = {"legacy_id": legacy}
        for fname in self.fields:
            raw = self.source(row, legacy, fname).strip()
            kind = self.types[fname]
            values[fname] = self._clean(kind, fname, raw, legacy, "", quiet=True) if raw \
                else ""
        inactive = self.em.is_inactive(row)
        own = " ".join(row.get(k, "") for k in self.em.when)
        linked = self._resolvable(values, self._missing(values))
        lookup = self._lookup(values)
        spec, active, inactive_out = self.others[0]
        out_row = {h: own if src.startswith("=") else resolve(linked, src, lookup)
                   for h, src in spec.columns}
        (inactive_out if archived or inactive else active).write(out_row)
        return self.paths[other_name(spec, self.em.object)][1 if archived or inactive else 0]

    def _clean(self, kind: str, fname: str, raw: str, legacy: str, country: str, *,
               quiet: bool = False) -> str:
        entity = self.em.entity
        log = self.b.log
        if quiet:   # rows outside the entity: cleaned the same way, not reported
            return _quiet_clean(kind, raw, region_of(country, self.b.region), self.b.region)
        if kind == "number":
            return check_number(raw)
        key = self.finding_keys[fname]
        if kind == "email":
            result = check_email(raw)
            if fname == "email":
                self.email_status = result.status
            if result.status == "valid":
                log.tally("email", key, "valid")
            else:
                log.finding("email", entity, legacy, fname, raw, result.status,
                            result.value if result.status != "invalid" else "", result.reason,
                            problem=True)
            return result.value
        if kind == "phone":
            p = check_phone(raw, region_of(country, self.b.region))
            if p.status in ("invalid", "unparseable"):
                log.finding("phone", entity, legacy, fname, raw, p.status, "", p.reason,
                            problem=True)
            else:
                log.tally("phone", key, p.status)
            return p.value
        if kind in ("date", "datetime"):
            d = (_check_datetime(raw, self.b.region, keep_time=True) if kind == "datetime"
                 else check_date(raw, self.b.region))
            if d.status in ("ambiguous", "unparseable"):
                log.finding("date", entity, legacy, fname, raw, d.status, d.value, d.reason,
                            problem=True)
            else:
                log.tally("date", key, d.status)
            return d.value
        if kind == "boolean":
            low = raw.lower()
            return "true" if low in ("true", "1", "yes") else "false" if low in (
                "false", "0", "no") else raw
        return raw

    def _check_refs(self, values: dict[str, str], missing: AbstractSet[str]) -> None:
        for fname, target, when in self.ref_checks:
            ref = values.get(fname, "")
            if not ref:
                continue
            if when:
                known = fname not in missing and self.b.scratch.has(f"entity:{target}", ref)
            else:
                known = fname not in missing
            if not known:
                self.b.dangling_refs[f"{self.em.entity}.{fname}"] += 1

    def _person(self, v: dict[str, str]) -> None:
        # The cleaned e-mail of a "valid" check is the value as written (valid again), of an
        # "invalid" one the raw value (invalid again): only a fixed one is checked again.
        status = self.email_status
        email_ok = v["email"] and (status == "valid" or (
            status != "invalid" and check_email(v["email"]).status != "invalid"))
        self.b.current = {"legacy_id": v["legacy_id"], "email": v["email"] if email_ok else ""}
        self.add_email((v["legacy_id"], v["email"] if email_ok else ""))
        person = dedupe.make_person(v["legacy_id"], first=v["first_name"], last=v["last_name"],
                                    email=v["email"] if email_ok else "",
                                    phones=[v["phone"], v["mobile"]],
                                    street=v["street"], postcode=v["postcode"], city=v["city"],
                                    birth=v["birth_date"], refs=[v["reference"]])
        idx = self.person_idx
        self.person_idx += 1
        self.add_feat((idx, person.pack()))
        self.add_key.extend(zip(dedupe.blocking_keys(person), repeat(idx)))

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

    def flush(self) -> None:
        """Hand the batched scratch-store writes to the store."""
        self.add_tracked(None)
        if self.em.entity == "person":
            self.add_feat(None)
            self.add_key(None)
            self.add_email(None)
        if self.em.entity == "organisation":
            self.add_domain(None)

    def outputs(self) -> list[CsvOut]:
        """Every file this writer writes, in a fixed order."""
        files = [self.main, self.extra]
        for _spec, *outs in self.imports:
            files += outs
        for _spec, *outs2 in self.others:
            files += outs2
        return files

    def close(self) -> None:
        """Flush the scratch batches and close every file."""
        self.flush()
        self.main.close()
        self.extra.close()
        for spec, active, inactive, sample in self.imports:
            for out in (active, inactive, sample):
                out.close()
            self.b.entity_counts.setdefault(f"{self.b.target}:{spec.name}", Counter()).update(
                {"active": active.rows, "inactive": inactive.rows, "file": 1})
            self._settle(spec.name, active.rows, inactive.rows)
        for spec, active, inactive in self.others:
            active.close()
            inactive.close()
            self._settle(other_name(spec, self.em.object), active.rows, inactive.rows)

    def _settle(self, name: str, active: int, inactive: int) -> None:
        """Row counts of derived files; files never written leave the placement log."""
        for path, rows in zip(self.paths[name], (active, inactive), strict=True):
            spec = self.b.placement.files.get(path)
            if spec is None:
                continue
            if not (self.b.out / path).exists():
                self.b.placement.files.pop(path)
            elif spec["role"] != "primary":
                self.b.placement.count_rows(path, rows)


def _quiet_clean(kind: str, raw: str, region: str | None, default: str | None) -> str:
    """The cleaning of ``EntityWriter._clean`` without quality findings."""
    if kind == "number":
        return check_number(raw)
    if kind == "email":
        return check_email(raw).value
    if kind == "phone":
        return check_phone(raw, region or default).value
    if kind in ("date", "datetime"):
        return check_date(raw, default, keep_time=kind == "datetime").value
    if kind == "boolean":
        low = raw.lower()
        return "true" if low in ("true", "1", "yes") else "false" if low in (
            "false", "0", "no") else raw
    return raw
