"""Deterministic dataset skeleton: per-object counts, archived flags, timestamps and relations.

Nothing here holds records. A record is a pure function of ``(seed, object, index)``; this
module keeps only what has to be shared between records: one byte per record for the archived
flag, one byte per record for each relation, and lazily built rank tables.
"""

from __future__ import annotations

import random
import threading
import time
from array import array
from math import gcd
from typing import Any

MASK64 = (1 << 64) - 1
START_MS = 1451606400000  # 2016-01-01T00:00:00Z: the organisation moved to its CRM
AS_OF_MS = 1748736000000  # 2025-06-01T00:00:00Z: the data is frozen "as of" this instant
RECYCLE_MS = 89 * 86400 * 1000  # archived records are younger than HubSpot's 90-day recycle bin
SF_RECYCLE_MS = 14 * 86400 * 1000  # Salesforce keeps deleted records 15 days
_BLOCK = 4096
FILE_ID_BASE = 80_000_000
"""A note's attachment has the HubSpot file id ``FILE_ID_BASE + note index`` (files.py)."""
FILE_PROPERTIES = {"contacts": ("signed_membership_form", 81_000_000, 6),
                   "companies": ("signed_agreement", 82_000_000, 15)}
"""HubSpot file properties (fieldType ``file``): object → (property, file id base, % of records
with a file there). Record ``i``'s file has the id ``base + i`` (files.py)."""

# One code per object/relation so their random streams never overlap.
OBJECT_CODES = {
    "contacts": 1, "companies": 2, "deals": 3, "notes": 4, "tickets": 5,
    "calls": 6, "emails": 7, "meetings": 8, "tasks": 9,
    # Standard objects the organisation does not use (answer 200 with no records).
    "products": 10, "line_items": 11, "quotes": 12, "communications": 13, "postal_mail": 14,
    "leads": 15,
}
HUBSPOT_OBJECTS = tuple(OBJECT_CODES)
# byte < 8 out of 256: 3.1 % of records are archived (HubSpot) / deleted (Salesforce).
_ARCHIVED_TABLE = bytes(1 if b < 8 else 0 for b in range(256))


