"""A fast path for the phone numbers member registers are full of, giving exactly what
``phonenumbers.parse`` + ``is_possible_number`` + E.164 formatting give.

``phonenumbers`` spends most of a parse on steps written for any text a person may type
(finding the number in the text, extension words in many languages, Unicode digits, letters
for digits) and recompiles its metadata's patterns on every call: about 70 µs a number, a
sixth of a 1M-contact package build. Most numbers are ASCII digits with spaces, brackets,
dots and dashes, an optional leading ``+`` and an optional `` ext. 12``. For those, the steps
that matter are those of ``phonenumbers.phonenumberutil.parse`` from the country code on, and
this module does them on the digits with the library's own metadata (country codes, the
international and national prefixes, the general number pattern, the possible lengths):

- a leading ``+`` or the region's international prefix (not followed by ``0``): the country
  code is the first 1–3 digits that are one;
- else, digits that start with the region's own country code lose it when the rest matches
  the region's number pattern and the whole does not, or the whole is too long;
- the national prefix goes when the rest is still a possible length and the pattern does not
  reject what the prefix leaves.

Anything else answers ``None`` and the caller asks ``phonenumbers`` itself: other characters,
fewer than 3 digits, regions whose national prefix rewrites digits or captures a carrier code,
non-geographic country codes, numbers not possible under a country code that several regions
share (the library looks for the region to name). ``tests/emergency/test_phonefast.py``
compares the two on every region's numbers in every shape a register holds, so a change of
the library that this module does not follow fails there.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, SUPPORTED_REGIONS, PhoneMetadata

_TEXT = re.compile(r"(\+?)([0-9 ().\-]*[0-9])(?: ext\. ([0-9]{1,7}))?", re.ASCII)
_PUNCT = str.maketrans("", "", " ().-")
_MIN_NSN, _MAX_NSN = 2, 17
_TOO_SHORT, _POSSIBLE, _LOCAL_ONLY, _TOO_LONG, _INVALID_LENGTH = range(5)


class _Region(NamedTuple):
    """What the fast path needs of one region's metadata."""

    country_code: int
    idd: re.Pattern[str] | None
    national_prefix: re.Pattern[str] | None
    general: re.Pattern[str] | None
    lengths: tuple[int, ...]
    local_lengths: frozenset[int]


@functools.cache
def _region(code: str | None) -> _Region | None:
    """The region's metadata, or None when the fast path must not answer for it."""
    region = None
    meta = PhoneMetadata.metadata_for_region(code, None) if code in SUPPORTED_REGIONS else None
    if meta is not None and not meta.national_prefix_transform_rule:
        np_text = meta.national_prefix_for_parsing or ""
        np_re = re.compile(np_text) if np_text else None
        general = meta.general_desc
        if (np_re is None or np_re.groups == 0) and general is not None and \
                general.possible_length and meta.country_code is not None:
            pattern = general.national_number_pattern
            region = _Region(meta.country_code,
                             re.compile(meta.international_prefix)
                             if meta.international_prefix else None,
                             np_re, re.compile(pattern) if pattern else None,
                             tuple(general.possible_length),
                             frozenset(general.possible_length_local_only or ()))
    return region


def _main(country_code: int) -> _Region | None:
    """The metadata of a country code's main region (what the library checks lengths on)."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if not regions or regions[0] == "001":
        return None
    return _region(regions[0])


def _matches(r: _Region, digits: str) -> bool:
    return r.general is not None and r.general.fullmatch(digits) is not None


def _length(r: _Region, digits: str) -> int:
    n = len(digits)
    if n in r.local_lengths:
        return _LOCAL_ONLY
    lengths = r.lengths
    if n == lengths[0]:
        return _POSSIBLE
    if n < lengths[0]:
        return _TOO_SHORT
    if n > lengths[-1]:
        return _TOO_LONG
    return _POSSIBLE if n in lengths[1:] else _INVALID_LENGTH


def _strip_national_prefix(r: _Region, digits: str) -> str:
    if not digits or r.national_prefix is None:
        return digits
    found = r.national_prefix.match(digits)
    if found is None:
        return digits
    rest = digits[found.end():]
    if _matches(r, digits) and not _matches(r, rest):
        return digits
    return rest


def _country_code(digits: str) -> tuple[int, str] | None:
    """After a ``+`` or an international prefix: the country code and the rest."""
    if len(digits) <= _MIN_NSN or digits[0] == "0":
        return None
    for n in (1, 2, 3):
        code = int(digits[:n])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            return code, digits[n:]
    return None


def _international(digits: str) -> tuple[int, _Region, str] | None:
    """A number after its ``+`` or international prefix: country code, the metadata of the
    code's main region, national part."""
    got = _country_code(digits)
    main = _main(got[0]) if got is not None else None
    return None if got is None or main is None else (got[0], main, got[1])


def _national(digits: str, r: _Region) -> tuple[int, _Region, str] | None:
    """A number without ``+`` read in region ``r``: country code, metadata, national part."""
    if r.idd is not None:
        found = r.idd.match(digits)
        if found is not None and digits[found.end():found.end() + 1] != "0":
            return _international(digits[found.end():])
    own = str(r.country_code)
    if digits.startswith(own):
        rest = _strip_national_prefix(r, digits[len(own):])
        if (not _matches(r, digits) and _matches(r, rest)) or _length(r, digits) == _TOO_LONG:
            main = _main(r.country_code)
            return None if main is None else (r.country_code, main, rest)
    return r.country_code, r, digits


def check(text: str, region: str | None) -> tuple[str, str, str] | None:
    """``(status, value, reason)`` as ``clean.check_phone`` gives them for a number in one of
    the common shapes (``value`` empty: the number as written), else None (ask
    ``phonenumbers``). Statuses: ``e164`` (written so already), ``normalised``, ``invalid``."""
    shape = _TEXT.fullmatch(text) if len(text) <= 64 else None
    if shape is None:
        return None
    plus, body, extension = shape.groups()
    digits = body.translate(_PUNCT)
    if len(digits) < 3:
        return None
    if plus:
        read = _international(digits)
    else:
        here = _region(region)
        read = _national(digits, here) if here is not None else None
    if read is None:
        return None
    code, meta, national = read
    if len(national) < _MIN_NSN:
        return None
    shorter = _strip_national_prefix(meta, national)
    if _length(meta, shorter) not in (_TOO_SHORT, _LOCAL_ONLY, _INVALID_LENGTH):
        national = shorter
    main = _main(code)
    # (a national number keeps its leading zeros: the library's "Italian leading zeros")
    if main is None or not _MIN_NSN <= len(national) <= _MAX_NSN:
        return None
    if _length(main, national) not in (_POSSIBLE, _LOCAL_ONLY):
        regions = COUNTRY_CODE_TO_REGION_CODE[code]
        # (where several regions share the code, the library looks for one the number is
        # valid in: left to it)
        return ("invalid", "", f"not a possible number for {regions[0]}") \
            if len(regions) == 1 else None
    out = f"+{code}{national}"
    if len(out) > 16:   # E.164 allows at most 15 digits
        return "invalid", "", "more than 15 digits"
    if extension:
        return "normalised", f"{out};ext={extension}", ""
    return "e164" if out == text else "normalised", out, ""


def enable_library_cache() -> None:
    """Let ``phonenumbers`` keep its compiled patterns (it recompiles them per call by
    default): the numbers the fast path leaves to it parse faster too."""
    phonenumbers.re_util.enable_pattern_cache()
