"""Infer the canonical mapping of a vendor's CSV dump from its column names and contents.

Used when no ``policies/mappings/<connector>.toml`` exists for the export's connector. Per
object (file): header synonyms in Dutch, English, French, German and Finnish
(``canonical_synonyms``), value sniffing on the first rows (e-mails, phones, postcodes, dates,
id-like codes — ``csv_detect.sniff_values``), the entity the file holds (its name and its
fields), the column holding the legacy id when the connector found none (``Lidnummer``), and
the relations between files: a column whose values are ids of another file. Every field
carries a confidence in [0, 1] and the evidence, written as comments by ``to_toml`` so a person
can correct the guess (``vaultkeeper emergency mapping suggest``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vaultkeeper import __version__
from vaultkeeper.canonical import ENTITIES, CanonicalMapping, EntityMapping, Source
from vaultkeeper.canonical_synonyms import (
    HOUSE_NUMBER,
    HOUSE_SUFFIX,
    ID_WORDS,
    OBJECT_WORDS,
    SURNAME_PREFIX,
    SYNONYMS,
    header_key,
)
from vaultkeeper.connectors.csv_values import ValueProfile, sniff_values
from vaultkeeper.services.emergency.source import ExportFolder, ExportObject

SAMPLE_ROWS = 2000
RELATION_SAMPLE = 500
MIN_CONFIDENCE = 0.5
RELATION_SHARE = 0.9
INFERRED = "inferred"
_KIND_OF: dict[str, tuple[str, ...]] = {
    "email": ("email",), "phone": ("phone",), "date": ("date",), "datetime": ("date",),
    "number": ("number",), "boolean": ("boolean",)}
_BY_VALUES: dict[tuple[str, str], str] = {
    ("person", "email"): "email", ("person", "phone"): "phone",
    ("person", "postcode"): "postcode", ("organisation", "website"): "url",
    ("organisation", "domain"): "domain", ("organisation", "postcode"): "postcode"}
_REQUIRED = {"person": ("first_name", "last_name", "email"), "organisation": ("name",),
             "membership": ("number", "level", "start_date"), "donation": ("amount",),
             "activity": ("body", "subject")}
_INACTIVE_WORDS = ("opgezegd", "beeindigd", "beëindigd", "overleden", "geroyeerd", "lapsed",
                   "cancelled", "canceled", "deceased", "expired", "ended", "resilie",
                   "résilié", "decede", "décédé", "gekundigt", "gekündigt", "verstorben",
                   "eronnut", "kuollut", "inactive", "inactief")


@dataclass(frozen=True)
class FieldGuess:
    """One canonical field's source, how sure the inference is, and why."""

    source: Source
    confidence: float
    evidence: str


@dataclass
class EntityGuess:
    """One entity fed from one object."""

    entity: str
    object: str
    fields: dict[str, FieldGuess] = field(default_factory=dict)
    when: dict[str, tuple[str, ...]] = field(default_factory=dict)
    inactive: dict[str, tuple[str, ...]] = field(default_factory=dict)
    id_field: str = ""
    confidence: float = 0.0
    evidence: str = ""


@dataclass(frozen=True)
class RelationGuess:
    """A column of one object whose values are ids of another object's records."""

    from_object: str
    column: str
    to_object: str
    share: float


@dataclass
class Inference:
    """The inferred mapping with per-field confidence, relations and what stayed unmapped."""

    connector: str
    entities: list[EntityGuess]
    relations: list[RelationGuess]
    ids: dict[str, tuple[str, str]]
    """object → (id column, evidence) for objects whose export had no id column."""
    unmapped: dict[str, list[str]]

    def mapping(self) -> CanonicalMapping:
        """As a canonical mapping the package can use."""
        return CanonicalMapping(self.connector, tuple(
            EntityMapping(entity=g.entity, object=g.object,
                          fields={f: fg.source for f, fg in g.fields.items()},
                          when=g.when, inactive=g.inactive, id_field=g.id_field)
            for g in self.entities), INFERRED)

    def as_json(self) -> dict[str, Any]:
        """For package.json, the runbook and ``--json``."""
        return {"source": INFERRED, "entities": {g.entity: {
            "object": g.object, "confidence": round(g.confidence, 2), "evidence": g.evidence,
            "id_field": g.id_field, "fields": {f: {
                "source": fg.source.describe(), "confidence": round(fg.confidence, 2),
                "evidence": fg.evidence} for f, fg in g.fields.items()}}
            for g in self.entities},
            "relations": [{"from": r.from_object, "column": r.column, "to": r.to_object,
                           "share": round(r.share, 3)} for r in self.relations],
            "unmapped": self.unmapped}

    def to_toml(self) -> str:
        """The mapping as a commented TOML file a person can correct."""
        return render_toml(self)


