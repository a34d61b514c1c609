"""Trustee key shares: the repository secret split into SLIP-39 mnemonic shares.

SLIP-39 splits a *master secret* of 16–32 bytes (even length). A repository password is any
string, so it is first turned into such bytes by one of five encodings, named by a short
**format line** (``VK1-…``) printed on every trustee sheet; it is not secret:

=========  ===========================================================================
VK1-HEX    the password is lowercase hex of 16–32 bytes: those bytes are split
VK1-B64URL the password is unpadded base64url of 16–32 bytes (``vaultkeeper init``'s
           generated key, ``secrets.token_urlsafe(32)``): those bytes are split
VK1-B64    the password is padded standard base64 of 16–32 bytes (``openssl rand -base64
           32``): those bytes are split
VK1-TEXT   any other password of at most 31 UTF-8 bytes: ``[length] + bytes + zeros`` to 32
           bytes (always 32, so the mnemonic's length does not reveal the password's)
VK1-SEALED any longer password: a random 32-byte key is split and the password is sealed
           under it with AES-256-GCM; the sealed blob is part of the format line
=========  ===========================================================================

The first four need nothing but the shares to recover (with vaultkeeper, or with the SLIP-39
reference tool plus ``xxd``/``base64`` — docs/escrow.md); SEALED needs the format line too,
which every sheet carries. docs/escrow.md discusses the trade-offs.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import shamir_mnemonic
from shamir_mnemonic import MnemonicError, Share
from shamir_mnemonic.wordlist import WORD_INDEX_MAP

from vaultkeeper.crypto import seal, unseal
from vaultkeeper.errors import ExitCode, UsageError, VaultkeeperError

FORMAT_PREFIX = "VK1-"
SEAL_AAD = b"vaultkeeper-escrow-v1"
MAX_SHARES = 16           # SLIP-39: four bits for the member index
MIN_WORDS = 20            # the shortest SLIP-39 mnemonic (16-byte secret)
KINDS = ("HEX", "B64URL", "B64", "TEXT", "SEALED")
_FORMAT_RE = re.compile(r"\bVK1-[A-Za-z0-9][A-Za-z0-9 -]*", re.IGNORECASE)
# Base32 has no 0, 1 or 8: read them as the letters a trustee most likely meant.
_BASE32_FIXES = str.maketrans({"0": "O", "1": "I", "8": "B"})


class ShareError(VaultkeeperError):
    """Shares that are invalid, from different sets, too few, or that do not combine."""

    exit_code = ExitCode.VERIFICATION


class NotEnoughShares(ShareError):
    """Fewer shares than the set's threshold."""


# ------------------------------------------------------------------------------ encodings
@dataclass(frozen=True)
class SecretFormat:
    """How the password became the split bytes (the sheet's non-secret format line)."""

    kind: str
    sealed: bytes = b""

    def line(self) -> str:
        """``VK1-B64URL`` or ``VK1-SEALED-ABCD-EFGH-…`` (base32, groups of four)."""
        if self.kind != "SEALED":
            return FORMAT_PREFIX + self.kind
        text = base64.b32encode(self.sealed).decode().rstrip("=")
        return FORMAT_PREFIX + "SEALED-" + "-".join(text[i:i + 4] for i in range(0, len(text), 4))

    @classmethod
    def parse(cls, line: str) -> SecretFormat:
        """Read a format line as typed from paper (case, spaces and hyphens forgiven)."""
        text = re.sub(r"\s+", "", line.strip()).upper()
        if not text.startswith(FORMAT_PREFIX):
            raise ShareError(f"{line.strip()[:40]!r} is not a format line",
                             "copy the line starting with VK1- from any trustee sheet")
        body = text[len(FORMAT_PREFIX):]
        if body in KINDS and body != "SEALED":
            return cls(body)
        if body.startswith("SEALED"):
            data = body[len("SEALED"):].replace("-", "").translate(_BASE32_FIXES)
            try:
                blob = base64.b32decode(data + "=" * (-len(data) % 8))
            except (binascii.Error, ValueError):
                raise ShareError("the SEALED format line has a character that is not in its "
                                 "alphabet (A–Z, 2–7)",
                                 "compare the line with the sheet character by character") \
                    from None
            if len(blob) < 12 + 16 + 1:
                raise ShareError("the SEALED format line is too short",
                                 "copy the whole line from the sheet, every group")
            return cls("SEALED", blob)
        raise ShareError(f"unknown format line {line.strip()[:40]!r}",
                         f"it is one of {', '.join(FORMAT_PREFIX + k for k in KINDS)}[-…]")


