"""Value sniffing for CSV columns: what kind of values a column holds (e-mail, phone, date …)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_V_EMAIL = re.compile(r"\s*(?:mailto:)?[^@\s;,]+@[^@\s;,]+\.[a-z]{2,}\.?\s*", re.IGNORECASE)
_V_PHONE = re.compile(r"\s*(?:\+|00)?[\d\s().\-/]{8,20}\s*")
_V_POSTCODE = re.compile(
    r"\s*(?:\d{4}\s?[A-Za-z]{2}"                                  # NL 3512 AB
    r"|\d{5}|\d{4}"                                               # FR/DE/FI, BE/CH/AT/DK
    r"|[A-Za-z]{1,2}\d[A-Za-z\d]?\s?\d[A-Za-z]{2})\s*")           # UK SW1A 1AA
_V_DATE = re.compile(r"\s*(?:\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}.*)?"
                     r"|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2}))\s*")
_V_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
_V_NUMBER = re.compile(r"\s*[-+]?(?:€|EUR|\$|£)?\s*\d{1,3}(?:[.,\s]?\d{3})*(?:[.,]\d{1,2})?\s*")
_V_URL = re.compile(r"\s*(?:https?://|www\.)\S+\s*", re.IGNORECASE)
_V_DOMAIN = re.compile(r"\s*[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\s*", re.IGNORECASE)
_V_CODE = re.compile(r"\s*[A-Za-z]{0,4}[-/]?\d{3,12}\s*")
_V_BOOL = {"true", "false", "yes", "no", "ja", "nee", "oui", "non", "0", "1", "y", "n",
           "kylla", "kyllä", "ei", "j", "x", ""}


@dataclass
class ValueProfile:
    """What a column's values look like: the share (0–1) of filled values of each kind."""

    filled: int = 0
    rows: int = 0
    distinct: int = 0
    shares: dict[str, float] = field(default_factory=dict)
    birth_years: float = 0.0
    """Share of date values with a year 1900–2015 that is at least 10 years ago (births)."""

    @property
    def unique(self) -> bool:
        """Every filled value different (a key candidate)."""
        return self.filled > 0 and self.distinct == self.filled

    def share(self, kind: str) -> float:
        """Share of filled values of ``kind`` (email, phone, postcode, date, number, url,
        domain, code, boolean)."""
        return self.shares.get(kind, 0.0)

    def best(self) -> tuple[str, float]:
        """The most specific kind at least 80 % of the values have, and its share."""
        for kind in ("email", "url", "date", "postcode", "phone", "domain", "code", "number",
                     "boolean"):
            if self.share(kind) >= 0.8:
                return kind, self.share(kind)
        return "text", 1.0


def sniff_values(values: Sequence[str], *, this_year: int = 2026) -> ValueProfile:
    """Profile a sample of one column's values (strings as in the file)."""
    prof = ValueProfile(rows=len(values))
    filled = [v for v in values if v.strip()]
    prof.filled = len(filled)
    prof.distinct = len(set(filled))
    if not filled:
        return prof
    counts = dict.fromkeys(("email", "phone", "postcode", "date", "number", "url", "domain",
                            "code", "boolean"), 0)
    births = 0
    for v in filled:
        if _V_EMAIL.fullmatch(v):
            counts["email"] += 1
        if _V_URL.fullmatch(v):
            counts["url"] += 1
        elif _V_DOMAIN.fullmatch(v) and not v.strip().replace(".", "").isdigit():
            counts["domain"] += 1
        if _V_DATE.fullmatch(v):
            counts["date"] += 1
            m = _V_YEAR.search(v)
            if m and 1900 <= int(m[1]) <= this_year - 10:
                births += 1
        digits = sum(c.isdigit() for c in v)
        if _V_PHONE.fullmatch(v) and 8 <= digits <= 15 and not _V_DATE.fullmatch(v):
            counts["phone"] += 1
        if _V_POSTCODE.fullmatch(v) and len(v.strip()) >= 4:
            counts["postcode"] += 1
        if _V_NUMBER.fullmatch(v):
            counts["number"] += 1
        if _V_CODE.fullmatch(v):
            counts["code"] += 1
        if v.strip().lower() in _V_BOOL:
            counts["boolean"] += 1
    prof.shares = {k: n / len(filled) for k, n in counts.items()}
    prof.birth_years = births / len(filled)
    return prof