# ------------------------------------------------------------------------ per column
@dataclass
class _Column:
    name: str
    key: str
    profile: ValueProfile
    values: list[str]


def _sample(obj: ExportObject, limit: int = SAMPLE_ROWS) -> dict[str, _Column]:
    rows = [row for row, _archived in itertools.islice(obj.rows(), limit)]
    names = [c for c in obj.columns if c != "_row"]
    for row in rows:
        for key in row:
            if key not in names and key != "_row":
                names.append(key)
    out = {}
    for name in names:
        values = [row.get(name, "") for row in rows]
        out[name] = _Column(name, header_key(name), sniff_values(values), values)
    return out


def _header_score(key: str, entity: str, fname: str) -> tuple[float, str]:
    names = SYNONYMS.get(entity, {}).get(fname, ())
    if key in names:
        return 0.9, "header"
    for syn in names:
        if len(syn) >= 5 and syn in key:
            return 0.65, "header contains"
    return 0.0, ""


def _score(col: _Column, entity: str, fname: str) -> tuple[float, str]:
    kind = ENTITIES[entity][fname][0]
    base, how = _header_score(col.key, entity, fname)
    prof = col.profile
    wanted = _KIND_OF.get(kind, ())
    if fname in ("website",):
        wanted = ("url", "domain")
    if fname == "postcode":
        wanted = ("postcode",)
    share = max((prof.share(k) for k in wanted), default=0.0)
    if base:
        evidence = f"{how} {col.name!r}"
        if wanted and prof.filled:
            if share >= 0.8:
                base = min(0.99, base + 0.08)
                evidence += f", {share:.0%} of values look like {wanted[0]}s"
            elif share < 0.3:
                base *= 0.5
                evidence += f", but only {share:.0%} of values look like {wanted[0]}s"
        if fname == "birth_date" and prof.filled and prof.birth_years >= 0.8:
            base = min(0.99, base + 0.02)
        return base, evidence
    by = _BY_VALUES.get((entity, fname))
    if by and prof.filled and prof.share(by) >= 0.9:
        return 0.6 + min(0.2, (prof.share(by) - 0.9) * 2), \
            f"values only: {prof.share(by):.0%} of {col.name!r} look like {by}s"
    if (entity, fname) == ("person", "birth_date") and prof.filled and \
            prof.share("date") >= 0.9 and prof.birth_years >= 0.9:
        return 0.55, f"values only: dates in {col.name!r} lie 10 to 100 years back"
    return 0.0, ""


def _entity_of_name(name: str) -> dict[str, float]:
    words = set(name.lower().replace("-", "_").split("_"))
    return {e: 1.0 for e, ws in OBJECT_WORDS.items() if words & set(ws)}


def _assign(entity: str, cols: dict[str, _Column], skip: set[str]) -> dict[str, FieldGuess]:
    """Greedy: the best (column, field) pairs first, each column once per entity."""
    scored = []
    for fname in ENTITIES[entity]:
        if ENTITIES[entity][fname][0].startswith("ref:"):
            continue
        for col in cols.values():
            if col.name in skip:
                continue
            value, why = _score(col, entity, fname)
            if value >= MIN_CONFIDENCE:
                scored.append((value, fname, col.name, why))
    scored.sort(key=lambda t: -t[0])
    out: dict[str, FieldGuess] = {}
    used: set[str] = set()
    for value, fname, name, why in scored:
        if fname in out or name in used:
            continue
        out[fname] = FieldGuess(Source("field", name), round(value, 2), why)
        used.add(name)
    _joins(entity, cols, out)
    return out


def _joins(entity: str, cols: dict[str, _Column], out: dict[str, FieldGuess]) -> None:
    """Tussenvoegsel before the surname; house number and suffix after the street."""
    def find(keys: tuple[str, ...]) -> str:
        return next((c.name for c in cols.values() if c.key in keys), "")
    last = out.get("last_name")
    prefix = find(SURNAME_PREFIX)
    if entity == "person" and last is not None and prefix and last.source.kind == "field":
        out["last_name"] = FieldGuess(Source("fields", names=(prefix, last.source.name)),
                                      last.confidence, f"{last.evidence}, with {prefix!r} "
                                                       "(surname prefix) in front")
    street = out.get("street")
    number, suffix = find(HOUSE_NUMBER), find(HOUSE_SUFFIX)
    if street is not None and number and street.source.kind == "field":
        parts = tuple(p for p in (street.source.name, number, suffix) if p)
        out["street"] = FieldGuess(Source("fields", names=parts), street.confidence,
                                   f"{street.evidence}, joined with {', '.join(parts[1:])}")


