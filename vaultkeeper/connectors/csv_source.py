"""The ``csv`` connector: a folder or ``.zip`` of CSV files, one per object, as vendors deliver.

Every file is inspected in ``discover()`` (encoding, dialect, header, id column, deleted flag,
references to other files) and then streamed row by row: nothing holds a whole file in memory.
Rows that cannot be read faithfully become ``Malformed`` items with ``file:line``, never dropped.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import itertools
import os
import re
import zipfile
import zlib
from collections.abc import Generator, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, NamedTuple

from vaultkeeper import registry
from vaultkeeper.config import SourceSettings
from vaultkeeper.connectors.base import Connector
from vaultkeeper.connectors.csv_detect import (
    DELIMITERS,
    ESCAPE_ERRORS,
    FIELD_SIZE_LIMIT,
    FLAT_READER,
    Dialect,
    Encoding,
    LineFeed,
    archived_columns,
    bom_encoding,
    csv_reason,
    detect_dialect,
    excel_sep_line,
    find_primary_key,
    has_undecodable,
    is_truthy,
    line_endings,
    listing,
    match_column,
    normalise_name,
    reference_target,
    scan_encoding,
    show_undecodable,
    unique_columns,
    utf16_without_bom,
    zip_display_name,
)
from vaultkeeper.errors import ConfigError, ConnectorError
from vaultkeeper.models import Item, Malformed, ObjectSpec, Record, Relation, SourceCount
from vaultkeeper.registry import Fail, SourceKind

EXTENSIONS = (".csv", ".tsv")
_SAMPLE_CHARS = 64 * 1024
_CHUNK = 1024 * 1024
_SKIPPED_DIRS = ("__MACOSX",)
# NUL, or a byte the codec could not decode (marked by csv_detect.ESCAPE_ERRORS).
_SUSPECT = re.compile("[\x00\udc00-\udcff]")
# The line breaks TextIOWrapper(newline="") splits on; str.splitlines() knows more (\x1c, \u2028).
_FIRST_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)?")
_LAST_EOL = re.compile(r"(?:\r\n|\n|\r)\Z")


@dataclass(frozen=True)
class _Member:
    """One CSV file of the delivery."""

    path: str
    """Path inside the delivery (``export/Contacts.csv``), as shown to people."""
    key: str
    """How to open it: the zip member name or the filesystem path."""
    object_name: str


@dataclass(frozen=True)
class _FileInfo:
    """What ``discover()`` learnt about one file; ``read()`` and ``source_count()`` reuse it."""

    member: _Member
    encoding: Encoding
    dialect: Dialect
    sep_line: bool
    line_ending: str
    header: tuple[str, ...]
    header_line: int
    columns: tuple[str, ...]
    renamed: dict[str, str]
    primary_key: str
    primary_key_source: str
    archived: tuple[str, ...]
    references: dict[str, str] = field(default_factory=dict)


class _Parsed(NamedTuple):
    """One CSV record (or a csv.Error in its place) and the physical lines it came from."""

    line: int
    lines: list[str]
    row: list[str] | None
    error: str | None


class CsvConnector(Connector):
    """CSV files from a folder, a ``.zip`` or a single file; one object per file."""

    name = "csv"

    def __init__(self, path: Path, *, objects: Sequence[str] = (), id_column: str | None = None,
                 encoding: str | None = None, delimiter: str | None = None) -> None:
        self.path = Path(path).expanduser()
        self.objects = tuple(objects)
        self.id_column = id_column or None
        if encoding:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise ConnectorError(f"unknown encoding {encoding!r} for the csv source",
                                     "use a Python codec name such as utf-8, cp1252, "
                                     "latin-1 or utf-16, or leave it out to detect") from None
        self.encoding = encoding or None
        if delimiter is not None and (len(delimiter) != 1 or delimiter in "\"'\r\n"):
            raise ConnectorError(f"invalid csv delimiter {delimiter!r}",
                                 f"use one character, e.g. one of {DELIMITERS!r}, "
                                 "or leave it out to detect")
        self.delimiter = delimiter or None
        self._zip: zipfile.ZipFile | None = None
        self._kind = ""
        self._members: list[_Member] | None = None
        self._ignored: list[str] = []
        self._infos: dict[str, _FileInfo] = {}

    # -- the delivery ---------------------------------------------------------------------

    def _scan(self) -> list[_Member]:
        """Every CSV file of the delivery (sorted by path); other files go to ``_ignored``."""
        if self._members is not None:
            return self._members
        path, self._ignored = self.path, []
        if not path.exists():
            raise ConnectorError(f"csv source {path} does not exist",
                                 "set [source] path to the folder or .zip the vendor delivered")
        found: list[tuple[str, str]] = []  # (display path, key)
        if path.is_dir():
            self._kind = "folder"
            for root, dirs, files in os.walk(path, onerror=_unreadable_folder):
                dirs[:] = sorted(d for d in dirs
                                 if not d.startswith(".") and d not in _SKIPPED_DIRS)
                for f in sorted(files):
                    rel = Path(root, f).relative_to(path).as_posix()
                    found.append((rel, str(Path(root, f))))
        elif path.suffix.lower() in EXTENSIONS:
            self._kind = "file"
            found.append((path.name, str(path)))
        elif path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
            self._kind = "zip"
            found = self._scan_zip(path)
        else:
            raise ConnectorError(f"csv source {path} is neither a folder, a .zip nor a .csv file",
                                 "point [source] path at the delivered folder or .zip")
        members: list[_Member] = []
        for rel, key in found:
            name = PurePosixPath(rel).name
            hidden = name.startswith(".") or any(p in _SKIPPED_DIRS
                                                 for p in PurePosixPath(rel).parts)
            if hidden or PurePosixPath(name).suffix.lower() not in EXTENSIONS:
                # macOS resource forks (._x.csv), editor lock files, READMEs, spreadsheets:
                # not data we can read, but listed in describe_source() so none is unseen.
                self._ignored.append(rel)
                continue
            members.append(_Member(rel, key, normalise_name(PurePosixPath(name).stem)))
        if not members:
            raise ConnectorError(
                f"no .csv or .tsv files in {path} (other files: {listing(self._ignored)})",
                "ask the vendor for a CSV export, or save each sheet as CSV into the folder")
        self._check_names(members)
        self._members = members
        return members

    def _scan_zip(self, path: Path) -> list[tuple[str, str]]:
        try:
            self._zip = zipfile.ZipFile(path)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ConnectorError(f"{path} is not a readable zip file ({exc})",
                                 "download the delivery again, or unzip it with another tool "
                                 "and point [source] path at the folder") from None
        found = []
        for info in infos:
            if info.is_dir():
                continue
            shown = zip_display_name(info).replace("\\", "/")  # some Windows tools use \\
            if info.flag_bits & 0x1 and PurePosixPath(shown).suffix.lower() in EXTENSIONS:
                raise ConnectorError(f"{path}: {shown} is password-protected",
                                     "unzip the delivery with its password and point "
                                     "[source] path at the folder")
            found.append((shown, info.filename))
        return sorted(found)

    @staticmethod
    def _check_names(members: list[_Member]) -> None:
        seen: dict[str, str] = {}
        for m in members:
            if not m.object_name:
                raise ConnectorError(f"cannot name an object after the file {m.path}",
                                     "rename the file to the object it holds, e.g. contacts.csv")
            if m.object_name in seen:
                raise ConnectorError(
                    f"{seen[m.object_name]} and {m.path} both map to object "
                    f"{m.object_name!r}", "rename or remove one of the two files")
            seen[m.object_name] = m.path

    def _zipfile(self) -> zipfile.ZipFile:
        if self._zip is None:  # reopened after close(): the connector may be used again
            self._zip = zipfile.ZipFile(self.path)
        return self._zip

    @contextlib.contextmanager
    def _open_binary(self, member: _Member) -> Iterator[IO[bytes]]:
        if self._kind == "zip":
            with self._zipfile().open(member.key) as fh:
                yield fh
        else:
            with open(member.key, "rb") as fh:
                yield fh

    @contextlib.contextmanager
    def _open_text(self, member: _Member, codec: str) -> Iterator[IO[str]]:
        """Decoded text with line endings untouched (``newline=""``), as csv.reader needs."""
        # The escape handler turns undecodable bytes into markers instead of raising,
        # so one bad row is quarantined and the rest of the file still reads.
        with self._open_binary(member) as raw, io.TextIOWrapper(
                raw, encoding=codec, errors=ESCAPE_ERRORS, newline="") as text:
            yield text

    @contextlib.contextmanager
    def _io_errors(self, member: _Member) -> Iterator[None]:
        """Damaged containers or unreadable files: ConnectorError naming the file."""
        try:
            yield
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise ConnectorError(f"cannot read {member.path} from {self.path}: {exc}",
                                 "check the file (or download the delivery again)") from None

    # -- inspection -----------------------------------------------------------------------

    def _detect_encoding(self, member: _Member) -> Encoding:
        with self._open_binary(member) as fh:
            head = fh.read(4096)
            bom = bom_encoding(head)
            if self.encoding:
                given = codecs.lookup(self.encoding).name
                # Keep a BOM out of the first column name when it matches the given family.
                if bom and given.replace("_", "-").startswith(bom.name[:6]):
                    return Encoding(bom.codec, given, True, "given (encoding option)")
                return Encoding(self.encoding, given, bom is not None, "given (encoding option)")
            if bom:
                return bom
            utf16 = utf16_without_bom(head)
            if utf16:
                return utf16
            return scan_encoding(itertools.chain([head], iter(lambda: fh.read(_CHUNK), b"")))

    def _inspect(self, member: _Member, objects: set[str]) -> _FileInfo:
        with self._io_errors(member):
            enc = self._detect_encoding(member)
            with self._open_text(member, enc.codec) as text:
                sample = text.read(_SAMPLE_CHARS)
                complete = len(sample) < _SAMPLE_CHARS or not text.read(1)
        m = _FIRST_LINE.match(sample)
        first = m.group() if m else ""
        sep = excel_sep_line(first)
        body = sample[len(first):] if sep else sample
        if not complete:
            cut = max(body.rfind("\n"), body.rfind("\r"))
            body = body[:cut + 1] if cut > 0 else body
        prefer = "\t" if member.path.lower().endswith(".tsv") else None
        dialect = detect_dialect(body, complete=complete, delimiter=self.delimiter or sep,
                                 prefer=prefer)
        header: tuple[str, ...] = ()
        header_line = 0
        with contextlib.closing(self._parse(member, enc, dialect, bool(sep), capture=False)) as it:
            top = next(it, None)
        if top is not None:
            if top.row is None:
                raise ConnectorError(
                    f"{member.path}:{top.line}: cannot read the header row "
                    f"({csv_reason(top.error or '')})",
                    "check the first line of the file; pass delimiter/encoding if detection "
                    "guessed wrong")
            header, header_line = tuple(top.row), top.line
        columns, renamed = unique_columns(header)
        pk, pk_source = "", "none (content digests identify records)"
        if self.id_column and (col := match_column(columns, self.id_column)):
            pk, pk_source = col, "id_column option"
        elif col := find_primary_key(columns, member.object_name):
            pk, pk_source = col, "detected id-like column"
        references = {c: t for c in columns if c != pk
                      and (t := reference_target(c, objects)) is not None}
        return _FileInfo(member=member, encoding=enc, dialect=dialect, sep_line=bool(sep),
                         line_ending=line_endings(body), header=header,
                         header_line=header_line, columns=columns, renamed=renamed,
                         primary_key=pk, primary_key_source=pk_source,
                         archived=archived_columns(columns), references=references)

    @staticmethod
    def _spec(info: _FileInfo) -> ObjectSpec:
        enc, d = info.encoding, info.dialect
        schema: dict[str, Any] = {
            "file": info.member.path,
            "encoding": enc.name,
            "bom": enc.bom,
            "encoding_method": enc.method,
            "encoding_evidence": dict(enc.evidence),
            "delimiter": d.delimiter,
            "quotechar": d.quotechar,
            "escapechar": d.escapechar,
            "doublequote": d.doublequote,
            "line_ending": info.line_ending,
            "excel_sep_line": info.sep_line,
            "header_line": info.header_line,
            "header_undecodable": any(has_undecodable(h) for h in info.header),
            "columns": [show_undecodable(h) for h in info.header],
            "renamed_columns": dict(info.renamed),
            "primary_key_source": info.primary_key_source,
            "archived_columns": list(info.archived),
            "references": dict(info.references),
        }
        return ObjectSpec(name=info.member.object_name, primary_key=info.primary_key,
                          properties=info.columns, schema=schema,
                          vendor_name=PurePosixPath(info.member.path).name)

    # -- the contract ---------------------------------------------------------------------

    def discover(self) -> list[ObjectSpec]:
        """One ObjectSpec per CSV file, sorted by name or in the order of ``objects``."""
        members = self._scan()
        by_name = {m.object_name: m for m in members}
        if self.objects:
            selected: list[_Member] = []
            for entry in dict.fromkeys(self.objects):
                base = PurePosixPath(entry.replace("\\", "/")).name
                stem = base[:-4] if base.lower().endswith(EXTENSIONS) else base
                m = by_name.get(normalise_name(stem))
                if m is None:
                    raise ConnectorError(
                        f"object {entry!r} has no file in {self.path} "
                        f"(files found: {listing([x.path for x in members])})",
                        f"use one of: {listing(sorted(by_name))}")
                if m not in selected:
                    selected.append(m)
        else:
            selected = sorted(members, key=lambda m: m.object_name)
        infos = [self._inspect(m, set(by_name)) for m in selected]
        if self.id_column and not any(i.primary_key_source == "id_column option" for i in infos):
            raise ConnectorError(
                f"id_column {self.id_column!r} is a column of none of the files",
                f"use a column name from the header, e.g. one of "
                f"{listing(list(infos[0].columns), 10)} in {infos[0].member.path}")
        self._infos.update((i.member.object_name, i) for i in infos)
        return [self._spec(i) for i in infos]

    def _info(self, obj: ObjectSpec) -> _FileInfo:
        if obj.name not in self._infos:
            self.discover()
        info = self._infos.get(obj.name)
        if info is None:
            raise ConnectorError(f"object {obj.name!r} is not a file of {self.path}",
                                 "run discover() and use one of the objects it returns")
        return info

    def _parse(self, member: _Member, enc: Encoding, dialect: Dialect, sep_line: bool, *,
               capture: bool) -> Generator[_Parsed, None, None]:
        """Every non-blank CSV record, header included, with its first line number."""
        if csv.field_size_limit() < FIELD_SIZE_LIMIT:
            csv.field_size_limit(FIELD_SIZE_LIMIT)
        with self._io_errors(member), self._open_text(member, enc.codec) as text:
            feed = LineFeed(text, capture)
            if sep_line:
                next(feed, None)
            reader = csv.reader(feed, **dialect.reader_args())
            while True:
                start, feed.lines = feed.count + 1, []
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    # The reader resets on the next call, so the rest of the file still reads.
                    yield _Parsed(start, feed.lines, None, str(exc))
                    continue
                # A blank line holds no value; csv.writer never writes one for a data row.
                if row:
                    yield _Parsed(start, feed.lines, row, None)

    def _rows(self, info: _FileInfo, *, capture: bool) -> Generator[_Parsed, None, None]:
        """The data records of a file (the header skipped)."""
        parsed = self._parse(info.member, info.encoding, info.dialect, info.sep_line,
                             capture=capture)
        with contextlib.closing(parsed):
            if next(parsed, None) is None:
                return
            yield from parsed

    def source_count(self, obj: ObjectSpec) -> SourceCount:
        """Data records in the file (CSV records, not lines: quoted fields span lines)."""
        total = sum(1 for _ in self._rows(self._info(obj), capture=False))
        return SourceCount(live=None, total=total, method="rows in file")

    def read(self, obj: ObjectSpec) -> Iterator[Item]:
        """Each row as a Record of strings; bad rows as Malformed; references as Relations."""
        info = self._info(obj)
        width = len(info.columns)
        for p in self._rows(info, capture=True):
            raw = "".join(p.lines)
            reason = None
            if p.row is None:
                reason = csv_reason(p.error or "")
            elif _SUSPECT.search(raw):  # one scan for both checks: this loop is the hot path
                reason = ("embedded NUL character" if "\x00" in raw
                          else f"bytes that are not valid {info.encoding.name}")
            elif len(p.row) != width:
                reason = f"{len(p.row)} fields where the header has {width}"
            if reason is not None or p.row is None:
                yield Malformed(raw=show_undecodable(_LAST_EOL.sub("", raw)), reason=reason or "",
                                location=f"{info.member.path}:{p.line}")
                continue
            data = dict(zip(info.columns, p.row, strict=True))
            yield Record(data=data, archived=any(is_truthy(data[c]) for c in info.archived))
            from_id = data[info.primary_key] if info.primary_key else ""
            if not from_id:
                continue  # no id to point from; the reference stays in the record itself
            for column, target in info.references.items():
                if data[column].strip():
                    yield Relation(obj.name, from_id, target, data[column], type=column)

    def describe_source(self) -> dict[str, str]:
        """Path, kind (folder/zip/file), number of CSV files, and any files not read."""
        members = self._scan()
        facts = {"path": str(self.path), "kind": self._kind, "files": str(len(members))}
        if self._ignored:
            facts["ignored"] = listing(self._ignored)
        return facts

    def close(self) -> None:
        """Close the zip file, if one is open."""
        if self._zip is not None:
            self._zip.close()
            self._zip = None


def _unreadable_folder(exc: OSError) -> None:
    # os.walk skips folders it cannot list unless told otherwise: their files would be missing.
    raise ConnectorError(f"cannot list {exc.filename}: {exc.strerror}",
                         "give the vaultkeeper user read access to the whole delivery")


# ---------------------------------------------------------------------- the registry's record
def open_source(source: SourceSettings, stack: ExitStack) -> CsvConnector:
    """The connector to the delivery ``[source] path`` names."""
    if source.path is None:
        raise ConfigError("path is required for the csv connector",
                          "set [source] path to the folder or .zip the vendor delivered",
                          key="[source] path")
    return CsvConnector(source.path, objects=source.objects, id_column=source.id_column,
                        encoding=source.encoding, delimiter=source.delimiter)


def check_settings(source: SourceSettings, fail: Fail) -> SourceSettings:
    """``[source] path`` is required and must exist."""
    if source.path is None:
        raise fail("path", "required for connector csv",
                   'path = "crm-export.zip" (the folder or .zip the vendor delivered)')
    if not source.path.exists():
        raise fail("path", f"{source.path} does not exist", "point it at the CSV folder or .zip")
    return source


def known_objects(source: SourceSettings) -> tuple[set[str], str] | None:
    """Whatever files the vendor delivered: known only when ``[source] objects`` lists them."""
    if source.objects:
        return set(source.objects), "[source] objects lists the CSV objects"
    return None


SOURCE = registry.register(SourceKind(
    name=CsvConnector.name, open=open_source, check_settings=check_settings,
    known_objects=known_objects, package=FLAT_READER, summary=lambda source: str(source.path)))
