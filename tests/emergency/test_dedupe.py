"""Duplicate detection on the labelled member register: error patterns, blocking, quality."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from vaultkeeper.db.scratch import Scratch
from vaultkeeper.sandbox import register
from vaultkeeper.services.emergency import dedupe, evidence, names
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


def _fill(scratch: Scratch, reg: register.Register) -> None:
    """The register's persons: features and blocking keys, as the package's pass 2 stores them."""
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


def test_labelled_register_precision_and_recall(tmp_path: Path):
    """5,000 persons with planted duplicates: precision and recall at least 0.95 each."""
    reg = register.generate(5000, seed=3)
    scratch = Scratch(tmp_path / "scratch.db")
    _fill(scratch, reg)
    stats = dedupe.find_candidates(scratch)
    found = {frozenset((a, b)) for a, b, _s, _r in scratch.pairs()}
    scratch.close()
    hits = len(found & reg.truth)
    assert len(reg.truth) > 300
    assert hits / len(found) >= 0.95
    assert hits / len(reg.truth) >= 0.95
    # blocking: a tiny fraction of all pairs is ever scored
    assert stats.comparisons < 5000 * 4999 // 2 // 100


def test_edit_keys_are_shared_one_edit_apart():
    """Any two strings one substitution, swap, insertion or deletion apart share an edit key
    (and equal ones all): the evidence keys find every near e-mail name, phone, postcode."""
    import random

    rnd = random.Random(14)
    alphabet = "ab1.-"
    for _ in range(3000):
        s = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))
        q = rnd.randint(0, len(s))
        kind = rnd.choice(["sub", "swap", "ins", "del"])
        if kind == "sub" and q < len(s):
            t = s[:q] + rnd.choice(alphabet) + s[q + 1:]
        elif kind == "swap" and q + 1 < len(s):
            t = s[:q] + s[q + 1] + s[q] + s[q + 2:]
        elif kind == "ins":
            t = s[:q] + rnd.choice(alphabet) + s[q:]
        elif q < len(s):
            t = s[:q] + s[q + 1:]
        else:
            t = s
        assert set(evidence._edit_keys("x", s)) & set(evidence._edit_keys("x", t)), (s, t)
        if len(s) == len(t) and s:
            assert set(evidence._halves("x", s)) & set(evidence._halves("x", t)), (s, t)


def test_the_filters_never_drop_a_candidate():
    """Every pair of a block that ``score`` puts at or above the threshold passes ``bound``
    and shares an evidence key (or a house number with one postcode missing): the filters
    only spare work, the candidates are those of scoring every pair."""
    reg = register.generate(3000, seed=5)
    people = [dedupe.make_person(
        str(idx), first=m.first, last=register.full_last(m), email=m.email,
        phones=[m.phone], street=m.street, postcode=m.postcode, city=m.city,
        birth=check_date(m.birth, "NL").value if m.birth else "", refs=[m.number])
        for idx, m in enumerate(reg.rows)]
    blocks: dict[str, list[int]] = {}
    for idx, person in enumerate(people):
        for key in dedupe.blocking_keys(person):
            blocks.setdefault(key, []).append(idx)
    need = dedupe.THRESHOLD - evidence.NAME_WEIGHT - 1e-9
    probes = [evidence.probe(p) for p in people]
    keys = [set(evidence.evidence_keys(pr)) for pr in probes]
    checked = dropped = 0
    for members in blocks.values():
        for n, i in enumerate(members):
            for j in members[n + 1:]:
                a, b = probes[i], probes[j]
                full = dedupe.score(people[i], people[j])
                floored = dedupe.score(people[i], people[j], floor=dedupe.THRESHOLD)
                # the floor's shortcuts only answer pairs below it, and only with (0, "")
                assert floored == full or (floored == (0.0, "") and
                                           full[0] < dedupe.THRESHOLD), (people[i], people[j])
                if full[0] < dedupe.THRESHOLD:
                    dropped += evidence.bound(a, b) < need
                    continue
                checked += 1
                assert evidence.bound(a, b) >= need, (people[i], people[j])
                wild = a[10] and b[10] and a[9] == b[9] and (not a[7] or not b[7])
                assert keys[i] & keys[j] or wild, (people[i], people[j])
    assert checked > 200 and dropped > 1000


def test_the_evidence_buckets_find_the_candidates_of_all_pairs(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch):
    """Blocks searched through evidence keys (every block, however small), through all pairs
    with the bound, and through all pairs scored (the filters off) keep the same candidates,
    scores and reasons."""
    reg = register.generate(3000, seed=7)
    answers = {}
    for name, bucket_min, filters in (("buckets", 1, True), ("pairs", 10**9, True),
                                      ("all scored", 10**9, False)):
        monkeypatch.setattr(dedupe, "BUCKET_MIN", bucket_min)
        if not filters:
            monkeypatch.setattr(dedupe, "bound", lambda a, b: 1.0)   # every pair passes
        scratch = Scratch(tmp_path / f"{bucket_min}-{filters}.db")
        _fill(scratch, reg)
        stats = dedupe.find_candidates(scratch)
        answers[name] = list(scratch.pairs())
        scratch.close()
        if filters:
            assert stats.scored < stats.comparisons
    assert len(answers["all scored"]) > 200
    assert answers["buckets"] == answers["pairs"] == answers["all scored"]


def _register_store(path: Path, n: int, seed: int) -> Scratch:
    reg = register.generate(n, seed=seed)
    scratch = Scratch(path)
    _fill(scratch, reg)
    return scratch


def test_two_processes_find_what_one_finds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The slices of the blocks shared by two processes (a forked worker, pairs spooled and
    added after) give the candidates, scores, reasons and counts of one process, and leave
    nothing in the private work folder; the parent searches after its ``meanwhile``, the
    worker meanwhile."""
    from vaultkeeper.services.emergency import dedupe_split

    monkeypatch.setattr(dedupe_split, "SPLIT_MIN", 0)
    answers, counts = {}, {}
    for name in ("one", "two"):
        scratch = _register_store(tmp_path / f"{name}.db", 4000, 11)
        work = tmp_path / f"work-{name}"
        work.mkdir(mode=0o700)
        ran: list[int] = []
        stats = dedupe_split.find_candidates(scratch, workdir=work if name == "two" else None,
                                             meanwhile=partial(ran.append, 1))
        answers[name], counts[name] = list(scratch.pairs()), stats
        scratch.close()
        assert list(work.iterdir()) == [] and ran == [1]
    assert len(answers["one"]) > 200 and answers["one"] == answers["two"]
    assert counts["one"] == counts["two"]


