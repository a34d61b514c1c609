"""Guesswork for CSV deliveries: encoding, dialect, object names, ids, deleted flags, references;
and how the emergency package reads flat records (a CSV export, or any source no vendor claims).

Everything here is pure (bytes/str in, decisions out; ``LineFeed`` only wraps a text stream it
is given) so it can be tested without files; the connector in ``csv_source.py`` does the I/O.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from vaultkeeper.shapes import Described, PackageColumn, PackageReader, cells

ESCAPE_ERRORS = "vaultkeeper-csv-escape"
"""Codec error handler: each undecodable byte becomes the lone surrogate U+DC00+byte.

Unlike ``surrogateescape`` it also covers bytes below 0x80 (UTF-16 errors), and a strict codec
never produces lone surrogates itself, so their presence marks exactly the undecodable bytes.
"""
FIELD_SIZE_LIMIT = 64 * 1024 * 1024
"""Largest field we parse (characters). Python's default (128 KiB) is too small for notes and
rich-text fields; a bound still stops an unterminated quote from swallowing a multi-GB file."""


def _escape_handler(exc: UnicodeError) -> tuple[str, int]:
    if isinstance(exc, UnicodeDecodeError):
        bad = exc.object[exc.start : exc.end]
        return "".join(chr(0xDC00 + b) for b in bad), exc.end
    raise exc


codecs.register_error(ESCAPE_ERRORS, _escape_handler)

_UNDECODABLE = re.compile("[\udc00-\udcff]")
_WIDE = re.compile("[^\x00-\x7f\udc00-\udcff]")
# Bytes Windows-1252 leaves undefined: a file containing them is decoded as Latin-1 instead.
_CP1252_HOLES = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "utf-32-le"),  # before UTF-16 LE: it shares the first bytes
    (codecs.BOM_UTF32_BE, "utf-32", "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16-be"),
)

DELIMITERS = (",", ";", "\t", "|")
_SEP_LINE = re.compile(r"\A\ufeff?sep=(.)\r?\n?\Z")


def has_undecodable(text: str) -> bool:
    """True if ``text`` holds bytes the codec could not decode (see ``ESCAPE_ERRORS``)."""
    return _UNDECODABLE.search(text) is not None


def show_undecodable(text: str) -> str:
    """``text`` with each undecodable byte written as ``\\xNN``, so it can be stored as JSON."""
    return _UNDECODABLE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


@dataclass(frozen=True)
class Encoding:
    """How a file's bytes become text."""

    codec: str
    """Python codec used to decode (``utf-8-sig`` / ``utf-16`` consume the BOM)."""
    name: str
    """What the file is, as recorded in the schema (``utf-8``, ``utf-16-le``, ``cp1252``)."""
    bom: bool
    method: str
    """How we know (``byte order mark``, ``whole file is valid UTF-8``, ``given`` …)."""
    evidence: dict[str, int] = field(default_factory=dict)


def bom_encoding(head: bytes) -> Encoding | None:
    """The encoding announced by a byte order mark at the start of ``head``, if any."""
    for bom, codec, name in _BOMS:
        if head.startswith(bom):
            if name.startswith("utf-16") and not _plausible_utf16(head[2:], name):
                return None
            return Encoding(codec, name, True, "byte order mark")
    return None


