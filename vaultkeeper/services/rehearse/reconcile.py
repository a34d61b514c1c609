"""Record-by-record and relation-by-relation comparison of a package with what came back."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from vaultkeeper.canonical import ENTITIES, ENTITY_ORDER
from vaultkeeper.services.rehearse.model import (
    LoadStats,
    PackageData,
    Returned,
    TargetMapping,
    entity_fields,
    ref_target,
)

EXAMPLES = 3
"""Examples kept per lost field: legacy ids and what came back (empty or different), never
the values: reports and the state database outlive the run, CRM data must not."""


def normalise(kind: str, value: str) -> str:
    """A value in the form two CRMs can agree on (phones by digits, numbers by value …)."""
    text = " ".join((value or "").split())
    if kind == "phone":
        return re.sub(r"[^\d+]", "", text)
    if kind == "number":
        try:
            return str(Decimal(text).normalize()) if text else ""
        except InvalidOperation:
            return text
    if kind in ("boolean", "email"):
        return text.lower()
    return text


@dataclass
class FieldResult:
    """One field (or relation) of one entity: values expected, carried, lost."""

    name: str
    relation: str | None
    expected: int = 0
    carried: int = 0
    examples: list[dict[str, str]] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Values that did not come back equal."""
        return self.expected - self.carried


@dataclass
class EntityResult:
    """One entity: records, fields and relations."""

    entity: str
    records: int
    sent: int
    refused: list[str]
    back: int
    missing: list[str]
    unexpected: list[str]
    fields: list[FieldResult]
    dropped: list[str]
    declared: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Fields the mapping says it does not import: why, and how many values that leaves."""

    @property
    def ok(self) -> bool:
        """Every record back and every value and link carried."""
        return not self.missing and not self.refused and all(f.lost == 0 for f in self.fields)

    def lost_fields(self) -> list[FieldResult]:
        """Fields and relations that lost values."""
        return [f for f in self.fields if f.lost]

    def as_json(self) -> dict[str, Any]:
        """The per-object report."""
        return {
            "records": self.records, "sent": self.sent, "imported": self.back,
            "refused": self.refused, "missing": self.missing[:20],
            "missing_count": len(self.missing), "unexpected": self.unexpected[:20],
            "fields_carried": sorted(f.name for f in self.fields
                                     if f.relation is None and f.expected and not f.lost),
            "relations_linked": {f.name: f.carried for f in self.fields if f.relation},
            "lost": [{"field": f.name, "relation": f.relation, "expected": f.expected,
                      "lost": f.lost, "examples": f.examples} for f in self.lost_fields()],
            "dropped_by_mapping": self.dropped,
            "not_imported": self.declared,
            "ok": self.ok,
        }


def reconcile(pkg: PackageData, back: Returned, stats: LoadStats,
              mapping: TargetMapping) -> list[EntityResult]:
    """Compare every non-empty canonical value with the value that came back."""
    results = []
    for entity in ENTITY_ORDER:
        rows = pkg.rows.get(entity, {})
        if not rows:
            continue
        got = back.rows.get(entity, {})
        kinds = {n: t for n, (t, _d) in ENTITIES[entity].items()}
        declared = mapping.declared(entity)
        per_field = {f: FieldResult(f, ref_target(entity, f)) for f in entity_fields(entity)
                     if f not in declared}
        missing = []
        for legacy, row in rows.items():
            came = got.get(legacy)
            if came is None:
                missing.append(legacy)
            for name, res in per_field.items():
                sent = row.get(name, "")
                if not sent:
                    continue
                res.expected += 1
                kind = "ref" if res.relation else kinds.get(name, "boolean")
                value = (came or {}).get(name, "")
                if normalise(kind, sent) == normalise(kind, value):
                    res.carried += 1
                elif len(res.examples) < EXAMPLES:
                    res.examples.append({"legacy_id": legacy, "back": "different" if value
                                         else "empty" if came is not None else "no record"})
        unexpected = sorted(set(got) - set(rows))
        dropped = [f for f in mapping.dropped(entity) if per_field[f].expected]
        values = {f: sum(1 for r in rows.values() if r.get(f)) for f in declared}
        results.append(EntityResult(
            entity, len(rows), stats.sent.get(entity, 0), stats.refused.get(entity, []),
            len(set(got) & set(rows)), missing, unexpected,
            [r for r in per_field.values() if r.expected], dropped,
            {f: {"why": why, "values": values[f]} for f, why in declared.items()
             if values[f]}))
    return results


def relation_coverage(pkg: PackageData, objects: dict[str, str]) -> dict[str, dict[str, int]]:
    """Per exported relation file: its pairs, and how many a canonical reference holds.

    A pair no canonical reference holds (a second company of a contact, a relation between
    objects outside the model) is not imported by any target: the report names it.
    """
    by_object: dict[str, list[str]] = {}
    for entity, obj in objects.items():
        by_object.setdefault(obj, []).append(entity)
    out: dict[str, dict[str, int]] = {}
    for stem, pairs in pkg.relations.items():
        src, _, dst = stem.partition("__")
        held: set[tuple[str, str]] = set()
        for entity in by_object.get(src, []):
            for name in ENTITIES[entity]:
                if ref_target(entity, name) in by_object.get(dst, []):
                    held |= {(legacy, row[name]) for legacy, row in
                             pkg.rows.get(entity, {}).items() if row.get(name)}
        carried = sum(1 for pair in pairs if pair in held)
        out[stem] = {"pairs": len(pairs), "in_canonical": carried,
                     "not_imported": len(pairs) - carried}
    return out
