"""Typed reading of TOML tables: every error names the file, the key and a fix (used by config
and policies)."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

from vaultkeeper.errors import ConfigError, SecretError

RESTIC_SCHEMES = ("local", "sftp", "rest", "s3", "b2", "azure", "gs", "swift", "rclone")
_URL_PASSWORD = re.compile(r"(://[^/@\s:]*):[^/@\s]*@")
_SCHEME = re.compile(r"([a-z][a-z0-9]*):")
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_SCHEDULE = re.compile(
    rf"every(?: (?P<n>\d+))? (?P<unit>(?:second|minute|hour|day|week)s?|{_WEEKDAYS})"
    r"(?: at (?P<at>\d{1,2}:\d{2}(?::\d{2})?|:\d{2}))?")


def read_toml(path: Path, text: str | None = None) -> dict[str, Any]:
    """Parse a TOML file (or ``text`` named ``path``); syntax errors give line and column."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError("file not found", "check the path", file=str(path)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read it ({type(exc).__name__})",
                              "make it a readable UTF-8 text file", file=str(path)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's messages name the problem, not the text, so no value is echoed.
        reason = str(exc)
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)", reason)
        where = f"line {m[1]}, column {m[2]}" if m else "end of file"
        reason = reason[:m.start()] if m else reason.replace(" (at end of document)", "")
        raise ConfigError(f"invalid TOML: {reason}",
                          f"correct the syntax at {where} (strings need quotes, tables are "
                          "[name], arrays of tables [[name]]; see https://toml.io)",
                          file=str(path), key=where) from None

class Bad(Exception):
    """A value of the wrong type or range; the reader adds file, key and an example fix."""

    def __init__(self, message: str, example: object = None, fix: str | None = None, *,
                 guess: bool = False, note: str = "") -> None:
        super().__init__(message)
        self.message, self.example, self.fix = message, example, fix
        self.guess = guess   # the example is a guess at what was meant: "did you mean …?"
        self.note = note     # appended to the example fix


@dataclass(frozen=True)
class Origin:
    """Where one value came from: the file, an environment variable or a command-line flag."""

    file: str | None
    section: str                   # "[source]", "[[locations]] #2 \"nas\"", "[keep]" …
    name: str = ""                 # the bare key
    base: Path = Path()            # what relative paths resolve against
    env: Mapping[str, str] = field(default_factory=dict)   # for { env = … } secrets
    var: str | None = None         # the VAULTKEEPER_* variable, when from the environment
    flag: bool = False             # from the command line (overrides)

    @property
    def from_text(self) -> bool:
        """The value arrived as text to parse (environment variable or flag), not as TOML."""
        return self.var is not None or self.flag

    @property
    def setting(self) -> str:
        """``[source] page_size``."""
        return f"{self.section} {self.name}"

    def error(self, message: str, example: object = None, fix: str | None = None, *,
              guess: bool = False, note: str = "") -> ConfigError:
        """A ConfigError naming this origin, with a fix written in the origin's own syntax."""
        if fix is None and example is not None:
            fix = (f"{self.var}={_plain(example)}" if self.var else
                   f"{self.name} = {toml_literal(example)}" if not self.flag else
                   f"pass a valid value such as {_plain(example)}")
            fix = (f"did you mean {fix}?" if guess else fix) + (f" ({note})" if note else "")
        return ConfigError(message, fix, file=self.file, key=self.label)

    @property
    def label(self) -> str:
        """How errors name this value: the key, or the variable or option it came from."""
        if self.var:
            return f"environment variable {self.var} ({self.setting})"
        return f"command-line option for {self.setting}" if self.flag else self.setting.strip()


Converter = Callable[[Any, Origin], Any]


class Field(NamedTuple):
    """How to read one key: a converter and an example value used in fixes."""

    convert: Converter
    example: object