def _plausible_utf16(body: bytes, name: str) -> bool:
    """A UTF-16 BOM is two bytes (``þÿ``/``ÿþ`` in cp1252): trust it only if what follows reads
    like UTF-16 CSV — NUL high bytes of ASCII text, or a line break or delimiter once decoded."""
    if b"\x00" in body:
        return True
    text = body[: len(body) // 2 * 2].decode(name, errors="replace")
    return any(c in text for c in "\r\n" + "".join(DELIMITERS))


def utf16_without_bom(head: bytes) -> Encoding | None:
    """UTF-16 text without BOM: mostly-ASCII text has a NUL in every other byte."""
    pairs = len(head) // 2
    if pairs < 8:
        return None
    even = head[0 : pairs * 2 : 2].count(0)
    odd = head[1 : pairs * 2 : 2].count(0)
    if odd > 0.4 * pairs and even < 0.05 * pairs:
        return Encoding("utf-16-le", "utf-16-le", False, "NUL byte pattern of UTF-16")
    if even > 0.4 * pairs and odd < 0.05 * pairs:
        return Encoding("utf-16-be", "utf-16-be", False, "NUL byte pattern of UTF-16")
    return None


def scan_encoding(chunks: Iterable[bytes]) -> Encoding:
    """Decide between UTF-8 and Windows-1252/Latin-1 by checking *every* byte, not a sample.

    A sample would let a cp1252 file whose first accent sits at row 90 000 be read as UTF-8.
    Rules: valid UTF-8 throughout → utf-8. Otherwise, more valid multi-byte UTF-8 characters
    than invalid sequences → utf-8 anyway (a UTF-8 file with a few damaged rows; those rows are
    quarantined, not guessed). Otherwise cp1252, or latin-1 if cp1252-undefined bytes occur.
    """
    strict: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder("utf-8")()
    escaping = codecs.getincrementaldecoder("utf-8")(ESCAPE_ERRORS)
    checked = invalid = wide = 0
    holes = False
    for chunk in chunks:
        checked += len(chunk)
        active = strict if strict is not None else escaping
        if chunk.isascii() and not active.getstate()[0]:
            continue  # nothing to decode, and no multi-byte sequence left open
        holes = holes or any(b in chunk for b in _CP1252_HOLES)
        if strict is not None:
            # Fast path while the file is valid UTF-8: the C decoder alone, no regex.
            pending = strict.getstate()[0]
            try:
                text = strict.decode(chunk)
                wide += len(text) - len(text.encode("ascii", "ignore"))
                continue
            except UnicodeDecodeError:
                strict, chunk = None, pending + chunk
        text = escaping.decode(chunk)
        invalid += len(_UNDECODABLE.findall(text))
        wide += len(_WIDE.findall(text))
    if strict is not None:
        try:
            strict.decode(b"", final=True)
        except UnicodeDecodeError:
            invalid += 1  # the file ends inside a multi-byte sequence
    else:
        invalid += len(_UNDECODABLE.findall(escaping.decode(b"", final=True)))
    evidence = {"bytes_checked": checked, "invalid_utf8_bytes": invalid,
                "utf8_multibyte_chars": wide}
    if invalid == 0:
        return Encoding("utf-8", "utf-8", False, "whole file is valid UTF-8", evidence)
    if wide > invalid:
        return Encoding("utf-8", "utf-8", False,
                        "mostly valid UTF-8; rows with invalid bytes are quarantined", evidence)
    name = "latin-1" if holes else "cp1252"
    return Encoding(name, name, False, "not UTF-8; legacy single-byte fallback", evidence)


def line_endings(sample: str) -> str:
    """``crlf``, ``lf``, ``cr``, ``mixed`` or ``none`` for the lines of ``sample``."""
    crlf = sample.count("\r\n")
    lf = sample.count("\n") - crlf
    cr = sample.count("\r") - crlf
    kinds = [k for k, n in (("crlf", crlf), ("lf", lf), ("cr", cr)) if n]
    return kinds[0] if len(kinds) == 1 else ("mixed" if kinds else "none")


def excel_sep_line(first_line: str) -> str | None:
    """The delimiter announced by Excel's ``sep=;`` first line, if the file starts with one."""
    m = _SEP_LINE.match(first_line)
    return m.group(1) if m else None


@dataclass(frozen=True)
class Dialect:
    """The CSV dialect of one file, always parsed with ``strict=True``."""

    delimiter: str = ","
    quotechar: str = '"'
    escapechar: str | None = None
    doublequote: bool = True

    def reader_args(self) -> dict[str, Any]:
        """Keyword arguments for ``csv.reader``."""
        # strict: a stray quote ("abc"def) or an unterminated quote at EOF raises csv.Error,
        # which we quarantine; the lenient default would silently alter or swallow the text.
        return {"delimiter": self.delimiter, "quotechar": self.quotechar,
                "escapechar": self.escapechar, "doublequote": self.doublequote,
                "strict": True, "skipinitialspace": False}


def _score(sample: str, dialect: Dialect, complete: bool) -> tuple[int, int]:
    """(header fields, inconsistent rows) when ``sample`` is parsed as ``dialect``."""
    reader = csv.reader(io.StringIO(sample, newline=""), **dialect.reader_args())
    rows: list[list[str] | None] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            rows.append(None)
            continue
        if row:
            rows.append(row)
    if not complete and len(rows) > 1:
        rows.pop()  # the sample was cut: its last record may be cut too
    if not rows:
        return 0, 0
    header = rows[0]
    width = len(header) if header is not None else 0
    return width, sum(1 for r in rows if r is None or len(r) != width)


def detect_dialect(sample: str, *, complete: bool, delimiter: str | None = None,
                   prefer: str | None = None) -> Dialect:
    """The dialect under which ``sample`` (the file's first lines) parses most consistently.

    Every candidate delimiter/quote/escape combination is parsed in full; the winner has more
    than one column, no rows of a different width, then the most columns (a one-column file:
    the delimiter under which no row splits). ``csv.Sniffer``'s guess and the file extension
    (``prefer``) only break ties, because on European files (``;`` with decimal commas) the
    Sniffer alone often picks ``,``.
    """
    sniffed_delim, sniffed_quote = None, '"'
    try:
        guess = csv.Sniffer().sniff(sample[:16384], delimiters="".join(DELIMITERS))
        sniffed_delim, sniffed_quote = guess.delimiter, guess.quotechar or '"'
    except csv.Error:
        pass
    delims = (delimiter,) if delimiter else DELIMITERS
    quotes = ('"', "'") if sniffed_quote == "'" else ('"',)
    escapes: tuple[str | None, ...] = (None, "\\") if "\\" in sample else (None,)
    best: tuple[Any, ...] | None = None
    chosen = Dialect()
    for i, d in enumerate(delims):
        for quote in quotes:
            for esc in escapes:
                dialect = Dialect(d, quote, esc, esc is None)
                width, bad = _score(sample, dialect, complete)
                # Standard quoting ("" inside "…") beats the delimiter hints: an escape or
                # quote character changes values, a delimiter that splits nothing does not.
                key = (width > 1, bad == 0, -bad, width, esc is None, quote == '"',
                       d == prefer, d == sniffed_delim, -i)
                if best is None or key > best:
                    best, chosen = key, dialect
    return chosen


_CAMEL_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def normalise_name(stem: str) -> str:
    """Object name for a file stem: lowercase, runs of non-word characters → ``_``."""
    return re.sub(r"\W+", "_", stem.strip().lower()).strip("_")


def _words(text: str) -> list[str]:
    """``ParentAccount`` / ``Parent Account`` / ``parent_account`` → ``['parent', 'account']``."""
    return [w.lower() for token in re.split(r"[\W_]+", text)
            for w in _CAMEL_BREAK.split(token) if w]


def _compact(name: str) -> str:
    return re.sub(r"[\W_]+", "", name.lower())


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 3:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _plurals(word: str) -> tuple[str, ...]:
    forms = [word, word + "s", word + "es"]
    if word.endswith("y"):
        forms.append(word[:-1] + "ies")
    return tuple(forms)


def unique_columns(header: Sequence[str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """Record keys for a header row, and ``{key: original}`` for each key we had to invent.

    Duplicate or empty column names would make two values share one dict key, so one would be
    lost; they get ``_2``/``column_N`` names instead, recorded in the schema.
    """
    names: list[str] = []
    renamed: dict[str, str] = {}
    seen: set[str] = set()
    for pos, original in enumerate(header, start=1):
        shown = show_undecodable(original)
        name = shown or f"column_{pos}"
        base, n = name, 1
        while name in seen:
            n += 1
            name = f"{base}_{n}"
        if name != shown:
            renamed[name] = shown
        seen.add(name)
        names.append(name)
    return tuple(names), renamed


def find_primary_key(columns: Sequence[str], object_name: str) -> str:
    """The first id-like column: ``id``, ``record_id``, ``<object>_id``, ``Contact ID`` …; or ""."""
    first = object_name.split("_")[0]
    wanted = {"id", "recordid"}
    for stem in (_compact(object_name), first):
        wanted |= {stem + "id", _singular(stem) + "id"}
    for col in columns:
        if _compact(col) in wanted:
            return col
    return ""


def match_column(columns: Sequence[str], wanted: str) -> str | None:
    """``wanted`` as a column of ``columns``: exactly, else ignoring case and punctuation."""
    if wanted in columns:
        return wanted
    return next((c for c in columns if _compact(c) == _compact(wanted)), None)


_DELETED_FLAGS = {"isdeleted", "deleted", "archived", "isarchived"}
_TRUTHY = {"true", "1", "yes", "y"}


def archived_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """Columns that flag a record as deleted/archived (``IsDeleted``, ``archived`` …)."""
    return tuple(c for c in columns if _compact(c) in _DELETED_FLAGS)


def is_truthy(value: str) -> bool:
    """``true``/``1``/``yes``/``y`` in any case, surrounding blanks ignored."""
    return value.strip().lower() in _TRUTHY


_REF_SEPARATED = re.compile(r"^(?P<base>.*?[^\W_])[\s_.\-]+id$", re.IGNORECASE)
# CamelCase needs a capital I: "AccountId" is a reference, "Paid" or "valid" are not.
_REF_CAMEL = re.compile(r"^(?P<base>.*[a-z0-9])(?:Id|ID)$")


def reference_target(column: str, objects: Iterable[str]) -> str | None:
    """The object a column refers to (``AccountId`` → ``accounts``), only if that object exists.

    The whole base is tried first (``parent_account``), then its trailing words (``account``),
    each in singular and plural forms.
    """
    m = _REF_SEPARATED.match(column) or _REF_CAMEL.match(column)
    if not m:
        return None
    words = _words(m.group("base"))
    available = set(objects)
    for start in range(len(words)):
        base = "_".join(words[start:])
        for form in _plurals(base):
            if form in available:
                return form
    return None


def csv_reason(message: str) -> str:
    """A csv.Error message in terms of the file."""
    if "unexpected end of data" in message:
        return "unterminated quoted field at end of file"
    if "field larger than field limit" in message:
        return (f"field longer than {FIELD_SIZE_LIMIT} characters "
                "(or an unterminated quote ran on)")
    return f"bad quoting: {message}"


class LineFeed:
    """Feeds lines to ``csv.reader`` and keeps those of the current record, for quarantine."""

    def __init__(self, text: IO[str], capture: bool) -> None:
        self._text = text
        self._capture = capture
        self.count = 0
        self.lines: list[str] = []

    def __iter__(self) -> LineFeed:
        return self

    def __next__(self) -> str:
        line = self._text.readline()
        if not line:
            raise StopIteration
        self.count += 1
        if self._capture:
            self.lines.append(line)
        return line


def zip_display_name(info: zipfile.ZipInfo) -> str:
    """Member name as the sender meant it: most tools write UTF-8 names without the UTF-8 flag,
    which zipfile then decodes as cp437 (``Zoë`` → ``Zo├½``)."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except UnicodeError:
        return info.filename


def listing(names: Sequence[str], limit: int = 20) -> str:
    """Names for a message: the first ``limit``, then how many in all."""
    shown = ", ".join(names[:limit])
    return f"{shown} … ({len(names)} in all)" if len(names) > limit else shown or "(none)"


# ------------------------------------------------------------- flat records in the package
def _describe_flat(name: str, schema: Any) -> Described:
    names = [str(c) for c in (schema or {}).get("columns", [])]
    primary_key = find_primary_key(names, name) if names else ""
    cols = [] if primary_key else [PackageColumn(
        "_row", "Row", "string", "Row number in the export (the source had no id column)")]
    return Described(primary_key, cols + [PackageColumn(n) for n in names],
                     tuple((schema or {}).get("archived_columns", [])))


FLAT_READER = PackageReader(
    _describe_flat, cells,
    lambda record, row, columns: any(is_truthy(row.get(c, "")) for c in columns))
"""The package's reading of flat records: keys as columns, the detected id, truthy flags."""
