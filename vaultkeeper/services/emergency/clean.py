"""Value normalisers for the canonical model: e-mail syntax, phones to E.164, dates to ISO 8601.

Each returns the cleaned value and a status; nothing here guesses silently: an ambiguous date
(``03/04/2010``) is normalised by the region's convention *and* reported as ambiguous, a value
that cannot be read is kept as written and reported.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from vaultkeeper.services.emergency import phonefast

phonefast.enable_library_cache()

# Countries as people type them → ISO 3166 codes (phones are read in the record's country).
_COUNTRIES = {
    "united kingdom": "GB", "uk": "GB", "u.k.": "GB", "gb": "GB", "great britain": "GB",
    "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
    "ireland": "IE", "germany": "DE", "deutschland": "DE", "france": "FR",
    "netherlands": "NL", "the netherlands": "NL", "holland": "NL", "poland": "PL",
    "sweden": "SE", "switzerland": "CH", "denmark": "DK", "united states": "US", "usa": "US",
    "us": "US", "u.s.a.": "US", "united states of america": "US", "canada": "CA",
    "new zealand": "NZ", "nigeria": "NG", "austria": "AT", "belgium": "BE", "spain": "ES",
    "italy": "IT", "portugal": "PT", "norway": "NO", "finland": "FI", "australia": "AU",
    "india": "IN",
}
_MONTHS = {m: i for i, m in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"), 1)}
_MONTHS.update({name[:3]: i for name, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_MONTH_FIRST = {"US", "CA", "PH"}   # regions writing 03/04/2010 as March 4th

_ISO_DT = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?"
                     r"(Z|[+-]\d{2}:?\d{2})?)?")
_NUMERIC = re.compile(r"(\d{1,4})\s*([/.\-])\s*(\d{1,2})\s*[/.\-]\s*(\d{1,4})")
_WORDY = re.compile(r"(?:(\d{1,2})(?:st|nd|rd|th)?\.?\s+)?([a-z]{3,9})\.?,?\s+(?:(\d{1,2})"
                    r"(?:st|nd|rd|th)?,?\s+)?(\d{4})")
_YEAR = re.compile(r"(\d{4})")
_YEAR_MONTH = re.compile(r"(\d{4})-(\d{2})")


@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """Lower-case, accents removed, spaces collapsed: for comparing names and addresses."""
    decomposed = unicodedata.normalize("NFKD", text.replace("ø", "o").replace("Ø", "O")
                                       .replace("ł", "l").replace("Ł", "L").replace("ß", "ss"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.lower().split())


def region_of(country: str, default: str | None) -> str | None:
    """ISO code for a country as typed (``U.K.`` → GB), else the default region."""
    text = country.strip().lower()
    if not text:
        return default
    known = _COUNTRIES.get(text)
    if known is not None:   # "UK" is GB, not a region of its own
        return known
    return text.upper() if len(text) == 2 and text.isalpha() else default


# ------------------------------------------------------------------------------- e-mail
class EmailCheck(NamedTuple):
    """The outcome for one e-mail value.

    The check results are NamedTuples, not frozen dataclasses: as immutable, and built
    several times per record in pass 2 at under half the cost (a frozen dataclass's
    ``__init__`` sets each field through ``object.__setattr__``). Only their fields are read.
    """

    status: str          # valid | fixed | invalid
    value: str           # normalised (or as written when invalid)
    reason: str = ""


# Plain ASCII addresses email-validator always accepts (checked against it in the tests): a
# dot-atom local part and a domain of letter/digit/hyphen labels ending in an alphabetic TLD
# that is not a special-use name. Everything else goes through email-validator.
_PLAIN_EMAIL = re.compile(
    r"(?=[^@]{1,64}@)[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
    r"@(?=.{4,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}")
_SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test",
                           "internal", "home", "corp", "lan", "intranet", "private"})


@lru_cache(maxsize=4096)
def _validate(address: str) -> str | None:
    if _PLAIN_EMAIL.fullmatch(address) and \
            address.rpartition(".")[2].lower() not in _SPECIAL_TLDS:
        return address
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def _why(address: str) -> str:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return ""


def check_email(raw: str) -> EmailCheck:
    """Valid as written; fixed by trimming blanks, ``mailto:`` or a final dot; or invalid."""
    if _validate(raw) is not None and raw == raw.strip():
        return EmailCheck("valid", raw)
    fixed = raw.strip().strip(";,").strip()
    if fixed.lower().startswith("mailto:"):
        fixed = fixed[7:]
    fixed = fixed.rstrip(".")
    normalised = _validate(fixed) if fixed else None
    if normalised is not None and fixed and ";" not in fixed and "," not in fixed:
        return EmailCheck("fixed", fixed, "blanks, mailto: or a trailing dot removed")
    return EmailCheck("invalid", raw, _why(raw.strip()) or "not an e-mail address")


# -------------------------------------------------------------------------------- phones
class PhoneCheck(NamedTuple):
    """The outcome for one phone value."""

    status: str          # e164 (already) | normalised | invalid | unparseable
    value: str           # E.164 when possible, else as written
    reason: str = ""


EXTENSION = re.compile(r"\s*(?:ext\.?|x|extension)\s*\d+\s*$", re.IGNORECASE)
"""A trailing extension (`x 12`, `ext. 12`): not part of the number itself."""


_AHEAD: dict[tuple[str, str | None], PhoneCheck] = {}
"""Phone checks computed ahead on another core for the chunk being written (see passes)."""


def check_phone(raw: str, region: str | None) -> PhoneCheck:
    """Normalise to E.164 with the record's (or the default) region."""
    found = _AHEAD.get((raw, region))
    return found if found is not None else _check_phone(raw, region)


