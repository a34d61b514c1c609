"""The two streaming passes' per-record loops, kept lean: pass 1 profiles one object; pass 2
reads records in chunks and fetches the chunk's scratch-store answers ahead (one query per
chunk and question instead of one per record)."""

from __future__ import annotations

import functools
import multiprocessing
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from itertools import chain, compress, islice
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypeVar

from vaultkeeper.services.emergency.clean import check_phones, phones_ahead, region_of
from vaultkeeper.services.emergency.quality import ObjectProfile
from vaultkeeper.services.emergency.source import Column, ExportObject
from vaultkeeper.services.emergency.writers import EntityWriter, batched

if TYPE_CHECKING:
    from vaultkeeper.services.emergency.package import PackageBuilder

T = TypeVar("T")
CHUNK = 2000
"""Records read, looked up and written together in pass 2 (and the progress step)."""

_SHAPES = {
    "number": r"-?\d+(?:\.\d+)?",
    "boolean": r"(?:true|false)",
    "date": r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])",
    "datetime": r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T\d{2}:\d{2}:\d{2}"
                r"(?:\.\d{1,6})?(?:Z|[+-]\d{2}:?\d{2})",
}
CONFORMS: dict[str, Callable[[str], bool]] = {
    kind: (lambda p: lambda v: p.fullmatch(v) is not None)(re.compile(shape))
    for kind, shape in _SHAPES.items()}
"""Whether a value conforms to the Frictionless type a column's vendor type suggests."""
_ALL_CONFORM = {kind: re.compile(f"{shape}(?:\n{shape})*") for kind, shape in _SHAPES.items()}
"""Several values of one type joined by newlines (no shape matches a newline): one C-speed
match tells that all conform (with the newline count proving no value held one)."""


def _typed_groups(columns: dict[str, Column]) -> list[tuple[list[str], re.Pattern[str]]]:
    """The typed columns of an object, grouped by type (the columns pass 1 checks)."""
    groups: dict[str, list[str]] = {}
    for c in columns.values():
        if c.candidate_type in _SHAPES:
            groups.setdefault(c.candidate_type, []).append(c.name)
    return [(names, _ALL_CONFORM[kind]) for kind, names in groups.items()]


def _filled(rows: list[dict[str, str]], names: list[str]) -> list[str]:
    """The non-empty values of columns ``names`` in ``rows``: by one ``itemgetter`` per row
    while every row has every column (an export's rows share their keys), else key by key."""
    if len(names) >= 2:   # (itemgetter of one key gives the value, not a tuple)
        try:
            return list(filter(None, chain.from_iterable(map(itemgetter(*names), rows))))
        except KeyError:
            pass
    return list(filter(None, chain.from_iterable(map(row.get, names) for row in rows)))


def _nonconforming(rows: list[dict[str, str]], names: list[str], many: re.Pattern[str]
                   ) -> list[str]:
    """The columns of ``names`` (one type) holding a nonconforming value in any of ``rows``:
    all their values joined and matched at once; only a batch that fails is looked into."""
    values = _filled(rows, names)
    if not values:
        return []
    joined = "\n".join(values)
    if many.fullmatch(joined) is not None and joined.count("\n") == len(values) - 1:
        return []
    check = CONFORMS[next(k for k, p in _ALL_CONFORM.items() if p is many)]
    return [key for key in names if any((v := row.get(key)) and not check(v) for row in rows)]


TYPED_BATCH = 256
"""Records whose typed values pass 1 checks together."""


def _check_typed(rows: list[dict[str, str]], pending: list[tuple[list[str], re.Pattern[str]]],
                 bad: set[str]) -> list[tuple[list[str], re.Pattern[str]]]:
    """Add to ``bad`` the typed columns with a nonconforming value in ``rows``; returns the
    groups still to check (a column leaves at its first bad value)."""
    failed = [k for names, many in pending for k in _nonconforming(rows, names, many)]
    if not failed:
        return pending
    bad.update(failed)
    return [(kept, p) for names, p in pending if (kept := [k for k in names if k not in bad])]


def bucket(legacy_id: str, percent: int) -> bool:
    """Whether a record seeds the sample (a stable ``percent`` share of ids)."""
    return zlib.crc32(legacy_id.encode()) % 100 < percent


def profile_object(b: PackageBuilder, obj: ExportObject, *, seed_here: bool, start: int = 0,
                   stop: int | None = None
                   ) -> tuple[ObjectProfile, dict[str, Column], set[str]]:
    """Pass 1 over one object (``start``/``stop``: a range of its lines): counts, filled
    columns, columns found only in the records, which typed columns hold a nonconforming
    value; ids (and sample seeds) into the scratch."""
    prof = ObjectProfile(obj.name)
    seen_cols: dict[str, Column] = dict(obj.columns)
    known = set(seen_cols)
    bad: set[str] = set()
    # Typed columns still conforming, by type; a column leaves at its first bad value.
    pending = _typed_groups(seen_cols)
    scratch = b.scratch
    add_id = batched(functools.partial(scratch.add_ids, obj.name))
    add_seed = batched(functools.partial(scratch.add_ids, f"sample:{obj.name}"))
    filled = prof.filled
    id_column, percent = obj.id_column, b.sample_percent
    n = archived_n = 0
    typed: list[dict[str, str]] = []   # rows whose typed values are checked together
    for row, archived in obj.rows(start, stop):
        archived_n += archived
        nonempty = list(compress(row, row.values()))   # the keys with a value, at C speed
        filled.update(nonempty)
        if not known.issuperset(nonempty):
            for key in nonempty:
                if key not in known:
                    known.add(key)
                    seen_cols[key] = Column(key, key, "string",
                                            "Found in the records, not in the schema")
        if pending:
            typed.append(row)
            if len(typed) >= TYPED_BATCH:
                pending = _check_typed(typed, pending, bad)
                typed = []
        legacy = row.get(id_column, "")
        add_id(legacy)
        if seed_here and bucket(legacy, percent):
            add_seed(legacy)
        n += 1
        if n % CHUNK == 0:
            b.observer.advance(CHUNK)
    if pending and typed:
        _check_typed(typed, pending, bad)
    b.observer.advance(n % CHUNK)
    add_id(None)
    add_seed(None)
    prof.records, prof.archived = n, archived_n
    return prof, seen_cols, bad