def mix64(x: int) -> int:
    """SplitMix64 finaliser: a fast, well-spread 64-bit integer hash."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def stream_key(seed: int, code: int, salt: int = 0) -> int:
    """The base key of one random stream (object or relation) for a seed."""
    return mix64(mix64((seed & MASK64) ^ (code << 48)) ^ salt)


_DAYS: dict[int, str] = {}  # day number → "YYYY-MM-DD"; bounded by the calendar (~40k days)


def iso_date(ms: int) -> str:
    """``2024-01-02`` for date-only properties."""
    day = ms // 86_400_000
    text = _DAYS.get(day)
    if text is None:
        t = time.gmtime(day * 86_400)
        text = _DAYS[day] = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
    return text


def attachment_id(note: int) -> str:
    """The HubSpot file id attached to note ``note`` (when it has one)."""
    return str(FILE_ID_BASE + note)


def property_file_id(ds: Dataset, obj: str, i: int) -> str | None:
    """The file id record ``i`` of ``obj`` holds in its file property (None for most)."""
    spec = FILE_PROPERTIES.get(obj)
    if spec is None or mix64(ds.stores[obj].hash(i) ^ 0xF11E) % 100 >= spec[2]:
        return None
    return str(spec[1] + i)


def iso_ms(ms: int) -> str:
    """``2024-01-02T03:04:05.678Z`` as HubSpot writes datetimes."""
    day, rest = divmod(ms, 86_400_000)
    text = _DAYS.get(day)
    if text is None:
        text = iso_date(ms)
    sec, milli = divmod(rest, 1000)
    hour, sec = divmod(sec, 3600)
    minute, sec = divmod(sec, 60)
    return f"{text}T{hour:02d}:{minute:02d}:{sec:02d}.{milli:03d}Z"


class ObjectStore:
    """Counts, archived flags and fast per-record timestamps of one object type."""

    def __init__(self, name: str, count: int, seed: int) -> None:
        self.name = name
        self.code = OBJECT_CODES[name]
        self.count = count
        self.key = stream_key(seed, self.code)
        rng = random.Random(stream_key(seed, self.code, 1))
        flags = bytearray(rng.randbytes(count).translate(_ARCHIVED_TABLE))
        if count:
            flags[0] = 0  # record 0 is a relation hub (see Link); keep it live
        self.flags = flags  # mutable: writes archive, undelete and append records
        self.base = count
        """Records below ``base`` are generated; those at or above it were created by writes."""
        self.archived_count = self.flags.count(1)
        self.live_count = count - self.archived_count
        self._step = (AS_OF_MS - RECYCLE_MS - START_MS) // max(count, 1)
        self._ranks: tuple[array, array] | None = None
        self._lock = threading.Lock()
        # The write overlay (empty until something writes): HubSpot property values and
        # Salesforce field values set by writes, and timestamps that writes moved.
        self.edits: dict[int, dict[str, Any]] = {}
        self.sf_edits: dict[int, dict[str, Any]] = {}
        self._created_at: dict[int, int] = {}
        self._modified_at: dict[int, int] = {}
        self._archived_at: dict[int, int] = {}
        self.sf_stamps: dict[int, int] = {}
        """Salesforce ``SystemModstamp`` moved by the system: a lookup to a record that was
        deleted (or undeleted) was cleared (restored) on this record."""
        self.referrers: list[Link] = []
        """Links pointing at this store (set by Dataset)."""

    # -- writes (callers hold Dataset.write_lock) ------------------------------------------
    def append(self, now_ms: int) -> int:
        """A new live record; returns its index."""
        i = self.count
        self.flags.append(0)
        self.count += 1
        self.live_count += 1
        self._created_at[i] = self._modified_at[i] = now_ms
        self._ranks = None
        return i

    def set_archived(self, i: int, archived: bool, now_ms: int) -> bool:
        """Archive (delete) or bring back record ``i``; False when it already was."""
        if self.is_archived(i) == archived:
            return False
        if archived:
            self._stamp_referrers(i, now_ms)
        self.flags[i] = 1 if archived else 0
        delta = 1 if archived else -1
        self.archived_count += delta
        self.live_count -= delta
        if archived:
            self._archived_at[i] = now_ms
        else:
            self._archived_at.pop(i, None)
            self._modified_at[i] = now_ms
        self._ranks = None
        if not archived:
            self._stamp_referrers(i, now_ms)
        return True

    def _stamp_referrers(self, i: int, now_ms: int) -> None:
        """Salesforce clears (restores) lookups to a deleted (undeleted) record: the rows that
        point at ``i`` change, and their ``SystemModstamp`` moves (``LastModifiedDate`` not)."""
        for link in self.referrers:
            for src in link.sources(i):
                link.src.sf_stamps[src] = now_ms

    def sf_modstamp(self, i: int) -> int:
        """Salesforce ``SystemModstamp`` of record ``i``."""
        own = self.deleted_ms(i) if self.is_archived(i) else self.modified_ms(i)
        return max(own, self.sf_stamps.get(i, 0)) if self.sf_stamps else own

    def touch(self, i: int, now_ms: int) -> None:
        """Record ``i`` was modified at ``now_ms``."""
        self._modified_at[i] = now_ms

    # -- per-record facts computable without generating the record --------------------------
    def hash(self, i: int) -> int:
        """The 64-bit hash of record ``i``; seeds its random stream."""
        return mix64(self.key ^ i)

    def is_archived(self, i: int) -> bool:
        """True when record ``i`` is archived (HubSpot) / deleted (Salesforce)."""
        return self.flags[i] == 1

    def created_ms(self, i: int) -> int:
        """Creation time; ascending with the index, like real ids."""
        if self._created_at and i in self._created_at:
            return self._created_at[i]
        step = self._step
        return START_MS + i * step + (self.hash(i) % step if step > 1 else 0)

    def modified_ms(self, i: int) -> int:
        """Last modification time, between creation and the recycle-bin window."""
        if self._modified_at and i in self._modified_at:
            return self._modified_at[i]
        return self.generated_modified_ms(i)

    def generated_modified_ms(self, i: int) -> int:
        """The modification time the record was generated with: its other generated values
        derive from it, so a write that moves ``modified_ms`` never changes them."""
        if i >= self.base and i in self._modified_at:
            return self._modified_at[i]
        created = self.created_ms(i)
        room = AS_OF_MS - RECYCLE_MS - created
        return created + ((self.hash(i) >> 20) % room if room > 0 else 0)

    def archived_ms(self, i: int) -> int:
        """When record ``i`` was archived (only meaningful for archived records): spread over
        HubSpot's whole 90-day recycle bin (a 64-bit draw: 28 bits covered only 3.1 days)."""
        if self._archived_at and i in self._archived_at:
            return self._archived_at[i]
        low = max(self.modified_ms(i), AS_OF_MS - RECYCLE_MS)
        return low + (mix64(self.hash(i) ^ 0xA2C4) % max(1, AS_OF_MS - low))

    def deleted_ms(self, i: int) -> int:
        """When record ``i`` was deleted in Salesforce: the same order as ``archived_ms``,
        squeezed into the 15-day recycle bin (older deletions are purged there); a record
        deleted by a write keeps the time it was deleted (the change feeds read it)."""
        if self._archived_at and i in self._archived_at:
            return self._archived_at[i]
        return AS_OF_MS - (AS_OF_MS - self.archived_ms(i)) * SF_RECYCLE_MS // RECYCLE_MS

    # -- navigation -----------------------------------------------------------------------
    def next_index(self, start: int, archived: bool | None) -> int:
        """First index ``>= start`` in the set (live / archived / all); -1 when none."""
        if start >= self.count:
            return -1
        start = max(start, 0)
        if archived is None:
            return start
        return self.flags.find(b"\x01" if archived else b"\x00", start)

    def prev_index(self, end: int, archived: bool | None) -> int:
        """Last index ``< end`` in the set; -1 when none."""
        end = min(end, self.count)
        if end <= 0:
            return -1
        if archived is None:
            return end - 1
        return self.flags.rfind(b"\x01" if archived else b"\x00", 0, end)

    def size(self, archived: bool | None) -> int:
        """Number of records in the set (live / archived / all)."""
        if archived is None:
            return self.count
        return self.archived_count if archived else self.live_count

    def _rank_tables(self) -> tuple[array, array]:
        with self._lock:
            if self._ranks is None:
                live = array("q", [0])
                arch = array("q", [0])
                for b in range(0, self.count, _BLOCK):
                    a = self.flags.count(1, b, b + _BLOCK)
                    arch.append(arch[-1] + a)
                    live.append(live[-1] + min(_BLOCK, self.count - b) - a)
                self._ranks = (live, arch)
            return self._ranks

    def select(self, rank: int, archived: bool | None) -> int:
        """Index of the ``rank``-th (0-based) record of the set; -1 when out of range."""
        if rank < 0 or rank >= self.size(archived):
            return -1
        if archived is None:
            return rank
        live, arch = self._rank_tables()
        table = arch if archived else live
        lo, hi = 0, len(table) - 1  # find the last block whose prefix count is <= rank
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if table[mid] <= rank:
                lo = mid
            else:
                hi = mid - 1
        pos = lo * _BLOCK
        left = rank - table[lo]
        needle = b"\x01" if archived else b"\x00"
        pos = self.flags.find(needle, pos)
        while left:
            pos = self.flags.find(needle, pos + 1)
            left -= 1
        return pos

    def rank(self, i: int, archived: bool | None) -> int:
        """Number of records of the set with an index below ``i``."""
        i = max(0, min(i, self.count))
        if archived is None:
            return i
        live, arch = self._rank_tables()
        b = i // _BLOCK
        n = self.flags.count(1, b * _BLOCK, i)
        if archived:
            return arch[b] + n
        return live[b] + (i - b * _BLOCK) - n


