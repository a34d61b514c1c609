"""Cheap evidence checks for duplicate detection: which pairs of a block can reach the
threshold at all, found without going through every pair.

``score`` weighs names at most 0.45; everything else it adds up comes from e-mail, phones,
references, birth dates and addresses. A pair of persons whose other evidence cannot reach the
threshold less 0.45 is never a candidate, and most pairs of a name block are such pairs (the
same name, nothing else in common). Per person, :func:`probe` derives once what the checks
compare; :func:`bound` is an upper bound of the other evidence per pair (equality checks
first, edit distances only where lengths allow them); :func:`evidence_keys` are keys two
persons share whenever that bound can exceed 0.05, so a large block finds its pairs through
the keys its members share (:func:`bucket_pairs`), not by going through all of its pairs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein

if TYPE_CHECKING:
    from vaultkeeper.services.emergency.dedupe import Person

_ISO_BIRTH = re.compile(r"(18[89]\d|19\d\d|20[0-3]\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")
_DIGITS = re.compile(r"\D")
_HOUSE = re.compile(r"\b(\d+)")


def _house(street: str) -> str:
    m = _HOUSE.search(street)
    return m.group(1) if m else ""


Probe = tuple[str, str, str, frozenset[str], frozenset[str], str, str, str, str, str, str,
              frozenset[str]]
"""Per-person values for :func:`bound`, derived once per person, not once per pair:
e-mail, its name part, that part's digits, phones, references, birth date, birth date with
day and month swapped, postcode, its first four characters, house number, street, and the
phones' seam keys (:func:`_halves`: two phones one typo apart share one)."""

NAME_WEIGHT = 0.45
"""What equal names add to :func:`score` at most."""


def probe(p: Person) -> Probe:
    """The values :func:`bound` compares, derived from one person."""
    local = p.email.partition("@")[0]
    y, _, rest = p.birth.partition("-")
    m, _, d = rest.partition("-")
    return (p.email, local, _DIGITS.sub("", local), frozenset(p.phones), frozenset(p.refs),
            p.birth, f"{y}-{d}-{m}" if p.birth else "", p.postcode, p.postcode[:4],
            _house(p.street), p.street,
            frozenset(k for phone in p.phones for k in _halves("p", phone)))


def derived(pr: Probe) -> list[Any]:
    """The parts of a probe not in its person, to store with the person (read back by
    ``dedupe.unpack_all``)."""
    return [pr[1], pr[2], pr[6], pr[9], sorted(pr[11])]


def _near(x: str, y: str) -> bool:
    return len(x) == len(y) and DamerauLevenshtein.distance(x, y, score_cutoff=1) <= 1


def bound(a: Probe, b: Probe) -> float:
    """An upper bound of what :func:`score` adds up for a pair before the names: its own
    terms where they are cheap (phones, references, birth dates), the highest term an e-mail
    or an address can give otherwise (a same e-mail 0.35; a name part equal or one typo
    apart with the same digits 0.2; a same house number with a near or missing postcode and
    a similar street 0.2, a same postcode 0.15 if long, else 0.05, a same city 0.03).
    Cheap equality checks first; edit distances only where lengths allow them.

    A pair whose bound is below the threshold less ``NAME_WEIGHT`` cannot reach the
    threshold: ``score`` can only lower its total after the names (first names that disagree
    halve it, and it is never below 0)."""
    total = 0.0
    if a[0] and b[0]:
        if a[0] == b[0]:
            total += 0.35
        elif a[2] == b[2] and -1 <= len(a[1]) - len(b[1]) <= 1 and \
                DamerauLevenshtein.distance(a[1], b[1], score_cutoff=1) <= 1:
            total += 0.2
    if a[3] and b[3]:
        if not a[3].isdisjoint(b[3]):
            total += 0.3
        elif not a[11].isdisjoint(b[11]) and any(_near(x, y) for x in a[3] for y in b[3]):
            total += 0.15
        else:
            total -= 0.05
    if a[4] and not a[4].isdisjoint(b[4]):
        total += 0.35
    if a[5] and b[5]:
        if a[5] == b[5]:
            total += 0.25
        elif a[5] == b[6] or _near(a[5], b[5]):
            total += 0.15
        else:
            total -= 0.45
    pa, pb = a[7], b[7]
    if a[10] and b[10] and a[9] == b[9] and (
            not pa or not pb or a[8] == b[8] or _near(pa, pb)) and \
            fuzz.ratio(a[10], b[10]) / 100 >= 0.8:
        return total + 0.2
    if pa and pa == pb:
        return total + (0.15 if len(pa) >= 6 else 0.05)
    return total + 0.03


