"""Duplicate candidates among persons: blocking on shared keys, then fuzzy scoring per block.

Never all pairs: each person gets a handful of blocking keys (e-mail, e-mail local part, phone,
reference number, street + postcode, postcode + house number, name + postcode, name skeleton +
given-name group, last name + initial + city, name + birth date, birth date + either initial);
only persons sharing a key are compared, and a block larger than ``MAX_BLOCK`` is compared by
a sliding window over its name-sorted members (sorted neighbourhood), so the work grows with
the number of persons, not its square. Scoring weighs every field the data has — names (nicknames,
transposed and OCR-like typos, swapped first/last, particles), e-mail, phone, reference
numbers, date of birth (swapped digits, day and month swapped), street/postcode/city — with
``rapidfuzz``; every candidate carries its score and the reasons, for a person to review.
Nothing is ever merged.

Most pairs of a block have nothing but a name in common and can never reach the threshold:
a pair is only scored when an upper bound of its other evidence (``evidence.bound``) leaves
the names enough to reach it, and a name block of more than ``BUCKET_MIN`` members finds its
pairs through the evidence keys its members share (``evidence.bucket_pairs``), not all pairs.
Large builds share the slices of the blocks between two processes (``dedupe_split``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import Any, NamedTuple

import orjson
from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein

from vaultkeeper.db.blockkeys import SLICES
from vaultkeeper.db.scratch import Scratch
from vaultkeeper.services.emergency.clean import EXTENSION, fold
from vaultkeeper.services.emergency.evidence import (
    NAME_WEIGHT,
    Probe,
    bound,
    bucket_pairs,
    derived,
    evidence_keys,
    probe,
)
from vaultkeeper.services.emergency.names import (
    clean_name,
    core_surname,
    given_key,
    halved,
    name_similarity,
    sim,
    skeleton,
)

_ISO_BIRTH = re.compile(r"(18[89]\d|19\d\d|20[0-3]\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")
_DIGITS = re.compile(r"\D")
_HOUSE = re.compile(r"\b(\d+)")
_STREET_ABBR = tuple((re.compile(p), r) for p, r in (
    (r"\bstr\.?(?=\s|$)", "straat"), (r"str\.(?=\s|$)", "straat"),
    (r"\bst\.?(?=\s|$)", "street"), (r"\brd\.?(?=\s|$)", "road"),
    (r"\bave?\.?(?=\s|$)", "avenue"), (r"\bln\.?(?=\s|$)", "lane")))
MAX_BLOCK = 60
_NON_WORD = re.compile(r"\W")
WINDOW = 12
THRESHOLD = 0.6
_GENERIC_LOCAL = {"info", "admin", "contact", "office", "mail", "hello", "enquiries", "post",
                  "accounts", "noreply", "no-reply", "test", "none", "na", "n/a"}


class Person(NamedTuple):
    """The comparison features of one person (a named tuple: millions are unpacked)."""

    legacy_id: str
    first: str
    last: str
    email: str
    phones: tuple[str, ...]
    street: str
    postcode: str
    city: str
    birth: str
    refs: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """First and last name, folded."""
        return f"{self.first} {self.last}".strip()

    @property
    def core(self) -> str:
        """The surname without particles (``van der meer`` → ``meer``)."""
        return core_surname(self.last)

    def pack(self) -> bytes:
        """Serialised for the scratch store, with the parts of its probe the search would
        derive (worked out once here, not at every block the person is in)."""
        return orjson.dumps([self.legacy_id, self.first, self.last, self.email,
                             list(self.phones), self.street, self.postcode, self.city,
                             self.birth, list(self.refs), *derived(probe(self))])

    @classmethod
    def unpack(cls, data: bytes) -> Person:
        """The inverse of :meth:`pack`."""
        return cls._of(orjson.loads(data))

    @classmethod
    def _of(cls, v: list[Any]) -> Person:
        return cls(v[0], v[1], v[2], v[3], tuple(v[4]), v[5], v[6], v[7], v[8], tuple(v[9]))


def unpack_all(data: bytes) -> tuple[Person, Probe]:
    """A packed person with its probe (as ``probe`` gives it)."""
    v = orjson.loads(data)
    return Person._of(v), _stored_probe(v)


def _stored_probe(v: list[Any]) -> Probe:
    """The probe of a packed person from its stored list, without making the person: the
    person's fields and the ``derived`` parts (what ``probe`` gives)."""
    local, digits, swapped, house, seams = v[10:15]
    postcode = v[6]
    return (v[3], local, digits, frozenset(v[4]), frozenset(v[9]), v[8], swapped, postcode,
            postcode[:4], house, v[5], frozenset(seams))