def test_claims_share_out_every_slice_once(tmp_path: Path):
    """Two processes claiming slices as they go get every slice, none twice."""
    from vaultkeeper.db.blockkeys import SLICES
    from vaultkeeper.services.emergency.dedupe_split import claimed

    a, b = claimed(tmp_path), claimed(tmp_path)
    got: tuple[list[int], list[int]] = ([], [])
    for n in range(SLICES):   # a claims two for each of b's
        got[n % 3 == 2].append(next(b) if n % 3 == 2 else next(a))
    got[0].extend(a)
    got[1].extend(b)
    assert sorted(got[0] + got[1]) == list(range(SLICES))
    assert len(got[1]) >= SLICES // 4


def test_a_failed_dedupe_worker_fails_the_search(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch):
    """A worker that fails mid-search fails the whole search with one clear error (no half
    of the candidates passed off as all of them)."""
    import os

    from vaultkeeper.errors import VaultkeeperError
    from vaultkeeper.services.emergency import dedupe_split

    monkeypatch.setattr(dedupe_split, "SPLIT_MIN", 0)
    real, parent = dedupe.search, os.getpid()

    def dying(scratch, threshold, add=None, slices=()):
        if os.getpid() != parent:
            next(iter(slices))   # it claimed a slice: the parent must not think it searched
            raise OSError("disk full (simulated in the worker)")
        return real(scratch, threshold, add, slices)
    monkeypatch.setattr(dedupe_split.dedupe, "search", dying)
    scratch = _register_store(tmp_path / "s.db", 500, 2)
    work = tmp_path / "work"
    work.mkdir(mode=0o700)
    with pytest.raises(VaultkeeperError, match=r"second process.*disk full"):
        dedupe_split.find_candidates(scratch, workdir=work)
    scratch.close()


