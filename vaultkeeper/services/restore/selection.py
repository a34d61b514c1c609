"""Which snapshot records a restore puts back: objects, ids, ``--where`` SQL, everything, a
sample closed under relations, plus parents and children through the snapshot's relations.

Relations are stored ``<from>__<to>`` with the *from* side the dependent record (a contact's
company, a deal's contact, a note's contact; Salesforce: the record holding the lookup), so
parents are reached from ``from_id`` to ``to_id`` and children the other way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vaultkeeper.db.selection import MirrorReader
from vaultkeeper.errors import UsageError

Selection = dict[str, list[str]]


@dataclass(frozen=True)
class Choice:
    """What the user asked for (before hierarchy expansion)."""

    objects: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    where: str | None = None
    everything: bool = False
    sample: int | None = None
    with_parents: int = 0
    with_children: int = 0


def stems(reader: MirrorReader) -> list[tuple[str, str, str]]:
    """(stem, from object, to object) of every relation in the snapshot."""
    out = []
    for stem in reader.relation_stems:
        a, _, b = stem.partition("__")
        if a in reader.objects and b in reader.objects:
            out.append((stem, a, b))
    return out


def select(reader: MirrorReader, choice: Choice) -> Selection:
    """Ids per object, in snapshot order, hierarchy included."""
    for obj in choice.objects:
        reader.check_object(obj)
    if (choice.ids or choice.where) and len(choice.objects) != 1:
        raise UsageError("--ids and --where need exactly one --object",
                         "add --object contacts (or the object the ids belong to)")
    chosen: dict[str, set[str]] = {}
    if choice.everything:
        chosen = {obj: set(reader.live_ids(obj)) for obj in reader.objects}
    elif choice.sample is not None:
        chosen = sample(reader, choice.sample)
    elif choice.ids:
        obj = choice.objects[0]
        known = reader.existing(obj, list(choice.ids))
        missing = [i for i in choice.ids if i not in known]
        if missing:
            raise UsageError(f"{obj}: {len(missing)} id(s) are not in the snapshot "
                             f"(e.g. {', '.join(missing[:3])})", "check the ids against the "
                             "snapshot (`vaultkeeper mirror query`)")
        chosen = {obj: set(choice.ids)}
    elif choice.where:
        chosen = {choice.objects[0]: set(reader.where_ids(choice.objects[0], choice.where))}
    elif choice.objects:
        chosen = {obj: set(reader.live_ids(obj)) for obj in choice.objects}
    else:
        raise UsageError("nothing selected", "choose what to restore: --object, --ids, "
                         "--where, --deleted-since or --fields with --object")
    expand(reader, chosen, choice.with_parents, choice.with_children)
    return {obj: sorted(chosen[obj]) for obj in reader.objects if chosen.get(obj)}


def expand(reader: MirrorReader, chosen: dict[str, set[str]], parents: int,
           children: int) -> None:
    """Add ``parents`` levels of parents and ``children`` levels of children (live ones)."""
    links = stems(reader)
    for levels, side, other in ((parents, "from_id", "to"), (children, "to_id", "from")):
        frontier = {obj: set(ids) for obj, ids in chosen.items()}
        for _ in range(levels):
            found: dict[str, set[str]] = {}
            for stem, a, b in links:
                start, end = (a, b) if other == "to" else (b, a)
                if not frontier.get(start):
                    continue
                for from_id, to_id, _kind in reader.relations_of(stem, frontier[start], side):
                    rid = to_id if other == "to" else from_id
                    if rid not in chosen.get(end, set()):
                        found.setdefault(end, set()).add(rid)
            frontier = {}
            for obj, ids in found.items():
                live = [i for i, archived in reader.existing(obj, sorted(ids)).items()
                        if not archived]
                chosen.setdefault(obj, set()).update(live)
                frontier[obj] = set(live)
            if not frontier:
                break


def sample(reader: MirrorReader, n: int) -> dict[str, set[str]]:
    """The first ``n`` live records of each object, closed under relations: every parent a
    sampled record points at is sampled too (so each sampled relation can be re-created)."""
    chosen = {obj: set(reader.live_ids(obj)[:n]) for obj in reader.objects}
    expand(reader, chosen, parents=10, children=0)
    return chosen


def relations_within(reader: MirrorReader, selection: Selection,
                     ) -> list[tuple[str, str, str, str, str]]:
    """Snapshot relations whose both ends are selected: (from obj, from id, to obj, to id,
    kind)."""
    out = []
    for stem, a, b in stems(reader):
        left, right = set(selection.get(a, ())), set(selection.get(b, ()))
        if not left or not right:
            continue
        for from_id, to_id, kind in reader.relations_of(stem, sorted(left), "from_id"):
            if to_id in right:
                out.append((a, from_id, b, to_id, kind))
    return out


def touching(reader: MirrorReader, obj: str, ids: Sequence[str],
             ) -> list[tuple[str, str, str, str, str]]:
    """Snapshot relations with one end among ``obj``/``ids`` (either side)."""
    out = []
    for stem, a, b in stems(reader):
        if a == obj:
            out += [(a, f, b, t, k) for f, t, k in reader.relations_of(stem, ids, "from_id")]
        if b == obj:
            out += [(a, f, b, t, k) for f, t, k in reader.relations_of(stem, ids, "to_id")]
    return out


def dependency_order(reader: MirrorReader, objects: Sequence[str]) -> list[str]:
    """Parents before children (Salesforce lookups need the parent's new id at insert)."""
    parents: dict[str, set[str]] = {o: set() for o in objects}
    for _stem, a, b in stems(reader):
        if a in parents and b in parents and a != b:
            parents[a].add(b)
    order: list[str] = []
    pending = list(objects)
    while pending:
        ready = [o for o in pending if not (parents[o] - set(order))] or pending[:1]  # cycles
        order.append(ready[0])
        pending.remove(ready[0])
    return order