class _People(dict[int, Person]):
    """A group's persons, each made from its stored list on first use: most members of a
    group are only checked against the bound (their probes), never scored."""

    def __init__(self, stored: dict[int, list[Any]]) -> None:
        super().__init__()
        self.stored = stored

    def __missing__(self, i: int) -> Person:
        person = self[i] = Person._of(self.stored[i])
        return person


@lru_cache(maxsize=1 << 14)
def _street(text: str) -> str:
    out = fold(text)
    for pattern, repl in _STREET_ABBR:
        out = pattern.sub(repl, out)
    return " ".join(out.replace(",", " ").split())


def make_person(legacy_id: str, *, first: str, last: str, email: str, phones: list[str],
                street: str, postcode: str, city: str, birth: str,
                refs: list[str] | tuple[str, ...] = ()) -> Person:
    """Features from cleaned canonical values (names folded, postcode without blanks)."""
    f, la = clean_name(fold(first)), clean_name(fold(last))
    if not la and " " in f:   # "Jane Smith" typed into the first-name field
        f, _, la = f.rpartition(" ")
    ref_keys = tuple(dict.fromkeys(r for r in (_NON_WORD.sub("", x).lower() for x in refs)
                                   if len(r) >= 4))
    return Person(legacy_id, f, la, email.strip().lower(),
                  tuple(dict.fromkeys(k for k in map(phone_key, phones) if k)), _street(street),
                  postcode.replace(" ", "").replace("-", "").upper(), fold(city).strip(" '"),
                  birth if _ISO_BIRTH.fullmatch(birth) else "", ref_keys)


def phone_key(value: str) -> str:
    """The last nine digits: the same for +44 20 7946 0018, 020 7946 0018 and 0044207946…"""
    head = value.split(";", 1)[0]
    body = head[1:] if head[:1] == "+" else head
    if body.isascii() and body.isdigit():   # E.164 (what cleaning gives): digits already
        digits = body
    else:
        digits = "".join(c for c in EXTENSION.sub("", head) if c.isdigit())
    return digits[-9:] if len(digits) >= 7 else ""


def _house(street: str) -> str:
    m = _HOUSE.search(street)
    return m.group(1) if m else ""


def blocking_keys(p: Person) -> Iterator[str]:
    """The blocks a person falls into."""
    if p.email and "@" in p.email:
        yield "e:" + p.email
        local = p.email.split("@", 1)[0]
        if len(local) >= 4 and local not in _GENERIC_LOCAL:
            yield "l:" + local
    for phone in p.phones:
        yield "p:" + phone
    for ref in p.refs:
        yield "r:" + ref
    core = p.core
    if p.street and p.postcode:
        yield f"a:{p.street}|{p.postcode}"
    house = _house(p.street)
    if house and p.postcode:
        yield f"h:{p.postcode[:4]}|{house}"
    if p.street and core:
        yield f"s:{p.street}|{core}"
    tokens = " ".join(sorted(f"{p.first} {core}".replace("-", " ").split()))
    if tokens and p.postcode:
        yield f"n:{tokens}|{p.postcode}"
    if core and p.first:
        yield f"k:{skeleton(core)}|{given_key(p.first)}"
        yield f"k:{skeleton(core_surname(p.first))}|{given_key(core)}"   # swapped
    if core and p.first and p.city:
        yield f"c:{core}|{p.first[0]}|{p.city}"
    if tokens and p.birth:
        yield f"b:{tokens}|{p.birth}"
    if p.birth:   # a date alone is a block of dozens at a million persons: with an initial
        for initial in dict.fromkeys((p.first[:1], core[:1])):   # either (swapped names)
            if initial:
                yield f"d:{p.birth}|{initial}"


def _near_digits(a: str, b: str) -> bool:
    """One keying error apart: a swap of adjacent characters or one wrong digit."""
    return len(a) == len(b) and DamerauLevenshtein.distance(a, b) <= 1


def _birth(a: str, b: str) -> tuple[float, str]:
    if a == b:
        return 0.25, "same birth date"
    ya, ma, da = a.split("-")
    yb, mb, db = b.split("-")
    if ya == yb and ma == db and da == mb:
        return 0.15, "birth date with day and month swapped"
    if _near_digits(a, b):
        return 0.15, "birth date one typo apart"
    if abs(int(ya) - int(yb)) >= 10:
        return -1.0, "born years apart"
    return -0.45, "different birth dates"


