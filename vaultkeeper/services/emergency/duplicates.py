"""The package's duplicate candidates: the search (``dedupe_split``), then every candidate
into ``quality/duplicates.csv`` with the figures for the report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from vaultkeeper.services.emergency import dedupe, dedupe_split
from vaultkeeper.services.emergency.files import CsvOut
from vaultkeeper.services.emergency.quality import DUPLICATE_HEADER, EXAMPLES

if TYPE_CHECKING:
    from vaultkeeper.services.emergency.package import PackageBuilder


def write_duplicates(b: PackageBuilder, meanwhile: Callable[[], None] | None = None) -> None:
    """Blocking + fuzzy scoring over persons; every candidate into quality/duplicates.csv.
    ``meanwhile`` (the relation files) runs first, while the search's second process
    already works."""
    def first() -> None:
        if meanwhile is not None:
            meanwhile()
        b.observer.stage("duplicate candidates", None)

    stats = dedupe_split.find_candidates(b.scratch, workdir=b.workdir, meanwhile=first)
    stats.persons = b.entity_counts.get("person", Counter())["rows"]
    b.dup_stats = stats
    out = CsvOut(b.out / "quality" / "duplicates.csv", DUPLICATE_HEADER)
    for _a, _b, value, reason, data_a, data_b in b.scratch.pairs_with_features():
        pa, pb = dedupe.Person.unpack(data_a), dedupe.Person.unpack(data_b)
        row = {"score": f"{value:.3f}", "reason": reason, "legacy_id_a": pa.legacy_id,
               "legacy_id_b": pb.legacy_id, "name_a": pa.name, "name_b": pb.name,
               "email_a": pa.email, "email_b": pb.email,
               "phone_a": " ".join(pa.phones), "phone_b": " ".join(pb.phones),
               "postcode_a": pa.postcode, "postcode_b": pb.postcode}
        out.write(row)
        if len(b.log.duplicate_examples) < EXAMPLES * 2:
            b.log.duplicate_examples.append(row)
    out.close()
    b.log.duplicates = {"persons": stats.persons, "blocks": stats.blocks,
                        "large_blocks": stats.large_blocks, "comparisons": stats.comparisons,
                        "candidates": stats.candidates, "threshold": dedupe.THRESHOLD}
