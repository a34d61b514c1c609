"""The sandbox's ground truth for data-quality tests agrees with the data it generates."""

from __future__ import annotations

from vaultkeeper.sandbox.data import Dataset
from vaultkeeper.sandbox.gen_hubspot import contact, contact_truth


def test_truth_matches_generated_contacts():
    ds = Dataset(4000, 7)
    dirty = dups = 0
    for i in range(4000):
        truth = contact_truth(ds, i)
        record = contact(ds, i)
        if truth.duplicate_of is not None:
            dups += 1
            assert truth.duplicate_of < i and truth.person == truth.duplicate_of
            original = contact(ds, truth.duplicate_of)
            # the same person: the address and phone come from the person, not the record
            if record["address"] and original["address"]:
                assert record["address"] == original["address"]
        else:
            assert truth.person == i
        email = record["email"]
        if truth.email_dirty:
            dirty += 1
            assert email is not None
            clean = email.strip()
            assert (clean != email or "@@" in email or " at " in email or email.endswith(".")
                    or email.startswith("mailto:") or ";" in email or
                    "." not in email.split("@")[-1])
        elif email is not None:
            assert email == email.strip() and email.count("@") == 1 and ";" not in email
    assert 40 < dups < 160 and 100 < dirty < 220
