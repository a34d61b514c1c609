"""The phone fast path gives exactly what phonenumbers gives, wherever it answers."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat as Fmt
from phonenumbers import PhoneNumberType as Type

from vaultkeeper.sandbox import gen_hubspot
from vaultkeeper.sandbox.data import Dataset
from vaultkeeper.services.emergency import clean, phonefast

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
TYPES = (Type.FIXED_LINE, Type.MOBILE, Type.TOLL_FREE, Type.PREMIUM_RATE, Type.VOIP, Type.UAN,
         Type.PERSONAL_NUMBER)


def library(text: str, region: str | None, monkeypatch: pytest.MonkeyPatch) -> clean.PhoneCheck:
    """``clean``'s answer with the fast path switched off (phonenumbers alone)."""
    with monkeypatch.context() as m:
        m.setattr(phonefast, "check", lambda _t, _r: None)
        return clean._check_phone.__wrapped__(text, region)


def fast(text: str, region: str | None) -> clean.PhoneCheck | None:
    got = phonefast.check(text, region)
    return None if got is None else clean.PhoneCheck(got[0], got[1] or text, got[2])


def shapes(num: phonenumbers.PhoneNumber, rng: random.Random) -> Iterator[str]:
    """One number as people write it: international, national, E.164, with the international
    prefix, "(0)", the country code without "+", brackets, dots, dashes, an extension."""
    nat = phonenumbers.format_number(num, Fmt.NATIONAL)
    e164 = phonenumbers.format_number(num, Fmt.E164)
    nsn = phonenumbers.national_significant_number(num)
    cc = str(num.country_code)
    yield from (phonenumbers.format_number(num, Fmt.INTERNATIONAL), nat, e164, e164[1:],
                "00" + e164[1:], "011" + e164[1:], "1" + e164[1:], f"+{cc} (0){nsn}",
                f"+{cc} 0{nsn}", "0" + nsn, nsn, cc + nsn, cc + "0" + nsn,
                nat.replace(" ", "."), nat.replace(" ", "-"),
                f"({nsn[:3]}) {nsn[3:6]}-{nsn[6:]}", f"{nsn[:3]}.{nsn[3:6]}.{nsn[6:]}",
                f"{nat} ext. {rng.randint(1, 9999)}", f"{e164} ext. 7")


def mutated(nsn: str, rng: random.Random) -> str:
    """A digit dropped, added or changed: lengths and prefixes the metadata rejects."""
    d = list(nsn)
    op = rng.random()
    if op < 0.3 and len(d) > 2:
        del d[rng.randrange(len(d))]
    elif op < 0.6:
        d.insert(rng.randrange(len(d) + 1), str(rng.randint(0, 9)))
    else:
        d[rng.randrange(len(d))] = str(rng.randint(0, 9))
    return "".join(d)


def cases(rng: random.Random) -> Iterator[tuple[str, str | None]]:
    for region in REGIONS:
        for kind in TYPES:
            num = phonenumbers.example_number_for_type(region, kind)
            if num is None:
                continue
            for text in shapes(num, rng):
                for other in (region, rng.choice(REGIONS), None, "GB", "US"):
                    yield text, other
            nsn = phonenumbers.national_significant_number(num)
            for _ in range(4):
                digits = mutated(nsn, rng)
                for text in (f"+{num.country_code} {digits}", "0" + digits, digits,
                             f"00{num.country_code}{digits}"):
                    yield text, region
    for _ in range(20_000):   # digit strings of every length, prefixes, separators
        body = "".join(str(rng.randint(0, 9)) + (rng.choice(" -.)") if rng.random() < .2 else "")
                       for _ in range(rng.randint(1, 19)))
        text = (rng.choice(["", "+", "0", "00", "011", "(", "+0"]) + body).strip()
        yield text, rng.choice([*REGIONS, None, "GB", "NL", "ZZ", "gb"])


def test_the_fast_path_agrees_with_phonenumbers(monkeypatch: pytest.MonkeyPatch) -> None:
    answered = differ = 0
    examples = []
    for text, region in cases(random.Random(7)):
        got = fast(text, region)
        if got is None:
            continue
        answered += 1
        want = library(text, region, monkeypatch)
        if got != want:
            differ += 1
            examples.append((text, region, want, got))
    assert differ == 0, examples[:10]
    assert answered > 50_000   # it does answer: every status, many regions
    answers = [fast(t, r) for t, r in (("+44 20 7946 0018", None), ("+442079460018", "NL"),
                                        ("+33 1 2345 678", "GB"))]
    assert [a.status if a else None for a in answers] == ["normalised", "e164", "invalid"]


def test_what_it_leaves_to_the_library() -> None:
    # letters, other extension words, a '+' after a bracket, unknown regions, too few digits,
    # an invalid number under a code several regions share (the library finds the region)
    for text, region in (("0800 FLOWERS", "GB"), ("020 7946 0018 x12", "GB"),
                         ("(+44) 20 7946 0018", "GB"), ("06 1234 5678", None),
                         ("06 1234 5678", "UK"), ("12", "GB"), ("+1 (0)666 4322162", "US"),
                         ("０２０ ７９４６ ００１８", "GB")):
        assert phonefast.check(text, region) is None, text


def test_it_answers_for_most_of_a_register() -> None:
    """The shapes the sandbox writes (those of real member registers) mostly take the fast
    path: if a change sent them all to the library, the build would be 2.5 x slower here."""
    ds = Dataset(3000, seed=1)
    items = []
    for i in range(3000):
        props = gen_hubspot.contact(ds, i)
        region = clean.region_of(str(props.get("country") or ""), "GB")
        items += [(str(props[k]).strip(), region) for k in ("phone", "mobilephone")
                  if props.get(k)]
    share = sum(phonefast.check(t, r) is not None for t, r in items) / len(items)
    assert share > 0.9, share
    shapes_seen = {re.sub(r"[0-9]", "9", t) for t, _ in items}
    assert len(shapes_seen) >= 8, json.dumps(sorted(shapes_seen))
