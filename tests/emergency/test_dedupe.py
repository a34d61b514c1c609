"""Duplicate detection on the labelled member register: error patterns, blocking, quality."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultkeeper.db.scratch import Scratch
from vaultkeeper.sandbox import register
from vaultkeeper.services.emergency import dedupe
from vaultkeeper.services.emergency.clean import check_date


def _p(legacy: str, first: str, last: str, **kw: object) -> dedupe.Person:
    base: dict[str, object] = {"email": "", "phones": [], "street": "", "postcode": "",
                               "city": "", "birth": "", "refs": []}
    return dedupe.make_person(legacy, first=first, last=last, **(base | kw))  # type: ignore[arg-type]


@pytest.mark.parametrize("a, b", [
    # nickname, same address
    (("Johannes", "de Vries", {"street": "Kerkstraat 12", "postcode": "3512 AB"}),
     ("Hans", "Vries, de", {"street": "Kerkstr. 12", "postcode": "3512AB"})),
    # OCR-like typo in the surname, swapped digits in the date of birth
    (("Willem", "Bernards", {"birth": "1961-05-03", "city": "Utrecht"}),
     ("Willem", "Bemards", {"birth": "1961-03-05", "city": "Utrecht"})),
    # first and last name swapped, phone written nationally
    (("Pieter", "Bakker", {"phones": ["+31 6 12345678"]}),
     ("Bakker", "Pieter", {"phones": ["06-12345678"]})),
    # the same membership number, e-mail with a typo
    (("Anna", "Jansen", {"refs": ["104233"], "email": "anna.jansen@ziggo.nl"}),
     ("Anne", "Janssen", {"refs": ["104233"], "email": "anna.jansem@ziggo.nl"})),
    # swapped digits in the postcode, same street and house
    (("Maria", "Smit", {"street": "Molenweg 4", "postcode": "1234 AB", "city": "Delft"}),
     ("Maria", "Smit", {"street": "Molenweg 4", "postcode": "1324 AB", "city": "Delft"})),
])
def test_error_patterns_are_found(a, b):
    pa, pb = _p("1", a[0], a[1], **a[2]), _p("2", b[0], b[1], **b[2])
    value, reason = dedupe.score(pa, pb)
    assert value >= dedupe.THRESHOLD, reason
    assert set(dedupe.blocking_keys(pa)) & set(dedupe.blocking_keys(pb))


def test_households_and_generations_are_not_duplicates():
    home = {"street": "Kerkstraat 12", "postcode": "3512 AB", "phones": ["030-1234567"]}
    wife = dedupe.score(_p("1", "Maria", "de Vries", **home),
                        _p("2", "Pieter", "de Vries", **home))
    assert wife[0] < dedupe.THRESHOLD and "household" in wife[1]
    son = dedupe.score(_p("1", "Jan", "Bakker", birth="1950-04-02", **home),
                       _p("2", "Jan", "Bakker", birth="1982-09-17", **home))
    assert son[0] < dedupe.THRESHOLD and "born years apart" in son[1]
    strangers = dedupe.score(_p("1", "Jan", "Jansen", city="Utrecht", phones=["0612345678"]),
                             _p("2", "Jan", "Jansen", city="Zwolle", phones=["0687654321"]))
    assert strangers[0] < dedupe.THRESHOLD


def test_labelled_register_precision_and_recall(tmp_path: Path):
    """5,000 persons with planted duplicates: precision and recall at least 0.95 each."""
    reg = register.generate(5000, seed=3)
    scratch = Scratch(tmp_path / "scratch.db")
    feats, keys = [], []
    for idx, m in enumerate(reg.rows):
        person = dedupe.make_person(
            str(idx), first=m.first, last=register.full_last(m), email=m.email,
            phones=[m.phone], street=m.street, postcode=m.postcode, city=m.city,
            birth=check_date(m.birth, "NL").value if m.birth else "", refs=[m.number])
        feats.append((idx, person.pack()))
        keys += [(k, idx) for k in dedupe.blocking_keys(person)]
    scratch.put_features(feats)
    scratch.add_keys(keys)
    stats = dedupe.find_candidates(scratch)
    found = {frozenset((a, b)) for a, b, _s, _r in scratch.pairs()}
    scratch.close()
    hits = len(found & reg.truth)
    assert len(reg.truth) > 300
    assert hits / len(found) >= 0.95
    assert hits / len(reg.truth) >= 0.95
    # blocking: a tiny fraction of all pairs is ever scored
    assert stats.comparisons < 5000 * 4999 // 2 // 100