def check_phones(items: list[tuple[str, str | None]]) -> list[PhoneCheck]:
    """``check_phone`` for many values (what a worker process runs)."""
    return [_check_phone(raw, region) for raw, region in items]


def phones_ahead(items: list[tuple[str, str | None]], checks: list[PhoneCheck]) -> None:
    """Answer ``check_phone`` for these values from ``checks`` (replacing earlier ones)."""
    _AHEAD.clear()
    _AHEAD.update(zip(items, checks, strict=True))


@lru_cache(maxsize=1 << 14)
def _check_phone(raw: str, region: str | None) -> PhoneCheck:
    text = raw.strip()
    fast = phonefast.check(text, region)
    if fast is not None:
        status, value, reason = fast
        return PhoneCheck(status, value or raw, reason)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            # A national number ("06 1234 5678") needs a country to be read; say which setting.
            why = ("national number without a country" if region is None
                   else f"national number and {region!r} is not a known country code")
            return PhoneCheck("unparseable", raw, f"{why}: set [emergency] default_region "
                              "(e.g. \"NL\") or the record's country")
        return PhoneCheck("unparseable", raw, str(exc.args[0] if exc.args else exc))
    if not phonenumbers.is_possible_number(number):
        where = phonenumbers.region_code_for_number(number) or region
        return PhoneCheck("invalid", raw, f"not a possible number for {where}")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if len(e164) > 16:   # E.164 allows at most 15 digits
        return PhoneCheck("invalid", raw, "more than 15 digits")
    if number.extension:
        e164 += f";ext={number.extension}"
    return PhoneCheck("e164" if text == e164 else "normalised", e164)


# --------------------------------------------------------------------------------- dates
class DateCheck(NamedTuple):
    """The outcome for one date value."""

    status: str          # iso | normalised | partial | ambiguous | unparseable
    value: str           # ISO 8601 (YYYY-MM-DD, YYYY-MM or YYYY) or as written
    reason: str = ""


def _ok(y: int, m: int, d: int) -> bool:
    if not (1 <= m <= 12 and 1 <= d <= 31 and 1000 <= y <= 2999):
        return False
    return d <= (29 if m == 2 else 30 if m in (4, 6, 9, 11) else 31)


def _year(text: str) -> int:
    y = int(text)
    if len(text) <= 2:   # two-digit years: the nearer century in the past
        y += 1900 if y > 30 else 2000
    return y