def toml_literal(value: object) -> str:
    """``value`` written as TOML (for fixes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    return str(value)


def _plain(value: object) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return toml_literal(value).strip('"') if not isinstance(value, bool) else toml_literal(value)


def _kind(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             dict: "a table", list: "an array"}
    return names.get(type(value), type(value).__name__)


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to a mistyped ``word``, if any is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def as_str(value: Any, origin: Origin) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise Bad(f"must be a non-empty string (got {_kind(value)})")
    return value.strip()


def _number(value: Any, origin: Origin, parse: Callable[[str], Any], kinds: Any,
            what: str) -> Any:
    """``value`` as a number of ``kinds`` (parsed with ``parse`` when it came as text from the
    environment); a bool is never a number."""
    if origin.from_text and isinstance(value, str):
        try:
            value = parse(value.strip())
        except ValueError:
            raise Bad(f"must be {what}") from None
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise Bad(f"must be {what} (got {_kind(value)})")
    return value


def as_int(minimum: int | None = None) -> Converter:
    """An integer, at least ``minimum``."""
    def convert(value: Any, origin: Origin) -> int:
        value = _number(value, origin, int, int, "an integer")
        if minimum is not None and value < minimum:
            raise Bad(f"must be at least {minimum} (got {value})")
        return value
    return convert


def as_float(low: float = 0.0, high: float | None = None, *, open_low: bool = True) -> Converter:
    """A number above ``low`` (or at least, with ``open_low=False``) and at most ``high``."""
    def convert(value: Any, origin: Origin) -> float:
        value = _number(value, origin, float, int | float, "a number")
        if value < low or (open_low and value == low) or (high is not None and value > high):
            bounds = f"{'above' if open_low else 'at least'} {low:g}"
            raise Bad(f"must be {bounds}" + (f" and at most {high:g}" if high else "")
                      + f" (got {value:g})")
        return float(value)
    return convert


def as_bool(value: Any, origin: Origin) -> bool:
    """true or false (environment: 1/0, true/false, yes/no, on/off)."""
    if origin.from_text and isinstance(value, str):
        words = {"1": True, "true": True, "yes": True, "on": True,
                 "0": False, "false": False, "no": False, "off": False}
        if value.strip().lower() in words:
            return words[value.strip().lower()]
    if not isinstance(value, bool):
        raise Bad(f"must be true or false (got {_kind(value)})")
    return value


def as_names(value: Any, origin: Origin) -> tuple[str, ...]:
    """An array of distinct non-empty strings (environment: comma-separated)."""
    if isinstance(value, str) and origin.from_text:
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple) or not all(
            isinstance(v, str) and v.strip() for v in value):
        raise Bad(f"must be an array of names (got {_kind(value)})")
    names = tuple(v.strip() for v in value)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise Bad(f"lists {', '.join(dupes)} more than once")
    return names


def as_choice(*choices: str) -> Converter:
    """One of ``choices``."""
    def convert(value: Any, origin: Origin) -> str:
        if not isinstance(value, str) or value not in choices:
            near = suggest(value, choices) if isinstance(value, str) else None
            shown = f'"{value}"' if isinstance(value, str) else _kind(value)
            raise Bad(f"{shown} is not one of {', '.join(choices)}", near, guess=True) if near \
                else Bad(f"{shown} is not one of {', '.join(choices)}",
                         fix=f"use one of {', '.join(choices)}")
        return value
    return convert


def as_choices(*choices: str) -> Converter:
    """A list of distinct names, each one of ``choices``."""
    def convert(value: Any, origin: Origin) -> tuple[str, ...]:
        names = as_names(value, origin)
        for name in names:
            if name not in choices:
                near = suggest(name, choices)
                raise Bad(f"unknown {name!r}", fix=f"did you mean {near!r}?" if near else
                          f"choose from {', '.join(choices)}")
        return names
    return convert


def as_path(value: Any, origin: Origin) -> Path:
    """A path; ``~`` expands, relative paths resolve against the config file's directory."""
    text = str(value) if isinstance(value, Path) else as_str(value, origin)
    path = Path(text).expanduser()
    return path if path.is_absolute() else (origin.base / path)


def as_http_url(value: Any, origin: Origin) -> str:
    """An http(s) URL without credentials in it."""
    url = as_str(value, origin)
    if _URL_PASSWORD.search(url):
        raise SecretError("inline secrets are refused (the URL holds a password)",
                          "remove user:password@ from the URL; use token = { env = … }",
                          file=origin.file, key=origin.label)
    if not re.match(r"https?://[^/\s]+", url):
        raise Bad("must be an http:// or https:// URL")
    return url.rstrip("/")


_DURATION = re.compile(r"\s*(\d+)\s*([mhdw])\s*")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1),
          "w": timedelta(weeks=1)}


def as_duration(value: Any, origin: Origin) -> timedelta:
    """A duration: ``30m``, ``4h``, ``1d``, ``2w``."""
    m = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if m is None or int(m[1]) == 0:
        raise Bad("must be a duration such as 30m, 4h, 1d or 2w", "1d")
    return int(m[1]) * _UNITS[m[2]]


_EMAIL = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")


