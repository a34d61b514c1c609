"""SLIP-39 trustee shares: every M-of-N recovers, M-1 and wrong or mixed shares are refused
clearly, and every password encoding round-trips."""

from __future__ import annotations

import base64
import itertools
import secrets
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shamir_mnemonic import Share
from vk_backup import FAKE_SECRET

from vaultkeeper.errors import ExitCode, UsageError
from vaultkeeper.services.escrow.shares import (
    NotEnoughShares,
    SecretFormat,
    ShareError,
    combine_shares,
    encode_secret,
    parse_input,
    share_info,
    split_secret,
)


@pytest.mark.parametrize(("m", "n"), [(2, 3), (3, 5), (1, 1), (5, 5)])
def test_any_m_of_n_recovers_and_m_minus_1_is_refused(m, n):
    split = split_secret(FAKE_SECRET, m, n)
    assert len(split.mnemonics) == n and len(set(split.mnemonics)) == n
    infos = [share_info(s) for s in split.mnemonics]
    assert sorted(i.number for i in infos) == list(range(1, n + 1))
    assert {i.threshold for i in infos} == {m} and {i.set_id for i in infos} == {split.set_id}
    assert all(s.startswith(split.prefix + " ") for s in split.mnemonics)
    for subset in itertools.combinations(split.mnemonics, m):
        assert combine_shares(list(subset), split.fmt) == FAKE_SECRET
    # More than M shares also work (and every extra one is cross-checked).
    assert combine_shares(split.mnemonics[::-1], split.fmt) == FAKE_SECRET
    if m > 1:
        with pytest.raises(NotEnoughShares) as info:
            combine_shares(split.mnemonics[:m - 1], split.fmt)
        text = info.value.one_line()
        assert f"needs {m}: 1 more share needed" in text and FAKE_SECRET not in text
        assert info.value.exit_code == ExitCode.VERIFICATION


def test_scheme_limits_are_usage_errors():
    for m, n in [(3, 2), (0, 3), (2, 17), (1, 3)]:
        with pytest.raises(UsageError):
            split_secret(FAKE_SECRET, m, n)


def test_wrong_word_unknown_word_and_missing_word_are_named():
    split = split_secret(FAKE_SECRET, 2, 3)
    words = split.mnemonics[0].split()
    swapped = words[:]
    swapped[5], swapped[6] = swapped[6], swapped[5]
    with pytest.raises(ShareError, match="checksum: a word is wrong, missing or out of order"):
        combine_shares([" ".join(swapped), split.mnemonics[1]], split.fmt)
    typo = words[:]
    typo[10] = "banana"
    with pytest.raises(ShareError, match=r"share 1 of the input: word 11 'banana' is not a"):
        combine_shares([" ".join(typo), split.mnemonics[1]], split.fmt)
    with pytest.raises(ShareError, match="32 words, which no share has: a word is missing"):
        combine_shares([" ".join(words[:-1]), split.mnemonics[1]], split.fmt)
    with pytest.raises(ShareError, match="has 12 words"):
        share_info(" ".join(words[:12]))


def test_mixed_sets_and_duplicates_are_rejected():
    one = split_secret(FAKE_SECRET, 2, 3)
    two = split_secret(FAKE_SECRET, 2, 3)
    with pytest.raises(ShareError) as info:
        combine_shares([one.mnemonics[0], two.mnemonics[1]], one.fmt)
    text = info.value.one_line()
    assert "different sets" in text and one.set_id in text and two.set_id in text
    with pytest.raises(ShareError, match="share number 1 was given twice"):
        combine_shares([one.mnemonics[0], one.mnemonics[0]], one.fmt)


def _forged(mnemonic: str) -> str:
    """Same set, valid checksum, different share value: a tampered or invented share."""
    share = Share.from_mnemonic(mnemonic)
    value = bytes([share.value[0] ^ 0x5A]) + share.value[1:]
    return replace(share, value=value).mnemonic()


def test_forged_shares_do_not_pass_silently():
    split = split_secret(FAKE_SECRET, 2, 3)
    forged = _forged(split.mnemonics[2])
    assert share_info(forged).set_id == split.set_id  # it looks like a share of the set
    with pytest.raises(ShareError, match="do not combine"):
        combine_shares([split.mnemonics[0], forged], split.fmt)
    with pytest.raises(ShareError, match=r"share 3 of the input .* does not agree"):
        combine_shares([split.mnemonics[0], split.mnemonics[1], forged], split.fmt)