def _register_people(n: int, seed: int) -> list[dedupe.Person]:
    reg = register.generate(n, seed=seed)
    return [dedupe.make_person(
        str(idx), first=m.first, last=register.full_last(m), email=m.email,
        phones=[m.phone], street=m.street, postcode=m.postcode, city=m.city,
        birth=check_date(m.birth, "NL").value if m.birth else "", refs=[m.number])
        for idx, m in enumerate(reg.rows)]


def test_a_packed_person_carries_its_probe():
    """What pass 2 stores is what the search would derive: the person and its probe come
    back from the store equal."""
    people = [*_register_people(800, seed=21),
              _p("x", "Jan", "", phones=["0612345678", "0201234567"])]
    for p in people:
        person, pr = dedupe.unpack_all(p.pack())
        assert person == p == dedupe.Person.unpack(p.pack())
        assert pr == evidence.probe(p)


def test_the_shortcuts_of_the_name_checks_answer_as_the_full_formulas():
    """``_sim`` skips the OCR-mapped ratio when nothing maps, ``_first_names_agree`` uses
    score cut-offs, ``_crossed`` stops at its first failing half, ``_email`` skips the edit
    distance of lengths two apart: each answers as the formula it replaces, here written
    out in full, on the names and e-mails of a register (typos, nicknames, OCR errors)."""
    from rapidfuzz import fuzz
    from rapidfuzz.distance import DamerauLevenshtein

    core_surname, ocr, same_given_name = names.core_surname, names.ocr, names.same_given_name

    def sim(a: str, b: str) -> float:
        if not a or not b:
            return 0.0
        return 1.0 if a == b else max(fuzz.ratio(a, b), fuzz.ratio(ocr(a), ocr(b))) / 100

    def agree(a: str, b: str) -> bool:
        if not a or not b:
            return True
        if len(a) == 1 or len(b) == 1:
            return a[0] == b[0]
        if a.split()[0] == b.split()[0] or same_given_name(a, b):
            return True
        if min(len(a), len(b)) >= 3 and DamerauLevenshtein.distance(ocr(a), ocr(b)) <= 1:
            return True
        return max(fuzz.ratio(a, b), fuzz.ratio(ocr(a), ocr(b))) >= 70

    def crossed(a: dedupe.Person, b: dedupe.Person) -> bool:
        if not a.first or not b.core:
            return False
        one = max(sim(core_surname(a.first), b.core), float(same_given_name(a.first, b.core)))
        other = names.first_sim(a.core, b.first) if len(b.first) > 1 else 1.0
        return one >= 0.8 and other >= 0.5

    def email(a: str, b: str) -> tuple[float, str]:
        if a == b:
            return 0.35, "same e-mail"
        la, _, da = a.partition("@")
        lb, _, db = b.partition("@")
        if la == lb and la not in dedupe._GENERIC_LOCAL:
            return 0.2, "same e-mail name, other domain"
        typo = DamerauLevenshtein.distance(la, lb) <= 1
        if len(la) >= 5 and typo and dedupe._DIGITS.sub("", la) == dedupe._DIGITS.sub("", lb):
            return (0.2, "e-mail one typo apart") if da == db else (
                0.1, "e-mail name one typo apart, other domain")
        return 0.0, ""

    people = _register_people(300, seed=33)
    people += [_p("o1", "Wi11em", "Bemards"), _p("o2", "Willem", "Bernards"),
               _p("o3", "J", "Vries"), _p("o4", "Vries", "Jan"), _p("o5", "", "Smit")]
    for a in people:
        for b in people[::5]:
            for x, y in ((a.first, b.first), (a.core, b.core), (a.last, b.first)):
                assert names.sim(x, y) == sim(x, y), (x, y)
                assert names.first_names_agree(x, y) == agree(x, y), (x, y)
            assert names.crossed(a, b) == crossed(a, b), (a, b)
            if a.email and b.email:
                assert dedupe._email(a.email, b.email) == email(a.email, b.email), (a, b)
    for x, y in (("anna.jansen@ziggo.nl", "anna.jansem@ziggo.nl"), ("jansen1@a.nl", "jansen@a.nl"),
                 ("pieterb@a.nl", "pieterbb@b.nl"), ("pieterb@a.nl", "pietb@a.nl"),
                 ("abcde@x.nl", "bacde@y.nl")):
        assert dedupe._email(x, y) == email(x, y), (x, y)