def _email(a: str, b: str) -> tuple[float, str]:
    if a == b:
        return 0.35, "same e-mail"
    la, _, da = a.partition("@")
    lb, _, db = b.partition("@")
    if la == lb and la not in _GENERIC_LOCAL:
        return 0.2, "same e-mail name, other domain"
    typo = -1 <= len(la) - len(lb) <= 1 and DamerauLevenshtein.distance(
        la, lb, score_cutoff=1) <= 1
    if len(la) >= 5 and typo and _DIGITS.sub("", la) == _DIGITS.sub("", lb):
        return (0.2, "e-mail one typo apart") if da == db else (
            0.1, "e-mail name one typo apart, other domain")
    return 0.0, ""


def _address(a: Person, b: Person) -> tuple[float, str]:
    pc_same = bool(a.postcode) and a.postcode == b.postcode
    pc_near = pc_same or (bool(a.postcode) and bool(b.postcode) and (
        _near_digits(a.postcode, b.postcode) or a.postcode[:4] == b.postcode[:4]))
    if a.street and b.street:
        same_house = _house(a.street) == _house(b.street)
        street_sim = fuzz.ratio(a.street, b.street) / 100
        city_ok = not a.city or not b.city or sim(a.city, b.city) >= 0.8
        near = pc_near or not a.postcode or not b.postcode
        if same_house and street_sim >= 0.8 and near and (city_ok or pc_near):
            return (0.2, "same address") if street_sim == 1 and (
                pc_same or not a.postcode or not b.postcode) else (0.15, "similar address")
        if not pc_near and a.city and b.city and a.city != b.city:
            return -0.1, "other address"
    if pc_same:   # a Dutch or British postcode is a few dozen addresses, others a town
        return (0.15 if len(a.postcode) >= 6 else 0.05), "same postcode"
    if a.city and a.city == b.city:
        return 0.03, ""
    return 0.0, ""


def score(a: Person, b: Person, *, floor: float | None = None) -> tuple[float, str]:
    """A score in [0, 1] and the reasons, for one pair.

    With ``floor``, a pair whose evidence other than names cannot reach it even with equal
    names is answered ``(0, "")`` without the (costly) name comparison; so is one whose
    total would be halved (first names that disagree) and cannot reach it even so.
    """
    reasons: list[str] = []
    total = 0.0
    if a.email and b.email:
        value, why = _email(a.email, b.email)
        total += value
        if why:
            reasons.append(why)
    if set(a.phones) & set(b.phones):
        total += 0.3
        reasons.append("same phone")
    elif any(_near_digits(x, y) for x in a.phones for y in b.phones):
        total += 0.15
        reasons.append("phone one typo apart")
    elif a.phones and b.phones:
        total -= 0.05
        reasons.append("other phones")
    same_ref = bool(set(a.refs) & set(b.refs))
    if same_ref:
        total += 0.35
        reasons.append("same reference number")
    value, why = _address(a, b)
    total += value
    if why:
        reasons.append(why)
    if a.birth and b.birth:
        value, why = _birth(a.birth, b.birth)
        total += value
        reasons.append(why)
    if floor is not None and total + 0.45 < floor:
        return 0.0, ""
    same_birth = bool(a.birth) and a.birth == b.birth
    halve: bool | None = None
    if floor is not None and not (same_ref or same_birth) and (total + 0.45) * 0.5 < floor:
        halve = halved(a, b)   # halved, even equal names cannot reach the floor
        if halve:
            return 0.0, ""
    name_sim = name_similarity(a, b)
    total += 0.45 * name_sim
    if name_sim:
        reasons.insert(0, f"names {name_sim:.0%} alike")
    if halve is None:
        halve = not (same_ref or same_birth) and halved(a, b)
    if halve:
        total *= 0.5
        reasons.append("different first names (household?)")
    return min(1.0, max(0.0, total)), ", ".join(reasons)


@dataclass
class DedupeStats:
    """How much work duplicate detection did."""

    persons: int = 0
    blocks: int = 0
    large_blocks: int = 0
    comparisons: int = 0
    candidates: int = 0
    scored: int = 0
    """Pairs that went through :func:`score` (the rest were answered by :func:`bound`)."""


AddPair = Callable[[int, int, float, str, str], None]
"""Where a candidate pair goes: record numbers (the smaller first), score, reasons, and what
the list of candidates shows of the two (``shown``)."""


def shown(a: Person, b: Person) -> str:
    """What the list of candidates shows of two persons, as the columns of
    ``quality/duplicates.csv`` from ``legacy_id_a`` on (a JSON array): worked out where the
    pair is found, so the list is written without reading the persons again."""
    return orjson.dumps([a.legacy_id, b.legacy_id, a.name, b.name, a.email, b.email,
                         " ".join(a.phones), " ".join(b.phones), a.postcode,
                         b.postcode]).decode()

BUCKET_MIN = 8
"""Name blocks with more members find their pairs through shared evidence keys, not all
pairs."""
NAME_BLOCKS = ("k:", "c:")
"""Blocks of names alone (skeleton + given name, surname + initial + city): most of their
pairs have nothing else in common. The other keys are evidence themselves (an e-mail, a
phone, an address, a birth date), so every pair of their blocks shares it."""