def _fits(raw: bytes) -> bool:
    return 16 <= len(raw) <= 32 and len(raw) % 2 == 0


def _codecs() -> list[tuple[str, Any, Any]]:
    def b64url_decode(text: str) -> bytes:
        if "=" in text:
            raise ValueError("padded")
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    return [
        ("HEX", bytes.fromhex, lambda raw: raw.hex()),
        ("B64URL", b64url_decode,
         lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")),
        ("B64", lambda text: base64.b64decode(text, validate=True),
         lambda raw: base64.b64encode(raw).decode()),
    ]


def encode_secret(password: str) -> tuple[bytes, SecretFormat]:
    """The bytes to split and the format that turns them back into ``password``."""
    if not password:
        raise UsageError("the repository password is empty", "configure a real password")
    for kind, decode, encode in _codecs():
        try:
            raw = decode(password)
        except (ValueError, binascii.Error):
            continue
        if _fits(raw) and encode(raw) == password:
            return raw, SecretFormat(kind)
    data = password.encode("utf-8")
    if len(data) <= 31:
        return bytes([len(data)]) + data + bytes(31 - len(data)), SecretFormat("TEXT")
    key = os.urandom(32)
    return key, SecretFormat("SEALED", seal(key, data, SEAL_AAD))


def decode_secret(master: bytes, fmt: SecretFormat) -> str:
    """The password from the combined bytes; raises ShareError when they do not fit."""
    bad = ShareError(f"the shares combine, but not into a secret of format {fmt.line()[:17]}",
                     "check the format line against a sheet of the same set")
    if fmt.kind == "SEALED":
        plain = unseal(master, fmt.sealed, SEAL_AAD) if len(master) == 32 else None
        if plain is None:
            raise ShareError("the sealed password does not open with these shares",
                             "check the VK1-SEALED line character by character against a sheet "
                             "of the same set (same set id)")
        return plain.decode("utf-8")
    if fmt.kind == "TEXT":
        size = master[0] if master else 0
        if len(master) != 32 or not 1 <= size <= 31 or any(master[1 + size:]):
            raise bad
        try:
            return master[1:1 + size].decode("utf-8")
        except UnicodeDecodeError:
            raise bad from None
    codec = {name: encode for name, _, encode in _codecs()}[fmt.kind]
    return str(codec(master))


# ------------------------------------------------------------------------------- shares
@dataclass(frozen=True)
class ShareInfo:
    """What a share says about itself (never the secret)."""

    number: int          # 1-based member index: "share k"
    threshold: int
    set_id: str          # the SLIP-39 identifier, 4 hex digits
    prefix: str          # the first two words: every share of a set starts with them
    words: int
    extendable: bool

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return dict(self.__dict__)


@dataclass
class SplitResult:
    """A fresh set of shares (secret material: the mnemonics)."""

    threshold: int
    shares: int
    set_id: str
    prefix: str
    fmt: SecretFormat
    mnemonics: list[str] = field(repr=False)


def validate_scheme(threshold: int, shares: int) -> None:
    """SLIP-39's limits, as usage errors."""
    if not 1 <= shares <= MAX_SHARES:
        raise UsageError(f"--shares must be between 1 and {MAX_SHARES} (SLIP-39), not {shares}")
    if not 1 <= threshold <= shares:
        raise UsageError(f"--threshold must be between 1 and --shares ({shares}), "
                         f"not {threshold}")
    if threshold == 1 and shares > 1:
        raise UsageError("a threshold of 1 with several shares would make every share a full "
                         "copy of the key; SLIP-39 refuses it",
                         "use --threshold 2 or more, or --threshold 1 --shares 1")


def split_secret(password: str, threshold: int, shares: int) -> SplitResult:
    """Split the password into ``shares`` mnemonics, any ``threshold`` of which recover it.

    The result is checked before it is returned: the first and the last ``threshold`` shares
    both combine back into the password.
    """
    validate_scheme(threshold, shares)
    master, fmt = encode_secret(password)
    groups = shamir_mnemonic.generate_mnemonics(1, [(threshold, shares)], master)
    mnemonics = groups[0]
    info = share_info(mnemonics[0])
    for subset in (mnemonics[:threshold], mnemonics[-threshold:]):
        if combine_shares(subset, fmt) != password:
            raise VaultkeeperError("the new shares do not combine back into the secret",
                                   "this is a bug; report it (no shares were written)")
    return SplitResult(threshold, shares, info.set_id, info.prefix, fmt, mnemonics)


def _words(mnemonic: str) -> list[str]:
    return mnemonic.lower().split()


def share_info(mnemonic: str, *, label: str = "the share") -> ShareInfo:
    """Validate one mnemonic (words, length, checksum) and read its header."""
    words = _words(mnemonic)
    for position, word in enumerate(words, 1):
        if word not in WORD_INDEX_MAP:
            raise ShareError(f"{label}: word {position} {word!r} is not a share word",
                             "compare that word with the sheet (every word is from the SLIP-39 "
                             "list of 1024 words)")
    if len(words) < MIN_WORDS:
        raise ShareError(f"{label} has {len(words)} words; a share has at least {MIN_WORDS} "
                         "(33 for vaultkeeper's)", "copy every word from the sheet")
    try:
        share = Share.from_mnemonic(" ".join(words))
    except MnemonicError as exc:
        text = str(exc)
        if "checksum" in text:
            raise ShareError(f"{label} (starting {' '.join(words[:3])!r}…) does not pass its "
                             "checksum: a word is wrong, missing or out of order",
                             "compare every word with the sheet, in order") from None
        if "length" in text:
            raise ShareError(f"{label} has {len(words)} words, which no share has: a word is "
                             "missing or one too many", "copy every word from the sheet") \
                from None
        raise ShareError(f"{label} is not a valid share: {text.rstrip('.')}",
                         "copy every word from the sheet") from None
    if share.group_count != 1 or share.group_threshold != 1:
        raise ShareError(f"{label} belongs to a multi-group SLIP-39 set, which vaultkeeper does "
                         "not make", "use shares made by `vaultkeeper escrow keys split`")
    return ShareInfo(number=share.index + 1, threshold=share.member_threshold,
                     set_id=f"{share.identifier:04x}", prefix=" ".join(words[:2]),
                     words=len(words), extendable=share.extendable)


def _decode_all(mnemonics: Sequence[str]) -> list[ShareInfo]:
    infos = [share_info(m, label=f"share {i} of the input") for i, m in enumerate(mnemonics, 1)]
    sets: dict[str, list[int]] = {}
    for position, info in enumerate(infos, 1):
        sets.setdefault(info.set_id, []).append(position)
    if len(sets) > 1:
        detail = "; ".join(f"set {sid} (input {', '.join(map(str, pos))})"
                           for sid, pos in sets.items())
        raise ShareError(f"the shares come from different sets: {detail}",
                         "use shares of one set only: every sheet names its set id, and a new "
                         "split replaces the old set")
    thresholds = {info.threshold for info in infos}
    if len(thresholds) > 1:
        raise ShareError("the shares disagree about the threshold: they were tampered with or "
                         "mistyped", "compare every word with the sheets")
    seen: dict[int, int] = {}
    for position, info in enumerate(infos, 1):
        if info.number in seen:
            raise ShareError(f"share number {info.number} was given twice (input "
                             f"{seen[info.number]} and {position})",
                             "each trustee's share counts once: add a different trustee's")
        seen[info.number] = position
    return infos


def combine_shares(mnemonics: Sequence[str], fmt: SecretFormat | None) -> str:
    """The password from ``threshold`` or more shares of one set.

    Extra shares are not ignored: each is combined with the others too, so a mistyped or forged
    extra share is named instead of silently skipped.
    """
    if not mnemonics:
        raise NotEnoughShares("no shares were given",
                              "give one share per line (or the trustees' sheet files)")
    infos = _decode_all(mnemonics)
    need = infos[0].threshold
    if len(mnemonics) < need:
        more = need - len(mnemonics)
        raise NotEnoughShares(
            f"{len(mnemonics)} share{'s' if len(mnemonics) != 1 else ''} given but set "
            f"{infos[0].set_id} needs {need}: {more} more share{'s' if more != 1 else ''} "
            "needed", f"ask {more} more trustee{'s' if more != 1 else ''} for their sheet")
    try:
        master = shamir_mnemonic.combine_mnemonics(list(mnemonics[:need]))
    except MnemonicError as exc:
        raise ShareError(f"the shares do not combine: {str(exc).rstrip('.')}",
                         "compare every word with the sheets; all must be from one set") \
            from None
    for extra in range(need, len(mnemonics)):
        subset = [*mnemonics[:need - 1], mnemonics[extra]]
        try:
            agrees = shamir_mnemonic.combine_mnemonics(subset) == master
        except MnemonicError:
            agrees = False
        if not agrees:
            raise ShareError(f"share {extra + 1} of the input (share number "
                             f"{infos[extra].number}) does not agree with the others",
                             "leave it out, or compare its words with the sheet")
    if fmt is None:
        raise ShareError("the shares combine, but the format line is missing",
                         "add the line starting with VK1- from any sheet of this set")
    return decode_secret(master, fmt)


@dataclass
class ParsedInput:
    """Shares and format lines found in text (stdin, sheet files, plain lists)."""

    mnemonics: list[str] = field(default_factory=list, repr=False)
    formats: list[SecretFormat] = field(default_factory=list)

    def fmt(self) -> SecretFormat | None:
        """The one format (all lines must agree)."""
        distinct = {f.line() for f in self.formats}
        if len(distinct) > 1:
            raise ShareError("the input has different format lines (shares of different sets?)",
                             "give the format line of one set only")
        return self.formats[0] if self.formats else None


def parse_input(texts: Iterable[str]) -> ParsedInput:
    """Find shares (lines of 20+ share words, optionally after ``SHARE:``) and format lines.

    A sheet file works as it is: its numbered word grid is ignored, its ``SHARE:`` and
    ``FORMAT:`` lines are read.
    """
    found = ParsedInput()
    for text in texts:
        lines = [raw.strip() for raw in text.splitlines()]
        labelled = any(re.match(r"share\s*:", line, re.IGNORECASE) for line in lines)
        for line in lines:
            if not line or line.startswith("#"):
                continue
            match = _FORMAT_RE.search(line)
            if match:
                found.formats.append(SecretFormat.parse(match.group(0)))
                continue
            label = re.match(r"(share|mnemonic)\s*:\s*", line, re.IGNORECASE)
            if labelled and not label:
                continue  # a sheet: only its SHARE: line holds the share
            words = line[label.end() if label else 0:].split()
            if len(words) >= MIN_WORDS - 3 and all(re.fullmatch(r"[A-Za-z]+", w) for w in words):
                found.mnemonics.append(" ".join(w.lower() for w in words))
    return found