def _id_column(obj: ExportObject, cols: dict[str, _Column]) -> tuple[str, str]:
    if obj.primary_key:
        return obj.primary_key, "the export's id column"
    for col in cols.values():
        prof = col.profile
        if prof.filled and prof.filled == prof.rows and prof.unique and (
                col.key in ID_WORDS or col.key in SYNONYMS["person"]["reference"]
                or col.key.endswith(("id", "nummer", "nr", "numero", "number"))) and \
                prof.share("code") >= 0.9:
            return col.name, f"{col.name!r}: id-like, every value filled and unique in the " \
                              f"first {prof.rows} rows"
    return "", ""


# ------------------------------------------------------------------------ the inference
def infer(folder: ExportFolder) -> Inference:
    """Infer entities, fields, ids and relations for every object of an export."""
    samples = {name: _sample(obj) for name, obj in folder.objects.items()}
    ids = {name: _id_column(obj, samples[name]) for name, obj in folder.objects.items()}
    guesses: list[EntityGuess] = []
    taken: set[str] = set()
    ranked: list[tuple[float, str, str, dict[str, FieldGuess]]] = []
    for name, cols in samples.items():
        hint = _entity_of_name(name)
        skip = {ids[name][0]} - {""}
        for entity in ENTITIES:
            fields = _assign(entity, cols, skip)
            if not any(f in fields for f in _REQUIRED[entity]):
                continue
            strength = sum(g.confidence for g in fields.values()) / 4 + hint.get(entity, 0)
            ranked.append((strength, name, entity, fields))
    ranked.sort(key=lambda t: -t[0])
    by_object: dict[str, str] = {}
    for strength, name, entity, fields in ranked:
        if entity in taken or name in by_object:
            continue
        taken.add(entity)
        by_object[name] = entity
        how = "file name and fields" if _entity_of_name(name).get(entity) else "fields"
        guesses.append(EntityGuess(entity, name, fields, id_field=ids[name][0] if not
                                   folder.objects[name].primary_key else "",
                                   confidence=min(0.99, strength / 2 + 0.3),
                                   evidence=f"{name}: {how}"))
    _membership_in_person_file(guesses, samples, taken)
    relations = _relations(folder, samples, ids, by_object)
    _link(guesses, relations, by_object)
    for g in guesses:
        g.inactive = _inactive(g, samples[g.object])
    used: dict[str, set[str]] = {}
    for g in guesses:
        used.setdefault(g.object, set()).update(
            {c for fg in g.fields.values() for c in fg.source.columns()} | set(g.when)
            | set(g.inactive) | ({g.id_field} - {""}))
    unmapped = {name: [c for c in cols if c not in used.get(name, set())
                       and cols[c].profile.filled]
                for name, cols in samples.items()}
    order = ("organisation", "person", "membership", "donation", "activity")
    guesses.sort(key=lambda g: order.index(g.entity))
    return Inference(folder.connector, guesses, relations,
                     {n: v for n, v in ids.items() if v[0] and not
                      folder.objects[n].primary_key}, unmapped)


def _membership_in_person_file(guesses: list[EntityGuess], samples: dict[str, dict[str, _Column]],
                               taken: set[str]) -> None:
    """A member register holds membership fields in the person file: a second entity."""
    person = next((g for g in guesses if g.entity == "person"), None)
    if person is None or "membership" in taken:
        return
    fields = _assign("membership", samples[person.object], set())
    fields = {f: g for f, g in fields.items() if g.confidence >= 0.6}
    if not any(f in fields for f in ("number", "level", "start_date")):
        return
    when_col = next(fg.source.name for f in ("number", "level", "start_date")
                    if (fg := fields.get(f)) is not None)
    fields["person_id"] = FieldGuess(Source("id"), 0.95, "the member is the row's own person")
    guesses.append(EntityGuess("membership", person.object, fields, when={when_col: ()},
                               confidence=0.8, evidence=f"{person.object}: membership columns "
                                                        "in the person file (a member register)"))
    taken.add("membership")


def _relations(folder: ExportFolder, samples: dict[str, dict[str, _Column]],
               ids: dict[str, tuple[str, str]], by_object: dict[str, str]) -> list[RelationGuess]:
    """Columns whose sampled values are (nearly all) ids of another object's records."""
    wanted: dict[str, list[tuple[str, str, set[str]]]] = {}
    for name, cols in samples.items():
        own = ids[name][0]
        for col in cols.values():
            if col.name == own or not col.profile.filled:
                continue
            if col.profile.share("code") < 0.9 and col.key not in ID_WORDS and \
                    not col.key.endswith("id"):
                continue
            values = set(itertools.islice((v.strip() for v in col.values if v.strip()),
                                          RELATION_SAMPLE))
            for target in folder.objects:
                if target != name and ids[target][0]:
                    wanted.setdefault(target, []).append((name, col.name, values))
    found: list[RelationGuess] = []
    for target, probes in wanted.items():
        obj = folder.objects[target]
        id_col = ids[target][0]
        hits = [0] * len(probes)
        remaining = [set(v) for _n, _c, v in probes]
        for row, _archived in obj.rows():
            value = row.get(id_col, "").strip()
            for i, rest in enumerate(remaining):
                if value in rest:
                    rest.discard(value)
                    hits[i] += 1
        for (name, column, values), n in zip(probes, hits, strict=True):
            share = n / len(values) if values else 0.0
            if share >= RELATION_SHARE and target in by_object:
                found.append(RelationGuess(name, column, target, share))
    for rel in folder.relations.values():   # references the connector found by name
        entry = next((r for r in found if r.from_object == rel.from_object
                      and r.to_object == rel.to_object), None)
        if entry is None and rel.to_object in by_object:
            column = _relation_column(folder, rel.stem)
            if column:
                found.append(RelationGuess(rel.from_object, column, rel.to_object, 1.0))
    return found