def _block_groups(blocks: Iterable[tuple[str, list[int]]], size: int = 4000
                  ) -> Iterator[list[tuple[str, list[int]]]]:
    """The blocks in groups of about ``size`` members: one features query per group."""
    group: list[tuple[str, list[int]]] = []
    members = 0
    for key, idxs in blocks:
        group.append((key, idxs))
        members += len(idxs)
        if members >= size:
            yield group
            group, members = [], 0
    if group:
        yield group


class _Group:
    """One group's persons and their probes (unpacked from the store), and the evidence keys
    of those in large name blocks (derived on first use: only they need them)."""

    def __init__(self, packed: dict[int, bytes]) -> None:
        stored = {i: orjson.loads(data) for i, data in packed.items()}
        self.people = _People(stored)
        self.probes: dict[int, Probe] = {i: _stored_probe(v) for i, v in stored.items()}
        self.keys: dict[int, list[str]] = {}

    def derive_keys(self, members: list[int]) -> None:
        """Derive the evidence keys of these members."""
        keys, probes = self.keys, self.probes
        for i in members:
            if i not in keys:
                keys[i] = evidence_keys(probes[i])


def _compare_block(add: AddPair, key: str, members: list[int], g: _Group, need: float | None,
                   seen: set[tuple[int, int]], stats: DedupeStats, threshold: float) -> None:
    """Score the pairs of one block (a sliding window over a large one) not seen yet.

    With ``need``, only pairs whose evidence besides names can reach it (:func:`bound`) are
    scored; in a name block of more than ``BUCKET_MIN`` members the pairs are found through
    shared evidence keys, not by going through all pairs."""
    stats.blocks += 1
    people = g.people
    window = len(members)
    ordered = members
    if len(members) > MAX_BLOCK:
        stats.large_blocks += 1
        ordered = sorted(members, key=lambda i: (people[i].last, people[i].first, i))
        window = WINDOW
    if need is not None and len(members) > BUCKET_MIN and key.startswith(NAME_BLOCKS):
        g.derive_keys(ordered)
        pairs: Iterable[tuple[int, int]] = (
            (ordered[x], ordered[y]) for x, y in bucket_pairs(ordered, g.probes, g.keys, window))
    else:
        pairs = ((ordered[x], ordered[y]) for x in range(len(ordered))
                 for y in range(x + 1, min(len(ordered), x + 1 + window)))
    probes = g.probes
    compared = scored = 0
    for i, j in pairs:
        pair = (i, j) if i < j else (j, i)
        if pair in seen:
            continue
        seen.add(pair)
        compared += 1
        if need is not None and bound(probes[i], probes[j]) < need:
            continue
        scored += 1
        value, reason = score(people[i], people[j], floor=threshold)
        if value >= threshold:
            a, b = pair
            add(a, b, round(value, 3), reason, shown(people[a], people[b]))
    stats.comparisons += compared
    stats.scored += scored


def search(scratch: Scratch, threshold: float, add: AddPair | None = None,
           slices: Iterable[int] = range(SLICES)) -> DedupeStats:
    """Compare the persons sharing a block of these slices of the blocks (``slices`` may
    hand them out as the search goes, see ``dedupe_split``); hand every pair scoring at
    least ``threshold`` to ``add`` (default: the store's ``add_pair``).

    Each slice has its own set of pairs already compared, so that the work (``comparisons``)
    is the same whichever process searches which slice.
    """
    stats = DedupeStats()
    add = add or scratch.add_pair
    # Without strong evidence (an evidence key in common) a pair adds up to 0.05 before the
    # names; the filters hold for any threshold above that plus the names' weight.
    need = threshold - NAME_WEIGHT - 1e-9 if threshold > NAME_WEIGHT + 0.06 else None
    for n in slices:
        seen: set[tuple[int, int]] = set()
        for group in _block_groups(scratch.blocks(slices=(n,))):
            g = _Group(scratch.features(set(chain.from_iterable(m for _k, m in group))))
            for key, members in group:
                _compare_block(add, key, members, g, need, seen, stats, threshold)
                if len(seen) > 250_000:   # bounded memory: forget; re-scoring is harmless
                    seen.clear()
    return stats


def find_candidates(scratch: Scratch, *, threshold: float = THRESHOLD) -> DedupeStats:
    """Compare persons sharing a block; keep pairs scoring at least ``threshold``.

    One process; ``dedupe_split.find_candidates`` searches big stores with two.
    """
    stats = search(scratch, threshold)
    stats.candidates = scratch.count_pairs()
    return stats
