"""Data-quality findings against what the sandbox knows it made dirty."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from itertools import combinations

from vk_emergency import RECORDS, SEED

from vaultkeeper.sandbox.data import Dataset
from vaultkeeper.sandbox.gen_hubspot import contact_truth
from vaultkeeper.sandbox.hs_schema import ID_BASES


def rows(path):
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def truth():
    ds = Dataset(RECORDS, SEED)
    return {str(ID_BASES["contacts"] + i): contact_truth(ds, i) for i in range(RECORDS)}


def test_invalid_email_detection_matches_the_sandbox_dirt(package):
    out, _ = package
    known = truth()
    exported = {r["id"] for r in rows(out / "data" / "objects" / "contacts.csv")}
    dirty = {i for i, t in known.items() if t.email_dirty and i in exported}
    flagged = {r["legacy_id"] for r in rows(out / "quality" / "emails.csv")
               if r["status"] in ("invalid", "fixed")}
    hits = len(dirty & flagged)
    precision, recall = hits / len(flagged), hits / len(dirty)
    assert len(dirty) > 30
    assert precision == 1.0 and recall == 1.0, (sorted(dirty - flagged)[:5],
                                                 sorted(flagged - dirty)[:5])
    # the blank-wrapped, mailto: and trailing-dot shapes are fixable; the others are not
    fixed = {r["legacy_id"]: r for r in rows(out / "quality" / "emails.csv")
             if r["status"] == "fixed"}
    for legacy, row in fixed.items():
        assert known[legacy].email_kind in (3, 4, 5), row
        assert "@" in row["normalised"] and " " not in row["normalised"]


def test_duplicate_candidates_precision_and_recall(package):
    out, result = package
    known = truth()
    groups = defaultdict(list)
    for legacy, t in known.items():
        groups[t.person].append(legacy)
    true_pairs = {frozenset(p) for g in groups.values() for p in combinations(g, 2)}
    found = {frozenset((r["legacy_id_a"], r["legacy_id_b"])): r
             for r in rows(out / "quality" / "duplicates.csv")}
    hits = len(true_pairs & set(found))
    precision, recall = hits / len(found), hits / len(true_pairs)
    assert len(true_pairs) > 20
    assert precision >= 0.95, [found[p]["reason"] for p in set(found) - true_pairs][:5]
    assert recall >= 0.6
    for row in found.values():
        assert 0 < float(row["score"]) <= 1 and row["reason"]
    report = json.loads((out / "quality" / "report.json").read_text())
    dup = report["duplicates"]
    # blocking: far fewer comparisons than all pairs
    assert dup["comparisons"] < RECORDS * (RECORDS - 1) / 2 / 20
    assert dup["candidates"] == len(found) == result.duplicates


def test_phones_dates_and_archived_are_reported(package):
    out, _ = package
    report = json.loads((out / "quality" / "report.json").read_text())
    phones = report["phones"]["person.phone"]["counts"]
    assert phones.get("normalised", 0) > 500
    people = rows(out / "canonical" / "person.csv")
    listed = {(r["legacy_id"], r["value"]) for r in rows(out / "quality" / "phones.csv")
              if r["field"] == "phone"}
    e164 = [p for p in people if re.fullmatch(r"\+\d{7,15}(;ext=\d+)?", p["phone"])]
    assert len(e164) > 500
    for p in people:   # every phone is E.164 or listed as a finding
        assert not p["phone"] or p in e164 or (p["legacy_id"], p["phone"]) in listed
    dates = report["dates"]
    assert dates["person.birth_date"]["counts"].get("ambiguous", 0) > 0
    ambiguous = [r for r in rows(out / "quality" / "dates.csv") if r["status"] == "ambiguous"]
    assert ambiguous and all(len(r["normalised"]) == 10 for r in ambiguous)
    births = [p["birth_date"] for p in people if p["birth_date"]]
    assert sum(len(b) == 10 and b[4] == "-" for b in births) > len(births) * 0.5
    contacts = report["objects"]["contacts"]
    assert contacts["archived"] > 0 and contacts["live"] + contacts["archived"] == RECORDS
    completeness = {c["field"]: c["percent"] for c in contacts["completeness"]}
    assert completeness["id"] == 100.0 and 0 < completeness["email"] < 100
    html = (out / "quality" / "report.html").read_text()
    assert "Duplicate candidates" in html and "<script" not in html
    membership = report["entities"]["membership"]
    assert membership["inactive"] > 0 and membership["active"] > 0