def chunks(rows: Iterable[T]) -> Iterator[list[T]]:
    """Records (or relation lines) in lists of CHUNK."""
    it = iter(rows)
    while chunk := list(islice(it, CHUNK)):
        yield chunk


def prefetch(b: PackageBuilder, obj: ExportObject, chunk: list[tuple[dict[str, str], bool]],
             entities: list[EntityWriter], done: set[str]) -> None:
    """Fetch ahead what pass 2 asks the scratch store about this chunk's records: sample
    membership, first links of every relation of the object, then the references' targets
    (ids, tracked entities, domains, e-mails) written by objects already done (``done``)."""
    scratch = b.scratch
    scratch.forget()
    idc = obj.id_column
    legacies = [row.get(idc, "") for row, _ in chunk]
    scratch.prefetch("ids", f"sample:{obj.name}", legacies)
    for rel in b.folder.relations.values():
        if rel.from_object == obj.name:
            scratch.prefetch("link", rel.stem, legacies)
        if rel.to_object == obj.name and rel.from_object != obj.name:
            scratch.prefetch("rev", rel.stem, legacies)
    wanted: dict[tuple[str, str], set[str]] = {}
    for w in entities:
        refs = [(f, kind[4:]) for f, kind in w.types.items()
                if kind.startswith("ref:") and f in w.em.fields]
        if not refs:
            continue
        for f, entity in refs:
            values = {v for (row, _), legacy in zip(chunk, legacies, strict=True)
                      if (v := w.source(row, legacy, f).strip())}
            target = next((e for e in b.mapping if e.entity == entity), None)
            if target is None or not values:
                continue
            wanted.setdefault(("ids", target.object), set()).update(values)
            if target.when and target.object in done:
                wanted.setdefault(("ids", f"entity:{entity}"), set()).update(values)
            if f == "organisation_id" and target.object in done:
                wanted.setdefault(("vals", "org_domain"), set()).update(values)
            if f == "person_id" and target.object in done:
                wanted.setdefault(("vals", "person_email"), set()).update(values)
    for (kind, name), values in wanted.items():
        scratch.prefetch(kind, name, values)


PARALLEL_MIN = 20_000
"""Objects at least this large have their phone numbers parsed on the second core (below,
starting a worker costs more than it saves)."""

Chunk = list[tuple[dict[str, str], bool]]


def phone_pool(obj: ExportObject, entities: list[EntityWriter]) -> Executor | None:
    """A one-process pool for the phone numbers of a large object on a machine with two
    cores or more; None when it would not pay (small object, no phone fields, one core)."""
    if obj.count < PARALLEL_MIN or (os.cpu_count() or 1) < 2 or not _phone_fields(entities):
        return None
    # fork: the worker starts in milliseconds and only ever runs check_phones
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))


def _phone_fields(entities: list[EntityWriter]) -> list[tuple[EntityWriter, list[str]]]:
    out = []
    for w in entities:
        names = [f for f, kind in w.types.items() if kind == "phone"
                 and (src := w.em.fields.get(f)) is not None and src.kind in ("field", "fields")]
        if names:
            out.append((w, names))
    return out


def _phones(b: PackageBuilder, obj: ExportObject, chunk: Chunk,
            fields: list[tuple[EntityWriter, list[str]]]) -> list[tuple[str, str | None]]:
    """The distinct (number, region) pairs the chunk's rows will ask ``check_phone``."""
    wanted: dict[tuple[str, str | None], None] = {}
    idc = obj.id_column
    for row, _ in chunk:
        legacy = row.get(idc, "")
        for w, names in fields:
            country = w.source(row, legacy, "country").strip() if "country" in w.types else ""
            region = region_of(country, b.region)
            for f in names:
                raw = w.source(row, legacy, f).strip()
                if raw:
                    wanted[(raw, region)] = None
    return list(wanted)


def prepared(b: PackageBuilder, obj: ExportObject, entities: list[EntityWriter],
             pool: Executor | None, rows: Iterable[tuple[dict[str, str], bool]]
             ) -> Iterator[Chunk]:
    """Pass 2's chunks of ``rows``, each with its scratch answers fetched ahead; with a pool,
    the next chunk's phone numbers are parsed on the other core while this chunk is written."""
    fields = _phone_fields(entities) if pool is not None else []
    it = chunks(rows)

    def submit(chunk: Chunk | None) -> tuple[list[tuple[str, str | None]], Future[Any]] | None:
        if chunk is None or pool is None:
            return None
        items = _phones(b, obj, chunk, fields)
        return items, pool.submit(check_phones, items)

    current = next(it, None)
    ahead = submit(current)
    try:
        while current is not None:
            following = next(it, None)
            after = submit(following)
            if ahead is not None:
                phones_ahead(ahead[0], ahead[1].result())
            prefetch(b, obj, current, entities, b.done)
            yield current
            current, ahead = following, after
    finally:
        phones_ahead([], [])
        b.scratch.forget()