class Link:
    """A many-to-one relation ``src → dst`` whose inverse is arithmetic (no index to build).

    ``target(i) = (a*i + b) mod span`` for a random share of sources, plus a "hub": every
    ``hub_mod``-th source points at record 0, so one record has many related records and
    association paging gets exercised. A pair exists only while both ends are live.
    """

    def __init__(self, name: str, src: ObjectStore, dst: ObjectStore, seed: int, code: int,
                 share: float, span: int, hub_mod: int = 0, hub_res: int = 0) -> None:
        self.name = name
        self.src = src
        self.dst = dst
        self.span = max(1, min(span, dst.count))
        rng = random.Random(stream_key(seed, code, 2))
        threshold = int(share * 256)
        table = bytes(1 if b < threshold else 0 for b in range(256))
        self.flags = rng.randbytes(src.count).translate(table)
        a = rng.randrange(1 << 20, 1 << 30) | 1
        while gcd(a, self.span) != 1:
            a += 2
        self.a = a
        self.b = rng.randrange(self.span)
        self.ainv = pow(a, -1, self.span)
        self.hub_mod = hub_mod if dst.count else 0
        self.hub_res = hub_res
        self._count: int | None = None
        # Relations set by writes: source → target (-1: removed), and the reverse index.
        self.override: dict[int, int] = {}
        self._reverse: dict[int, set[int]] = {}

    def set(self, i: int, j: int) -> None:
        """Source ``i`` now points at ``j`` (-1: at nothing); callers hold the write lock."""
        old = self.override.get(i)
        if old is not None and old >= 0:
            self._reverse.get(old, set()).discard(i)
        self.override[i] = j
        if j >= 0:
            self._reverse.setdefault(j, set()).add(i)
        self._count = None

    def raw_target(self, i: int) -> int:
        """The related record ignoring liveness; -1 when the source has none."""
        if self.override and i in self.override:
            return self.override[i]
        if i >= len(self.flags) or not self.dst.count:
            return -1
        if self.hub_mod and i % self.hub_mod == self.hub_res:
            return 0
        if self.flags[i]:
            return (self.a * i + self.b) % self.span
        return -1

    def target(self, i: int) -> int:
        """The related live record of live source ``i``; -1 when there is none."""
        if self.src.flags[i]:
            return -1
        j = self.raw_target(i)
        if j < 0 or self.dst.flags[j]:
            return -1
        return j

    def sources(self, j: int) -> list[int]:
        """Every live source related to live record ``j``, ascending."""
        if j < 0 or j >= self.dst.count or self.dst.flags[j]:
            return []
        sflags, lflags, n = self.src.flags, self.flags, len(self.flags)
        hm, hr = self.hub_mod, self.hub_res
        out: list[int] = []
        if j < self.span and j < len(self.dst.flags) and n:
            i = ((j - self.b) * self.ainv) % self.span
            while i < n:
                if lflags[i] and not sflags[i] and not (hm and i % hm == hr):
                    out.append(i)
                i += self.span
        if j == 0 and hm:
            out.extend(i for i in range(hr, n, hm) if not sflags[i])
            out.sort()
        if self.override:
            out = [i for i in out if i not in self.override]
            extra = [i for i in self._reverse.get(j, ()) if not sflags[i]]
            if extra:
                out = sorted(out + extra)
        return out

    def count(self) -> int:
        """Number of live pairs (computed once, on first use)."""
        if self._count is None:
            target = self.target
            self._count = sum(1 for i in range(self.src.count) if target(i) >= 0)
        return self._count

    def invalidate(self) -> None:
        """Forget the cached pair count (a record at either end changed)."""
        self._count = None


