"""Word pools and "dirt" helpers for the generated membership-organisation data."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from importlib import resources

# The pools themselves are data: pools.json beside this module (package data).
_POOLS = json.loads(resources.files("vaultkeeper.sandbox").joinpath("pools.json")
                    .read_text(encoding="utf-8"))
Pool = tuple[str, ...]
FIRST_NAMES: Pool = tuple(_POOLS["FIRST_NAMES"])
LAST_NAMES: Pool = tuple(_POOLS["LAST_NAMES"])
PLACES: tuple[tuple[str, str, str, str, str, str, str], ...] = tuple(
    (a, b, c, d, e, f, g) for a, b, c, d, e, f, g in _POOLS["PLACES"])
"""City, state/region, postcode, country, ISO code, phone country code, time zone."""
COUNTRY_VARIANTS: dict[str, Pool] = {k: tuple(v) for k, v in _POOLS["COUNTRY_VARIANTS"].items()}
"""The same country written the ways people type it into a free-text field."""
STREETS: Pool = tuple(_POOLS["STREETS"])
PERSONAL_DOMAINS: Pool = tuple(_POOLS["PERSONAL_DOMAINS"])
JOB_TITLES: Pool = tuple(_POOLS["JOB_TITLES"])
ORG_STEMS: Pool = tuple(_POOLS["ORG_STEMS"])
ORG_KINDS: dict[str, Pool] = {k: tuple(v) for k, v in _POOLS["ORG_KINDS"].items()}
INDUSTRIES: Pool = tuple(_POOLS["INDUSTRIES"])
DIETARY: Pool = tuple(_POOLS["DIETARY"])
NOTE_TOPICS: Pool = tuple(_POOLS["NOTE_TOPICS"])
MONTHS: Pool = tuple(_POOLS["MONTHS"])
_TRANSLIT = {"李": "li", "王": "wang", "Анна": "anna", "Иванова": "ivanova"}
_FOLD = str.maketrans({"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "ß": "ss", "Æ": "AE", "æ": "ae",
                       "Đ": "D", "đ": "d", "Þ": "Th", "þ": "th"})


def ascii_fold(text: str) -> str:
    """``Zoë Ångström`` → ``Zoe Angstrom`` (accents removed, a few letters transliterated)."""
    if text in _TRANSLIT:
        return _TRANSLIT[text]
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def slug(text: str) -> str:
    """E-mail local part of a name: ``van der Berg`` → ``vanderberg``."""
    return "".join(c for c in ascii_fold(text).lower() if c.isalnum()) or "x"


FIRST_ASCII = {n: ascii_fold(n) for n in FIRST_NAMES}
LAST_ASCII = {n: ascii_fold(n) for n in LAST_NAMES}
FIRST_SLUG = {n: slug(n) for n in FIRST_NAMES}
LAST_SLUG = {n: slug(n) for n in LAST_NAMES}

ORG_TYPES = tuple(ORG_KINDS)


# (upper bound of the draw, format): the first bound above the draw picks the format.
_DATE_FORMATS = ((0.25, "{y:04d}-{m:02d}-{d:02d}"), (0.45, "{d:02d}/{m:02d}/{y:04d}"),
                 (0.55, "{m}/{d}/{yy:02d}"), (0.65, "{d}.{m}.{y}"),
                 (0.75, "{d}{suffix} {month} {y}"), (0.85, "{mon} {y}"),
                 (0.93, "{d} {month} {y}"))  # else "{y}"
_PHONE_FORMATS = ((0.3, "+{cc} {a} {b} {c}"), (0.45, "0{a} {b}{c}"), (0.6, "({a}) {b}-{c}"),
                  (0.7, "{a}.{b}.{c}"), (0.8, "+{cc} (0){a} {b}{c}"), (0.9, "00{cc}{a}{b}{c}"))


def _format_for(k: float, formats: tuple[tuple[float, str], ...]) -> str | None:
    """The format whose bound is the first above ``k``; None when ``k`` is past them all."""
    return next((fmt for bound, fmt in formats if k < bound), None)


def messy_date(rnd: Callable[[], float], y: int, m: int, d: int) -> str:
    """A date the way people type it into a free-text field (format varies per record)."""
    fmt = _format_for(rnd(), _DATE_FORMATS) or "{y}"
    suffix = "th" if 10 <= d % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th")
    return fmt.format(y=y, m=m, d=d, yy=y % 100, suffix=suffix, month=MONTHS[m - 1],
                      mon=MONTHS[m - 1][:3])


def messy_phone(rnd: Callable[[], float], cc: str) -> str:
    """A phone number in one of the formats found in real CRMs."""
    a, b, c = 100 + int(rnd() * 900), 100 + int(rnd() * 900), 1000 + int(rnd() * 9000)
    fmt = _format_for(rnd(), _PHONE_FORMATS)
    if fmt is None:
        return f"0{a}{b}{c} ext. {10 + int(rnd() * 89)}"
    return fmt.format(a=a, b=b, c=c, cc=cc)


_POSTCODE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"   # no I, O, Q: postcodes avoid them


def local_postcode(area: str, h: int) -> str:
    """A postcode near ``area`` (a place's postcode), drawn from the integer ``h``: the first
    two characters kept (the region), every later digit a digit and every later letter a
    letter, the blanks and dashes where they were. A million contacts do not live in twenty
    postcodes: a real register's full postcode is shared by a handful of its persons."""
    out = [area[:2]]
    for ch in area[2:]:
        if ch.isdigit():
            h, k = divmod(h, 10)
            out.append("0123456789"[k])
        elif ch.isalpha():
            h, k = divmod(h, len(_POSTCODE_LETTERS))
            out.append(_POSTCODE_LETTERS[k])
        else:
            out.append(ch)
    return "".join(out)


def dirty_email(rnd: Callable[[], float], local: str, domain: str) -> str:
    """One of the invalid e-mail shapes that CRMs accumulate."""
    k = int(rnd() * 7)
    return (f"{local}@@{domain}", f"{local} at {domain}", f"{local}@{domain.split('.')[0]}",
            f" {local}@{domain} ", f"mailto:{local}@{domain}", f"{local}@{domain}.",
            f"{local}.@{domain};{local}2@{domain}")[k]
