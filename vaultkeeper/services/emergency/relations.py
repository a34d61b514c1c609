"""The relation files of the package, and the associations files for links no import column
holds (a contact's second company, a deal's further contacts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vaultkeeper.services.emergency.attachments import write_attachments
from vaultkeeper.services.emergency.files import CsvOut
from vaultkeeper.services.emergency.passes import chunks
from vaultkeeper.services.emergency.source import ExportRelation, resource_name
from vaultkeeper.services.emergency.targets import associations_how

if TYPE_CHECKING:
    from vaultkeeper.services.emergency.package import PackageBuilder


def write_relations(b: PackageBuilder) -> None:
    """Relation CSVs keeping only resolvable keys; the rest listed as dangling."""
    for rel in b.folder.relations.values():
        b.observer.stage(f"relations {rel.stem}", rel.count)
        name = resource_name(rel.stem)
        header = ("from_id", "to_id", "type")
        out = CsvOut(b.out / "data" / "relations" / f"{name}.csv", header)
        sample = CsvOut(b.out / "sample" / "data" / "relations" / f"{name}.csv", header)
        have_from = rel.from_object in b.folder.objects
        have_to = rel.to_object in b.folder.objects
        rows = 0
        columned = _columned(b, rel.stem)
        path = f"import/{b.target}/associations/{name}.csv"
        assoc = CsvOut(b.out / path, ("from_legacy_id", "to_legacy_id", "type",
                                         "from_object", "to_object"), always=False)
        has, first_link = b.scratch.has, b.scratch.first_link
        stem, from_object, to_object = rel.stem, rel.from_object, rel.to_object
        from_sample, to_sample = f"sample:{from_object}", f"sample:{to_object}"
        for chunk in chunks(rel.pairs()):
            _prefetch(b, rel, chunk, have_from, have_to)
            for line in chunk:   # (from id, to id, type): the CSV's columns
                a, to_id, kind = line
                missing = []
                if have_from and not has(from_object, a):
                    missing.append(from_object)
                if have_to and not has(to_object, to_id):
                    missing.append(to_object)
                if missing:
                    b.log.dangling.write_values([stem, a, to_id, kind, ", ".join(missing)])
                    b.log.dangling_counts[stem] += 1
                    continue
                out.write_values(line)
                rows += 1
                if not columned or first_link(stem, a) != to_id:
                    assoc.write_values([a, to_id, kind, from_object, to_object])
                if has(from_sample, a) and has(to_sample, to_id):
                    sample.write_values(line)
                    b.sample_counts[stem] += 1
        b.scratch.forget()
        out.close()
        sample.close()
        if assoc.close():
            b.placement.declare(path, object_=rel.from_object, entity="",
                                   role="associations", legacy_column="from_legacy_id",
                                   links={"from_legacy_id": rel.from_object,
                                          "to_legacy_id": rel.to_object},
                                   how=associations_how(b.target))
            b.placement.files[path]["relation"] = rel.stem
            b.placement.count_rows(path, assoc.rows)
        b.relation_rows[rel.stem] = rows
        b.observer.advance(rel.count)
    # Files hang on records as links do: files/ plus its link table (emergency/attachments.py).
    write_attachments(b)


def _prefetch(b: PackageBuilder, rel: ExportRelation, chunk: list[tuple[str, str, str]],
              have_from: bool, have_to: bool) -> None:
    """Fetch ahead what the chunk's lines ask the scratch store (one query per question)."""
    b.scratch.forget()
    froms, tos = [a for a, _, _ in chunk], [t for _, t, _ in chunk]
    if have_from:
        b.scratch.prefetch("ids", rel.from_object, froms)
    if have_to:
        b.scratch.prefetch("ids", rel.to_object, tos)
    b.scratch.prefetch("link", rel.stem, froms)
    b.scratch.prefetch("ids", f"sample:{rel.from_object}", froms)
    if rel.to_object != rel.from_object:
        b.scratch.prefetch("ids", f"sample:{rel.to_object}", tos)


def _columned(b: PackageBuilder, stem: str) -> bool:
    """Whether a primary import file holds the first link of relation ``stem`` in a
    column (the other links go to the associations file)."""
    return any(stem in spec.get("relation_columns", {}).values()
               for spec in b.placement.files.values() if spec["role"] == "primary")