# name, source, target, stream code, share, span (as a function of the target count), hub
_LINKS = (
    ("contacts__companies", "contacts", "companies", 101, 0.70, 1.0, 15, 7),
    ("deals__contacts", "deals", "contacts", 102, 0.92, 1 / 3, 50, 3),
    ("deals__companies", "deals", "companies", 103, 0.35, 1.0, 0, 0),
    ("notes__contacts", "notes", "contacts", 104, 0.95, 1.0, 20, 11),
    # Salesforce only (Task.WhatId → Opportunity); HubSpot notes associate with contacts only.
    ("notes__deals", "notes", "deals", 105, 0.30, 1.0, 0, 0),
)
HUBSPOT_LINKS = ("contacts__companies", "deals__contacts", "deals__companies", "notes__contacts")
SALESFORCE_LINKS = {
    "Contact__Account": "contacts__companies",
    "Opportunity__Account": "deals__companies",
    "Opportunity__Contact": "deals__contacts",
    "Task__Contact": "notes__contacts",
    "Task__Opportunity": "notes__deals",
}
SALESFORCE_OBJECTS = {"Account": "companies", "Contact": "contacts", "Opportunity": "deals",
                      "Task": "notes"}


class Dataset:
    """Every object store and relation of one ``(records, seed)`` sandbox."""

    def __init__(self, records: int, seed: int) -> None:
        if records < 0:
            raise ValueError("records must be >= 0")
        self.records = records
        self.seed = seed
        counts = {
            "contacts": records, "companies": max(1, records // 5) if records else 0,
            "deals": records // 2, "notes": records // 2,
        }
        self.stores = {name: ObjectStore(name, counts.get(name, 0), seed)
                       for name in HUBSPOT_OBJECTS}
        self.links: dict[str, Link] = {}
        for name, src, dst, code, share, span, hub_mod, hub_res in _LINKS:
            d = self.stores[dst]
            self.links[name] = Link(name, self.stores[src], d, seed, code, share,
                                    max(1, int(d.count * span)), hub_mod, hub_res)
        for link in self.links.values():
            link.dst.referrers.append(link)
        self._expected: dict[str, dict[str, dict[str, int]]] | None = None
        self._lock = threading.Lock()
        self.write_lock = threading.RLock()
        """Held by every write (the sandbox serves requests from several threads)."""
        self.version = 0
        """Bumped by every write; caches of query results key on it."""
        self.custom_properties: dict[str, dict[str, dict[str, Any]]] = {}
        """HubSpot properties created through the API: object → name → property JSON."""

    def changed(self) -> None:
        """Note a write: invalidate counts and cached results (callers hold write_lock)."""
        self.version += 1
        with self._lock:
            self._expected = None
        for link in self.links.values():
            link.invalidate()

    def hubspot_link(self, from_type: str, to_type: str) -> tuple[Link, bool] | None:
        """The link between two HubSpot objects and whether ``from_type`` is its source."""
        for name in HUBSPOT_LINKS:
            link = self.links[name]
            if (link.src.name, link.dst.name) == (from_type, to_type):
                return link, True
            if (link.dst.name, link.src.name) == (from_type, to_type):
                return link, False
        return None

    def expected(self) -> dict[str, dict[str, dict[str, int]]]:
        """What a complete export must contain (see ``Sandbox.expected``)."""
        with self._lock:
            if self._expected is None:
                hs = {n: {"live": s.live_count, "archived": s.archived_count, "total": s.count}
                      for n, s in self.stores.items()}
                sf = {}
                for sf_name, hs_name in SALESFORCE_OBJECTS.items():
                    s = self.stores[hs_name]
                    sf[sf_name] = {"live": s.live_count, "deleted": s.archived_count,
                                   "total": s.count}
                self._expected = {
                    "hubspot": hs,
                    "salesforce": sf,
                    "relations": {
                        "hubspot": {n: self.links[n].count() for n in HUBSPOT_LINKS},
                        "salesforce": {k: self.links[v].count()
                                       for k, v in SALESFORCE_LINKS.items()},
                    },
                }
            return self._expected
