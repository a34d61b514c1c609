"""``[source] files``: which attachments an export downloads (sizes, name patterns, a per-run cap).

``files = {}`` turns files on with no limits; ``files = { max_size = "25 MB", include =
["*.pdf", "*.jpg"], max_total = "5 GB" }`` narrows them. What a limit leaves out is listed in
the manifest and the run report as skipped, never dropped silently.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any

from vaultkeeper.tomlcheck import Bad, Origin

_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_KEYS = ("max_size", "include", "max_total")


def parse_size(value: Any) -> int:
    """Bytes from ``25 MB``, ``1.5GiB``, ``700`` or an integer; ValueError when it is none."""
    if isinstance(value, bool):
        raise ValueError("a size, not a boolean")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return value
    found = _SIZE.match(str(value))
    unit = found.group(2).lower() if found else ""
    if not found or unit not in _UNITS:
        raise ValueError(f"{value!r} is not a size")
    return int(float(found.group(1)) * _UNITS[unit])


def format_size(size: int) -> str:
    """``12.3 MB`` (decimal units, as the limits are usually written)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


@dataclass(frozen=True)
class FileLimits:
    """What to download: every file (the default) or those under the limits."""

    max_size: int | None = None
    """Files larger than this (bytes) are skipped."""
    include: tuple[str, ...] = ()
    """Name patterns (``*.pdf``; case-insensitive); empty: every name."""
    max_total: int | None = None
    """Bytes per run: files that would pass it are skipped."""

    def refuse(self, name: str, size: int | None, total: int) -> str | None:
        """Why a file is skipped (None: download it); ``total``: bytes taken so far."""
        if self.include and not any(fnmatch.fnmatch(name.lower(), p.lower())
                                    for p in self.include):
            return f"name matches none of include = {list(self.include)}"
        if self.max_size is not None and size is not None and size > self.max_size:
            return f"{format_size(size)} is over max_size = {format_size(self.max_size)}"
        if self.max_total is not None and size is not None and total + size > self.max_total:
            return f"the run reached max_total = {format_size(self.max_total)}"
        return None

    def as_json(self) -> dict[str, Any]:
        """The limits as the manifest records them."""
        return {"max_size": self.max_size, "include": list(self.include),
                "max_total": self.max_total}


def as_files(value: Any, origin: Origin) -> FileLimits:
    """``[source] files``: a table with max_size, include and max_total (all optional)."""
    if isinstance(value, FileLimits):
        return value
    if isinstance(value, str) and origin.from_text and value.strip().lower() in ("on", "true"):
        return FileLimits()
    if not isinstance(value, dict):
        raise Bad("must be a table such as { max_size = \"25 MB\", include = [\"*.pdf\"] }",
                  fix='files = { max_size = "25 MB" }   (or files = {} for every file)')
    unknown = sorted(set(value) - set(_KEYS))
    if unknown:
        raise Bad(f"unknown key(s) {', '.join(unknown)}", fix=f"use {', '.join(_KEYS)}")
    sizes: dict[str, int | None] = {}
    for key in ("max_size", "max_total"):
        try:
            sizes[key] = parse_size(value[key]) if key in value else None
        except ValueError as exc:
            raise Bad(f"{key}: {exc}", fix=f'{key} = "25 MB"') from None
    include = value.get("include", [])
    if not isinstance(include, list) or not all(isinstance(p, str) and p for p in include):
        raise Bad("include must be an array of name patterns", fix='include = ["*.pdf"]')
    return FileLimits(sizes["max_size"], tuple(include), sizes["max_total"])
