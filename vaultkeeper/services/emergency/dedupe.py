"""Duplicate candidates among persons: blocking on shared keys, then fuzzy scoring per block.

Never all pairs: each person gets a handful of blocking keys (e-mail, e-mail local part, phone,
street + postcode, sorted name tokens + postcode, last name + initial + city, name + birth date);
only persons sharing a key are compared, and a block larger than ``MAX_BLOCK`` is compared by a
sliding window over its name-sorted members (sorted neighbourhood), so the work grows with the
number of persons, not its square. Scoring uses ``rapidfuzz``; every candidate carries its score
and the reasons, for a person to review. Nothing is ever merged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
from rapidfuzz import fuzz

from vaultkeeper.db.scratch import Scratch
from vaultkeeper.services.emergency.clean import fold

_EXT = re.compile(r"\s*(?:ext\.?|x|extension)\s*\d+\s*$", re.IGNORECASE)
MAX_BLOCK = 60
WINDOW = 12
THRESHOLD = 0.6
_GENERIC_LOCAL = {"info", "admin", "contact", "office", "mail", "hello", "enquiries", "post",
                  "accounts", "noreply", "no-reply", "test", "none", "na", "n/a"}


@dataclass(frozen=True)
class Person:
    """The comparison features of one person."""

    legacy_id: str
    first: str
    last: str
    email: str
    phones: tuple[str, ...]
    street: str
    postcode: str
    city: str
    birth: str

    @property
    def name(self) -> str:
        """First and last name, folded."""
        return f"{self.first} {self.last}".strip()

    def pack(self) -> bytes:
        """Serialised for the scratch store."""
        return orjson.dumps([self.legacy_id, self.first, self.last, self.email,
                             list(self.phones), self.street, self.postcode, self.city,
                             self.birth])

    @classmethod
    def unpack(cls, data: bytes) -> Person:
        """The inverse of :meth:`pack`."""
        v = orjson.loads(data)
        return cls(v[0], v[1], v[2], v[3], tuple(v[4]), v[5], v[6], v[7], v[8])


def make_person(legacy_id: str, *, first: str, last: str, email: str, phones: list[str],
                street: str, postcode: str, city: str, birth: str) -> Person:
    """Features from cleaned canonical values (names folded, postcode without blanks)."""
    f, la = fold(first).strip(" ."), fold(last).strip(" .")
    if not la and " " in f:   # "Jane Smith" typed into the first-name field
        f, _, la = f.rpartition(" ")
    return Person(legacy_id, f, la, email.strip().lower(),
                  tuple(dict.fromkeys(k for k in map(phone_key, phones) if k)), fold(street),
                  postcode.replace(" ", "").upper(), fold(city), birth if len(birth) == 10
                  else "")


def phone_key(value: str) -> str:
    """The last nine digits: the same for +44 20 7946 0018, 020 7946 0018 and 0044207946…"""
    digits = "".join(c for c in _EXT.sub("", value.split(";")[0]) if c.isdigit())
    return digits[-9:] if len(digits) >= 7 else ""


def blocking_keys(p: Person) -> Iterator[str]:
    """The blocks a person falls into."""
    if p.email and "@" in p.email:
        yield "e:" + p.email
        local = p.email.split("@", 1)[0]
        if len(local) >= 4 and local not in _GENERIC_LOCAL:
            yield "l:" + local
    for phone in p.phones:
        yield "p:" + phone
    if p.street and p.postcode:
        yield f"a:{p.street}|{p.postcode}"
    if p.street and p.last:
        yield f"s:{p.street}|{p.last}"
    tokens = " ".join(sorted(p.name.replace("-", " ").split()))
    if tokens and p.postcode:
        yield f"n:{tokens}|{p.postcode}"
    if p.last and p.first and p.city:
        yield f"c:{p.last}|{p.first[0]}|{p.city}"
    if tokens and p.birth:
        yield f"b:{tokens}|{p.birth}"


def _agree(a: str, b: str) -> bool:
    return not a or not b or a == b


def _first_names_agree(a: str, b: str) -> bool:
    if not a or not b:
        return True
    if len(a) == 1 or len(b) == 1:     # "J." against "James"
        return a[0] == b[0]
    if a.split()[0] == b.split()[0]:   # "Mary Ann" against "Mary"
        return True
    return fuzz.ratio(a, b) >= 70


def score(a: Person, b: Person) -> tuple[float, str]:
    """A score in [0, 1] and the reasons, for one pair."""
    reasons: list[str] = []
    name_sim = fuzz.token_sort_ratio(a.name, b.name) / 100 if a.name and b.name else 0.0
    if a.first and b.first and len(a.first) > 1 and len(b.first) > 1 and a.last and b.last:
        swapped = fuzz.ratio(f"{a.first} {a.last}", f"{b.last} {b.first}") / 100
        name_sim = max(name_sim, swapped)
    if (a.first[:1] == b.first[:1] and a.last and a.last == b.last
            and (len(a.first) == 1 or len(b.first) == 1)):
        name_sim = max(name_sim, 0.9)   # an initial against the full first name
    total = 0.45 * name_sim
    if name_sim:
        reasons.append(f"names {name_sim:.0%} alike")
    if a.email and a.email == b.email:
        total += 0.35
        reasons.append("same e-mail")
    elif a.email and b.email and "@" in a.email and "@" in b.email and \
            a.email.split("@")[0] == b.email.split("@")[0]:
        total += 0.2
        reasons.append("same e-mail name, other domain")
    shared = set(a.phones) & set(b.phones)
    if shared:
        total += 0.3
        reasons.append("same phone")
    if a.street and a.street == b.street and _agree(a.postcode, b.postcode) and \
            _agree(a.city, b.city):
        total += 0.2
        reasons.append("same address")
    elif a.postcode and a.postcode == b.postcode:
        total += 0.05
        reasons.append("same postcode")
    elif a.city and a.city == b.city:
        total += 0.03
    if a.birth and b.birth:
        if a.birth == b.birth:
            total += 0.25
            reasons.append("same birth date")
        else:
            total -= 0.3
            reasons.append("different birth dates")
    swapped_names = bool(a.first and a.first == b.last and a.last == b.first)
    if not swapped_names and not _first_names_agree(a.first, b.first):
        total *= 0.6
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


def find_candidates(scratch: Scratch, *, threshold: float = THRESHOLD) -> DedupeStats:
    """Compare persons sharing a block; keep pairs scoring at least ``threshold``."""
    stats = DedupeStats()
    seen: set[tuple[int, int]] = set()
    for _key, members in scratch.blocks():
        stats.blocks += 1
        people = {i: Person.unpack(d) for i, d in scratch.features(members).items()}
        if len(members) > MAX_BLOCK:
            stats.large_blocks += 1
            ordered = sorted(members, key=lambda i: (people[i].last, people[i].first, i))
            pairs: Iterator[tuple[int, int]] = (
                (ordered[x], ordered[y]) for x in range(len(ordered))
                for y in range(x + 1, min(len(ordered), x + 1 + WINDOW)))
        else:
            pairs = ((members[x], members[y]) for x in range(len(members))
                     for y in range(x + 1, len(members)))
        for i, j in pairs:
            pair = (i, j) if i < j else (j, i)
            if pair in seen:
                continue
            seen.add(pair)
            stats.comparisons += 1
            value, reason = score(people[i], people[j])
            if value >= threshold:
                scratch.add_pair(i, j, round(value, 3), reason)
        if len(seen) > 500_000:   # bounded memory: forget; re-scoring a pair is harmless
            seen.clear()
    stats.candidates = scratch.count_pairs()
    return stats