def _halves(tag: str, text: str) -> Iterator[str]:
    """Three keys two strings of the same length share when one substitution or one swap of
    adjacent characters apart (or equal): the first half, the second half, and the whole with
    the two characters at the seam sorted — one edit leaves one of them intact."""
    h = len(text) // 2
    yield f"{tag}{len(text)}<{text[:h]}"
    yield f"{tag}{len(text)}>{text[h:]}"
    if h:
        yield f"{tag}{len(text)}={text[:h - 1]}{''.join(sorted(text[h - 1:h + 1]))}{text[h + 1:]}"


def _edit_keys(tag: str, text: str) -> Iterator[str]:
    """Five keys two strings share when at most one edit apart (also a character inserted or
    deleted): :func:`_halves` for a partner as long, and for a partner one longer (split at
    half of the shorter length ``n``: an insertion at or after the split leaves the first
    ``n // 2`` characters, one before it the last ``n - n // 2``)."""
    yield from _halves(tag, text)
    n = len(text) - 1
    if n >= 0:
        h = n // 2
        yield f"{tag}{n}<{text[:h]}"
        yield f"{tag}{n}>{text[len(text) - (n - h):]}"


def evidence_keys(a: Probe) -> list[str]:
    """Keys two persons share whenever :func:`bound` can exceed 0.05 for them (more often is
    harmless: the pair is then checked): the e-mail, edit keys of its name part with its
    digits (:func:`_edit_keys`), seam keys of each phone, the references, two of birth
    year, month and day (one typo changes one) and the swap of day and month, a long
    postcode, the house number with the postcode's first four characters or its seam keys.
    A person without postcode matches on the house number alone (see :func:`bucket_pairs`)."""
    email, local, digits, _phones, refs, birth, _swapped, pc, pc4, house, street, seams = a
    keys: list[str] = []
    if email:
        keys.append("e" + email)
        keys.extend(_edit_keys(f"l{digits}|", local))
    keys.extend(seams)
    keys.extend("r" + ref for ref in refs)
    if birth:
        if _ISO_BIRTH.fullmatch(birth):
            y, m, d = birth.split("-")
            keys += [f"bym{y}{m}", f"byd{y}{d}", f"bmd{m}{d}", f"bs{y}{min(m, d)}{max(m, d)}"]
        else:
            keys.extend(_halves("b", birth))
    if len(pc) >= 6:
        keys.append("c" + pc)
    if street and pc:
        keys.append(f"h{house}|{pc4}")
        keys.extend(_halves(f"h{house}|", pc))
    return list(dict.fromkeys(keys))   # "anna" without either "n" is one key


def bucket_pairs(order: list[int], probes: dict[int, Probe], keys: dict[int, list[str]],
                  window: int) -> list[tuple[int, int]]:
    """Positions (x < y, at most ``window`` apart) of the members sharing an evidence key,
    or a house number where one of them has no postcode; in ascending order."""
    index: dict[str, list[int]] = {}
    houses: dict[str, list[int]] = {}
    bare: set[str] = set()
    for pos, i in enumerate(order):
        for key in keys[i]:
            index.setdefault(key, []).append(pos)
        pr = probes[i]
        if pr[10]:
            houses.setdefault(pr[9], []).append(pos)
            if not pr[7]:
                bare.add(pr[9])
    found: set[tuple[int, int]] = set()
    for members in index.values():
        if len(members) > 1:
            found.update((x, y) for n, x in enumerate(members) for y in members[n + 1:]
                         if y - x <= window)
    for house in bare:
        members = houses[house]
        for n, x in enumerate(members):
            for y in members[n + 1:]:
                if y - x <= window and (not probes[order[x]][7] or not probes[order[y]][7]):
                    found.add((x, y))
    return sorted(found)