# Fixed ids: the random keys differ in every process, and pytest-xdist's workers must collect
# the same test names (the keys stay random on each run).
@pytest.mark.parametrize(("password", "kind"), [
    (secrets.token_urlsafe(32), "B64URL"),          # vaultkeeper init's generated key
    (base64.b64encode(secrets.token_bytes(32)).decode(), "B64"),  # openssl rand -base64 32
    (secrets.token_hex(16), "HEX"),
    (secrets.token_hex(32), "HEX"),
    (FAKE_SECRET, "TEXT"),
    ("é" * 15 + "x", "TEXT"),                        # 31 UTF-8 bytes
    ("x!" * 16, "SEALED"),
    ("correct horse battery staple " * 8, "SEALED"),
], ids=["token_urlsafe-B64URL", "base64-B64", "hex16-HEX", "hex32-HEX", "fake-secret-TEXT",
        "utf8-31-bytes-TEXT", "32-chars-SEALED", "long-phrase-SEALED"])
def test_encodings_round_trip(password, kind):
    _, fmt = encode_secret(password)
    assert fmt.kind == kind
    split = split_secret(password, 2, 3)
    assert split.fmt.kind == kind
    # The format line survives being typed from paper: lower case, spaces, 0/1 for O/I.
    typed = split.fmt.line().lower().replace("-", " - ").replace("o", "0").replace("i", "1")
    assert combine_shares(split.mnemonics[1:], SecretFormat.parse(typed)) == password
    if kind != "SEALED":
        assert len(split.fmt.line()) <= len("VK1-B64URL")
    else:
        assert password.encode() not in split.fmt.sealed


def test_text_secrets_do_not_leak_their_length():
    short, long_ = split_secret("ab", 2, 2), split_secret("a" * 31, 2, 2)
    assert len(short.mnemonics[0].split()) == len(long_.mnemonics[0].split()) == 33


def test_wrong_or_missing_format_line():
    split = split_secret("y!" * 20, 2, 3)
    line = split.fmt.line()
    # The first base32 character of the blob: all five of its bits are data (the last one's low
    # bits can be padding, so altering it may leave the sealed bytes unchanged).
    at = line.index("SEALED-") + len("SEALED-")
    altered = line[:at] + ("A" if line[at] != "A" else "B") + line[at + 1:]
    with pytest.raises(ShareError, match="sealed password does not open"):
        combine_shares(split.mnemonics[:2], SecretFormat.parse(altered))
    with pytest.raises(ShareError, match="format line is missing"):
        combine_shares(split.mnemonics[:2], None)
    random_key = split_secret(secrets.token_urlsafe(32), 2, 3)
    with pytest.raises(ShareError, match="not into a secret of format VK1-TEXT"):
        combine_shares(random_key.mnemonics[:2], SecretFormat.parse("VK1-TEXT"))
    with pytest.raises(ShareError, match="unknown format line"):
        SecretFormat.parse("VK1-ROT13")


def test_parse_input_reads_sheets_and_plain_lines():
    split = split_secret(FAKE_SECRET, 2, 3)
    sheet = ("Organisation : x\n 1. word   12. other\nSHARE: " + split.mnemonics[0].upper()
             + "\nFORMAT: " + split.fmt.line() + "\n"
             + "these are many plain words on one line that happen to be only letters and "
               "go on and on and on\n")
    plain = "\n# comment\n" + split.mnemonics[1] + "\n\n"
    found = parse_input([sheet, plain])
    assert found.mnemonics == split.mnemonics[:2]
    assert found.fmt() == split.fmt
    assert combine_shares(found.mnemonics, found.fmt()) == FAKE_SECRET


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=80).map(str.strip).filter(bool))
def test_any_password_round_trips(password):
    split = split_secret(password, 2, 3)
    assert combine_shares([split.mnemonics[2], split.mnemonics[0]], split.fmt) == password


def test_sheet_never_breaks_a_share_word_across_lines(tmp_path):
    """Printed in a real browser, each word of the share line stays whole on one line (a word
    split in two gets copied wrong by a trustee); the long format line may still wrap."""
    from datetime import date

    from vk_browser import probe

    from vaultkeeper.services.escrow.shares import split_secret
    from vaultkeeper.services.escrow.sheets import Sheet, render_html

    split = split_secret("correct horse battery staple, but longer than 32 bytes!", 2, 3)
    sheet = Sheet("Vereniging Voorbeeld", date(2026, 12, 1), 1, 3, 2, split.set_id,
                  split.prefix, split.mnemonics[0], split.fmt.line())
    page = render_html(sheet)
    for width in (420, 640):
        words = probe(page, tmp_path, "[...document.querySelectorAll('.line .w')]"
                      ".map(w => [w.textContent, w.getClientRects().length])", width=width)
        assert len(words) == len(split.mnemonics[0].split()) >= 20
        broken = [w for w, boxes in words if boxes != 1]
        assert broken == [], (width, broken)