@lru_cache(maxsize=1 << 14)
def check_date(raw: str, region: str | None = None, *, keep_time: bool = False) -> DateCheck:
    """Read a date written any common way; ISO 8601 out, ambiguity reported."""
    text = raw.strip()
    if not text:
        return DateCheck("iso", "")
    m = _ISO_DT.fullmatch(text)
    if m:
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
        if not _ok(y, mo, d):
            return DateCheck("unparseable", raw, "no such date")
        if keep_time or m[4] is None:
            return DateCheck("iso", text) if text == raw else DateCheck("normalised", text)
        return DateCheck("normalised", f"{m[1]}-{m[2]}-{m[3]}")
    m = _NUMERIC.fullmatch(text)
    if m:
        return _numeric(raw, m, region)
    low = text.lower()
    m = _WORDY.fullmatch(low)
    if m and m[2] in _MONTHS:
        day = m[1] or m[3]
        y, mo = int(m[4]), _MONTHS[m[2]]
        if day is None:
            return DateCheck("partial", f"{y:04d}-{mo:02d}", "month and year only")
        if not _ok(y, mo, int(day)):
            return DateCheck("unparseable", raw, "no such date")
        return DateCheck("normalised", f"{y:04d}-{mo:02d}-{int(day):02d}")
    if _YEAR.fullmatch(text):
        return DateCheck("partial", text, "year only")
    if _YEAR_MONTH.fullmatch(text):
        return DateCheck("partial", text, "month and year only")
    return DateCheck("unparseable", raw, "not a date format vaultkeeper reads")


def _numeric(raw: str, m: re.Match[str], region: str | None) -> DateCheck:
    a, sep, b, c = m[1], m[2], m[3], m[4]
    if len(a) == 4:   # 2010/03/04: year first is never read day-first
        y, mo, d = int(a), int(b), int(c)
        if not _ok(y, mo, d):
            return DateCheck("unparseable", raw, "no such date")
        return DateCheck("normalised", f"{y:04d}-{mo:02d}-{d:02d}")
    y = _year(c)
    first, second = int(a), int(b)
    day_first = _ok(y, second, first)
    month_first = _ok(y, first, second)
    if not day_first and not month_first:
        return DateCheck("unparseable", raw, "no such date")
    prefer_month = (region in _MONTH_FIRST) and sep == "/"
    if sep == "." and day_first:   # 7.5.2012: dotted dates are day first everywhere
        month_first = False
    if day_first and month_first and first != second:
        d, mo = (second, first) if prefer_month else (first, second)
        order = "month first" if prefer_month else "day first"
        return DateCheck("ambiguous", f"{y:04d}-{mo:02d}-{d:02d}",
                         f"day and month could be swapped; read {order}"
                         + (" (two-digit year)" if len(c) <= 2 else ""))
    d, mo = (first, second) if day_first and not (prefer_month and month_first) else (second,
                                                                                       first)
    if len(c) <= 2:
        return DateCheck("ambiguous", f"{y:04d}-{mo:02d}-{d:02d}",
                         "two-digit year: century assumed")
    return DateCheck("normalised", f"{y:04d}-{mo:02d}-{d:02d}")


# ------------------------------------------------------------------------------- numbers
_MONEY = re.compile(r"^\s*([-+]?)\s*(?:€|EUR|\$|USD|£|GBP|CHF)?\s*([\d.,\s']+?)\s*"
                    r"(?:€|EUR|\$|USD|£|GBP|CHF|,-)?\s*$", re.IGNORECASE)


def check_number(raw: str) -> str:
    """A decimal number as ``1234.50``: decimal commas (``342,50``), thousands separators
    (``1.000,00``, ``1,000.00``, ``1 000``) and currency signs read; else the text as is."""
    m = _MONEY.match(raw)
    if not m:
        return raw
    sign, body = m.group(1), m.group(2).replace(" ", "").replace("'", "")
    last_dot, last_comma = body.rfind("."), body.rfind(",")
    sep = "," if last_comma > last_dot else "."
    whole, _, frac = body.rpartition(sep) if sep in body else (body, "", "")
    if sep in body and len(frac) == 3 and body.count(sep) >= 1 and \
            ((sep == "." and "," not in body) or (sep == "," and "." not in body)):
        whole, frac = body.replace(sep, ""), ""            # 1.000 or 1,000: thousands
    whole = whole.replace(".", "").replace(",", "")
    if (not whole.isdigit() and not (whole == "" and frac.isdigit())) or \
            (frac and not frac.isdigit()):
        return raw
    return f"{sign}{whole or '0'}" + (f".{frac}" if frac else "")
