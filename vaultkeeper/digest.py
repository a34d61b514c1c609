"""Canonical JSON and order-independent content digests shared by export, drill and diff."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

_MOD = 1 << 256


def canonical_json(record: Any) -> bytes:
    """The canonical bytes of a JSON value: sorted keys, no whitespace, UTF-8."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


class ContentDigest:
    """Order-independent digest: the sum modulo 2**256 of each record's SHA-256.

    A sum (not XOR) so that a duplicated record changes the digest instead of cancelling out.
    """

    __slots__ = ("_total", "count")

    def __init__(self) -> None:
        self.count = 0
        self._total = 0

    def add_canonical(self, line: bytes) -> None:
        """Add one record given as its canonical JSON bytes (without newline)."""
        self.add_sha256(hashlib.sha256(line).digest())

    def add_sha256(self, record_sha256: bytes) -> None:
        """Add one record given as the SHA-256 of its canonical JSON (when the caller needs the
        per-record hash too, e.g. diff)."""
        self._total = (self._total + int.from_bytes(record_sha256, "big")) % _MOD
        self.count += 1

    def add(self, record: Any) -> None:
        """Add one record given as a JSON value."""
        self.add_canonical(canonical_json(record))

    def hexdigest(self) -> str:
        """The digest as 64 hex characters."""
        return f"{self._total:064x}"