def as_emails(value: Any, origin: Origin) -> tuple[str, ...]:
    """One or more e-mail addresses (a string or an array; environment: comma-separated)."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    names = as_names(value, origin)
    bad = [n for n in names if not _EMAIL.fullmatch(n)]
    if bad:
        raise Bad(f"{bad[0]!r} is not an e-mail address", ["it@example.org"])
    return names


def as_schedule(value: Any, origin: Origin) -> str:
    """A schedule phrase: ``every day at 02:00``, ``every 6 hours``, ``every monday at 06:00``."""
    text = " ".join(as_str(value, origin).lower().split())
    if not _schedule_ok(_SCHEDULE.fullmatch(text)):
        raise Bad(f'"{text}" is not a schedule', "every day at 02:00",
                  note="forms: every N minutes|hours|days, every day at HH:MM, every monday at "
                       "HH:MM, every hour at :15")
    return text


def _schedule_ok(m: re.Match[str] | None) -> bool:
    # The phrases the `schedule` library can express; anything else would fail at `run` time.
    if m is None:
        return False
    unit, at = m["unit"], m["at"]
    weekday = unit in _WEEKDAYS.split("|")
    if weekday and m["n"]:
        return False
    if not at:
        return True
    if weekday or unit.startswith("day"):
        hh, mm = at.split(":")[:2]
        return hh != "" and int(hh) < 24 and int(mm) < 60
    return unit.startswith(("hour", "minute")) and at.startswith(":") and int(at[1:]) < 60


def as_location_url(value: Any, origin: Origin) -> str:
    """A restic repository URL; a local path is made absolute against the config directory."""
    url = as_str(value, origin)
    if _URL_PASSWORD.search(url):
        raise SecretError("inline secrets are refused (the URL holds a password)",
                          "remove user:password@ from the URL and put the user name in "
                          "access_key and the password in secret_key, as references",
                          file=origin.file, key=origin.label)
    m = _SCHEME.match(url)
    if m and len(m[1]) > 1 and m[1] not in RESTIC_SCHEMES:
        near = suggest(m[1], RESTIC_SCHEMES)
        raise Bad(f"unknown repository type {m[1]}:", fix=f"did you mean {near}:?" if near else
                  f"use a local path or one of {', '.join(s + ':' for s in RESTIC_SCHEMES)}")
    if m and m[1] != "local":
        return url
    path = Path(url.removeprefix("local:")).expanduser()
    return str(path if path.is_absolute() else origin.base / path)


def redact_url(url: str) -> str:
    """``url`` safe to show: any password in it replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1:***@", url)


def as_api_version(value: Any, origin: Origin) -> str:
    """A Salesforce API version: ``59.0`` (``v59.0`` and an unquoted 59.0 are accepted)."""
    if isinstance(value, float):  # api_version = 59.0 written without quotes: accept it
        value = f"{value:.1f}"
    text = as_str(value, origin).removeprefix("v")
    if not re.fullmatch(r"\d+\.\d+", text):
        raise Bad("must look like 59.0", "59.0")
    return text


def check_keys(data: Mapping[str, Any], allowed: Iterable[str], *, file: str | None,
               section: str, elsewhere: Mapping[str, str] | None = None) -> None:
    """Refuse any key not in ``allowed``, suggesting the closest one (or its right section)."""
    allowed = list(allowed)
    for key in data:
        if key in allowed:
            continue
        near = suggest(key, allowed)
        if elsewhere and key in elsewhere:
            fix = f"{key} belongs in {elsewhere[key]}: move it there"
        elif near:
            fix = f"did you mean {near}?"
        else:
            fix = f"remove it; keys in {section} are: {', '.join(allowed)}"
        raise ConfigError("unknown key", fix, file=file, key=f"{section} {key}".strip())


def read_fields(data: Any, spec: Mapping[str, Field], origin: Origin, *,
                layers: Mapping[str, tuple[Any, Origin]] | None = None,
                elsewhere: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Check and convert one table's keys; ``layers`` (env, flags) win over the file's values."""
    if not isinstance(data, dict):
        raise ConfigError(f"must be a table (got {_kind(data)})", f"write it as {origin.section}",
                          file=origin.file, key=origin.section)
    check_keys(data, spec, file=origin.file, section=origin.section, elsewhere=elsewhere)
    out: dict[str, Any] = {}
    for name, (convert, example) in spec.items():
        if layers and name in layers:
            value, where = layers[name]
        elif name in data:
            value, where = data[name], replace(origin, name=name)
        else:
            continue
        try:
            out[name] = convert(value, where)
        except Bad as bad:
            raise where.error(bad.message, bad.example or example, bad.fix, guess=bad.guess,
                              note=bad.note) from None
    return out
