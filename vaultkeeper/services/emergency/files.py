"""Private CSV and text files for the package: created 0600, UTF-8, rows counted."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

from vaultkeeper import privatefs

BUFFER = 1 << 20


def make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and any missing parents 0700 (``mkdir(parents=True)`` would not)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for item in reversed(missing):
        item.mkdir(mode=0o700, exist_ok=True)


def open_private(path: Path, mode: str = "w") -> IO[str]:
    """A new text file readable by the owner only (its folder is created 0700)."""
    make_private_dirs(path.parent)
    return privatefs.open_private(path, "w", newline="", buffering=BUFFER)


def write_text(path: Path, text: str) -> None:
    """Write a whole private text file."""
    with open_private(path) as handle:
        handle.write(text)


def write_bytes(path: Path, data: bytes) -> None:
    """Write a whole private binary file."""
    make_private_dirs(path.parent)
    with privatefs.open_private(path) as handle:
        handle.write(data)


class CsvOut:
    """A CSV file with a fixed header, opened on the first row (or at close, header only)."""

    def __init__(self, path: Path, header: Sequence[str], *, always: bool = True) -> None:
        self.path = path
        self.header = list(header)
        self.rows = 0
        self.always = always
        self._handle: IO[str] | None = None
        self._writer: Any = None

    def _open(self) -> Any:
        self._handle = open_private(self.path)
        self._writer = csv.writer(self._handle, lineterminator="\r\n")
        if not self.part:
            self._writer.writerow(self.header)
        return self._writer

    part = False
    """Rows go to a part file without a header (a worker's share, see ``divert``)."""

    def flush(self) -> None:
        """Hand buffered rows to the file (before a fork: a child must inherit no buffer)."""
        if self._handle is not None:
            self._handle.flush()

    def divert(self, part: Path) -> Any:
        """In a worker: from now on rows go to ``part``, headerless, counted from 0 (see
        ``absorb``). Returns the inherited handle, which the worker must neither flush nor
        close (the parent owns it)."""
        inherited = self._handle
        self.path, self.rows, self.always, self.part = part, 0, False, True
        self._handle = self._writer = None
        return inherited

    def absorb(self, part: Path, rows: int) -> None:
        """Append a worker's part file (``rows`` rows, no header) after this file's rows."""
        if not rows:
            return
        self._writer or self._open()
        handle: Any = self._handle
        handle.flush()
        with part.open("rb") as source:
            _append(source, handle.buffer)
        self.rows += rows

    def write(self, row: dict[str, str]) -> None:
        """Append one row (missing columns are empty, unknown ones ignored)."""
        self.write_values(list(map(row.get, self.header, repeat(""))))

    def write_values(self, values: Iterable[str]) -> None:
        """Append one row given as the header's values, in order.

        A row of plain text fields — none holding a comma, a quote or a line break — is
        joined here (what the csv module writes for it, without its per-character work);
        any other row goes through the csv module.
        """
        writer = self._writer or self._open()
        cells = values if type(values) is list else list(values)
        try:
            line = ",".join(cells)
        except TypeError:   # a value that is not text: the csv module converts it
            line = ""
        if line and line.count(",") == len(cells) - 1 and '"' not in line \
                and "\n" not in line and "\r" not in line:
            self._handle.write(line + "\r\n")   # type: ignore[union-attr]
        else:
            writer.writerow(cells)
        self.rows += 1

    def close(self) -> bool:
        """Close; returns whether the file exists (a header-only file when ``always``)."""
        if self._writer is None and self.always:
            self._open()
        if self._handle is not None:
            self._handle.close()
            self._handle = None
            return True
        return False


def _append(source: IO[bytes], target: IO[bytes]) -> None:
    """Append ``source`` (read from its start) at ``target``'s file position, both flushed:
    copied by the kernel where it can (no copy through Python, no GIL held), else in
    buffered reads and writes."""
    copied = 0
    try:
        while n := os.copy_file_range(source.fileno(), target.fileno(), 1 << 30):
            copied += n
    except OSError:   # another file system, or a kernel without copy_file_range
        source.seek(copied)
        target.seek(0, os.SEEK_END)
        shutil.copyfileobj(source, target, BUFFER)


def _unlearnt(row: dict[Any, str]) -> Sequence[str]:
    raise KeyError("the first row is read step by step")


class RowCells:
    """A row's values under fixed ``keys``, ``""`` for the keys it lacks: what
    ``list(map(row.get, keys, repeat("")))`` gives, at C speed for the common run of rows that
    lack the same keys (a record export's rows share their keys).

    It remembers which keys the last row lacked; a row that has all the others and none of
    those is read by one ``itemgetter`` (a KeyError or a lacked key present sends it the
    step-by-step way, which learns that row's keys instead).
    """

    __slots__ = ("_absent", "_at", "_get", "keys")

    def __init__(self, keys: Sequence[Any]) -> None:
        self.keys = list(keys)
        self._absent: tuple[Any, ...] = ()
        self._at: list[int] = []
        self._get: Callable[[dict[Any, str]], Sequence[str]] = _unlearnt

    def _learn(self, absent: Sequence[Any], row: dict[Any, str]) -> None:
        gone = set(absent)
        self._absent = tuple(gone)
        # The row's own (equal) key objects: a JSON reader (orjson) hands every record the same
        # ones, then found by identity instead of by comparing text.
        own = {k: k for k in row}
        self.keys = [own.get(k, k) for k in self.keys]
        present = [k for k in self.keys if k not in gone]
        self._at = [i for i, k in enumerate(self.keys) if k in gone]
        # (itemgetter of one key returns the value itself, not a 1-tuple)
        self._get = (
            itemgetter(*present) if len(present) >= 2 else
            (lambda row: (row[present[0]],)) if present else (lambda row: ()))

    def __call__(self, row: dict[Any, str]) -> list[str]:
        """The values of ``row`` under ``keys``, in order."""
        absent = self._absent
        if not (absent and any(map(row.__contains__, absent))):
            try:
                values: list[str] = list(self._get(row))
            except KeyError:
                pass
            else:
                for i in self._at:   # ascending: each lands at its final place
                    values.insert(i, "")
                return values
        values = list(map(row.get, self.keys, repeat("")))
        self._learn([k for k in self.keys if k not in row], row)
        return values


def read_csv(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a package CSV as dicts."""
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def count_rows(path: Path) -> int:
    """Data rows of a CSV (quoted newlines handled)."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        return sum(1 for _ in reader)


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(BUFFER), b""):
            digest.update(chunk)
    return digest.hexdigest()


def all_files(root: Path, *, skip: Iterable[str] = ()) -> list[str]:
    """Every file under ``root`` as a POSIX relative path, sorted."""
    skipped = set(skip)
    found = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    return sorted(f for f in found if f not in skipped)


FINAL_DIRS = ("data/", "canonical/", "import/", "files/", "sample/data/")
"""Where every file is final once the objects and relations are written."""


def hash_files(out: Path, files: list[str], ahead: dict[str, dict[str, Any]] | None = None
               ) -> dict[str, dict[str, Any]]:
    """SHA-256 and size of each file; a digest in ``ahead`` is taken if its file's size and
    modification time are those it was computed at."""
    hashes: dict[str, dict[str, Any]] = {}
    for rel in files:
        st = (out / rel).stat()
        known = (ahead or {}).get(rel)
        if known is None or known["_stat"] != (st.st_size, st.st_mtime_ns):
            known = {"sha256": sha256_file(out / rel), "bytes": st.st_size,
                     "_stat": (st.st_size, st.st_mtime_ns)}
        hashes[rel] = known
    return hashes
