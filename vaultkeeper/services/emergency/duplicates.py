"""The package's duplicate candidates: the search (``dedupe_split``), then every candidate
into ``quality/duplicates.csv`` with the figures for the report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

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
    b.hash_final()   # the objects and relations are written: hashed while the rest is
    stats.persons = b.entity_counts.get("person", Counter())["rows"]
    b.dup_stats = stats
    out = CsvOut(b.out / "quality" / "duplicates.csv", DUPLICATE_HEADER)
    for value, reason, shown in b.scratch.pairs_shown():
        values = [f"{value:.3f}", reason, *orjson.loads(shown)]
        out.write_values(values)
        if len(b.log.duplicate_examples) < EXAMPLES * 2:
            b.log.duplicate_examples.append(dict(zip(DUPLICATE_HEADER, values, strict=True)))
    out.close()
    b.log.duplicates = {"persons": stats.persons, "blocks": stats.blocks,
                        "large_blocks": stats.large_blocks, "comparisons": stats.comparisons,
                        "candidates": stats.candidates, "threshold": dedupe.THRESHOLD}