def _relation_column(folder: ExportFolder, stem: str) -> str:
    rel = folder.relations[stem]
    first = next(rel.pairs(), None)
    return first[2] if first else ""


def _link(guesses: list[EntityGuess], relations: list[RelationGuess],
          by_object: dict[str, str]) -> None:
    for g in guesses:
        for fname, (kind, _text) in ENTITIES[g.entity].items():
            if not kind.startswith("ref:") or fname in g.fields:
                continue
            target = kind[4:]
            best = max((r for r in relations if r.from_object == g.object
                        and by_object.get(r.to_object) == target), key=lambda r: r.share,
                       default=None)
            if best is not None:
                g.fields[fname] = FieldGuess(
                    Source("field", best.column), round(0.6 + 0.35 * best.share, 2),
                    f"{best.share:.0%} of sampled {best.column!r} values are ids of "
                    f"{best.to_object}")


def _inactive(g: EntityGuess, cols: dict[str, _Column]) -> dict[str, tuple[str, ...]]:
    status = g.fields.get("status")
    if g.entity not in ("membership", "person") or status is None or \
            status.source.kind != "field":
        return {}
    seen = {v.strip() for v in cols[status.source.name].values if v.strip()}
    dead = tuple(sorted(v for v in seen if any(w in header_key(v) for w in
                                               map(header_key, _INACTIVE_WORDS))))
    return {status.source.name: dead} if dead else {}


# ------------------------------------------------------------------------ TOML
def _toml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_source(src: Source) -> str:
    if src.kind == "fields":
        return "[" + ", ".join(_toml_str(n) for n in src.names) + "]"
    return _toml_str(src.describe())


def render_toml(inf: Inference) -> str:
    """A mapping file with the confidence and evidence of every line as comments."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# Canonical mapping for connector {inf.connector!r}, INFERRED by vaultkeeper "
             f"{__version__} on {now}",
             "# from the export's column names and values. Check every line, above all those "
             "with a low",
             "# confidence; correct or delete them, then save this file as "
             f"policies/mappings/{inf.connector or 'csv'}.toml:",
             "# the emergency package then uses it instead of guessing. Syntax: "
             "docs/emergency.md.", ""]
    for g in inf.entities:
        lines += [f"# {g.entity}: confidence {g.confidence:.2f} ({g.evidence})",
                  f"[{g.entity}]", f"object = {_toml_str(g.object)}"]
        if g.id_field:
            lines.append(f"id = {_toml_str(g.id_field)}   # legacy id: "
                         f"{inf.ids.get(g.object, ('', ''))[1]}")
        for key, value in (("when", g.when), ("inactive", g.inactive)):
            if value:
                body = ", ".join(f"{_toml_str(k)} = [{', '.join(map(_toml_str, v))}]"
                                 if v else _toml_str(k) for k, v in value.items())
                lines.append(f"{key} = {_toml_str(next(iter(value)))}" if key == "when" and
                             not next(iter(value.values())) else f"{key} = {{ {body} }}")
        lines += ["", f"[{g.entity}.fields]"]
        for fname in ENTITIES[g.entity]:
            fg = g.fields.get(fname)
            if fg is None:
                lines.append(f"# {fname} = ?   (no column found)")
                continue
            flag = "  CHECK" if fg.confidence < 0.7 else ""
            lines.append(f"{fname} = {_toml_source(fg.source)}   # {fg.confidence:.2f}{flag}: "
                         f"{fg.evidence}")
        lines.append("")
    for name, cols in inf.unmapped.items():
        if cols:
            lines.append(f"# not mapped in {name} (kept in canonical/<entity>.extra.csv and "
                         f"data/objects/): {', '.join(cols)}")
    if inf.relations:
        lines.append("# relations found by values: " + "; ".join(
            f"{r.from_object}.{r.column} → {r.to_object} ({r.share:.0%})"
            for r in inf.relations))
    return "\n".join(lines) + "\n"
