"""The long tail: ``[source] connector = "airbyte"`` (an Airbyte source's Python package) and
``connector = "singer"`` (a Singer tap), run by vaultkeeper as a program in its own virtualenv.

vaultkeeper installs the pinned package (``[source] package``) under the state directory
(connectors/thirdparty_run.py), writes the connector's config — assembled from ``[source.config]``
with every secret reference resolved — to a 0600 file in a private 0700 folder that exists for
one run of the program (``privatefs.private_workdir``: removed on exit, and after a kill -9 by
the next run of any command), and reads the messages the program prints: Airbyte's CATALOG,
RECORD, STATE, LOG and TRACE, Singer's SCHEMA, RECORD and STATE. Each stream is an object; each
object is read by one run of the program selecting that stream (and the stream that holds its
archived records, if ``[source.archived]`` names one). ``[source.relations]`` says which field
of which stream points at which stream; ``[source.archived]`` how the source marks archived or
deleted records. Neither protocol carries a count of what the source holds, so these objects'
counts are *unverified* (the manifest, ``status``, drills and the package say so). An error the
connector reports (an Airbyte ERROR trace, a Singer CRITICAL log line, a non-zero exit, a stream
left incomplete) stops the export with one line naming the cause and a fix (exit 6).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any, ClassVar

import orjson

from vaultkeeper import registry
from vaultkeeper.config import SourceSettings
from vaultkeeper.config.secrets import Secret
from vaultkeeper.connectors.base import Connector
from vaultkeeper.connectors.thirdparty_run import ConnectorProcess, ensure_venv, program
from vaultkeeper.connectors.thirdparty_shapes import (
    ARCHIVED_FROM,
    PACKAGE,
    is_archived,
    mirror_shape,
    targets,
)
from vaultkeeper.digest import canonical_json
from vaultkeeper.errors import ConfigError, ConnectorError
from vaultkeeper.models import Item, Malformed, ObjectSpec, Record, Relation, SourceCount
from vaultkeeper.privatefs import private_workdir, write_private
from vaultkeeper.registry import Fail, SourceKind

VENVS = "connectors"
"""The folder of the state directory holding one virtualenv per package."""
WORK = "connector"
"""The label of the private folder holding a run's config and catalog."""
_PASSED = ("HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
           "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
_AUTH_WORDS = re.compile(r"\b(401|403|unauthori[sz]ed|forbidden|invalid[_ ]?(api[_ ]?)?token|"
                         r"authenticat|credential|api[_ ]?key|access denied)", re.I)
_QUERY_SECRET = re.compile(r"((?:api_?token|token|api_?key|key|secret|password)=)[^&\s'\"]+",
                           re.I)


class ThirdPartyConnector(Connector):
    """A third-party connector program; ``protocol`` is ``airbyte`` or ``singer``."""

    protocol: ClassVar[str] = ""
    recount_after_read = False   # the protocols report no count to ask again

    def __init__(self, source: SourceSettings, stack: ExitStack) -> None:
        if source.package is None:
            raise ConfigError("package is required for this connector",
                              'set [source] package = "tap-pipedrive==2.1.0"',
                              key="[source] package")
        if source.state_dir is None:
            raise ConfigError("no state directory for the connector's virtualenv",
                              "set [paths] state_dir", key="[paths] state_dir")
        self.source = source
        self.package = source.package
        self.state_dir = Path(source.state_dir)
        self._stack = stack
        self._program: Path | None = None
        self._streams: dict[str, dict[str, Any]] = {}
        self._partners = {str(rule["stream"]): name for name, rule in source.archived.items()
                          if "stream" in rule}
        self._secrets: list[str] = []
        self._runs = 0
        self.argv_seen: list[list[str]] = []
        """The command lines run (kept for the manifest's request stats and the tests)."""

    # -- the program --------------------------------------------------------------------
    def _exe(self) -> Path:
        if self._program is None:
            venv = ensure_venv(self.state_dir / VENVS, self.package, python=self.source.python)
            self._program = program(venv, self.source.executable, self.package)
        return self._program

    def _env(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in _PASSED if k in os.environ}
        env["PATH"] = f"{self._exe().parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
        env["PYTHONUNBUFFERED"] = "1"
        for key, value in self.source.environment.items():
            env[key] = self._reveal(value) if isinstance(value, Secret) else str(value)
        return env

    def _reveal(self, secret: Secret) -> str:
        value = secret.reveal()
        if value and value not in self._secrets:
            self._secrets.append(value)
        return value

    def _config(self) -> dict[str, Any]:
        def resolve(value: Any) -> Any:
            if isinstance(value, Secret):
                return self._reveal(value)
            if isinstance(value, Mapping):
                return {k: resolve(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [resolve(v) for v in value]
            return value
        return {k: resolve(v) for k, v in self.source.config.items()}

    def redact(self, text: str) -> str:
        """``text`` without any secret vaultkeeper handed to the connector."""
        for value in self._secrets:
            text = text.replace(value, "***")
        return _QUERY_SECRET.sub(r"\1***", text)

    @contextlib.contextmanager
    def _run(self, args: list[str], files: Mapping[str, Any]) -> Iterator[ConnectorProcess]:
        """Run the program with ``files`` (name → JSON) written to a private folder; the
        folder (config included) is removed when the run ends, however it ends."""
        with private_workdir(self.state_dir, WORK) as work:
            paths = {}
            for name, content in files.items():
                paths[name] = work / f"{name}.json"
                write_private(paths[name], orjson.dumps(content))
            argv = [str(self._exe()), *(str(paths.get(a, a)) for a in args)]
            self.argv_seen.append(argv)
            self._runs += 1
            proc = ConnectorProcess(argv, env=self._env(), cwd=work)
            try:
                yield proc
            finally:
                proc.close()
                for path in paths.values():
                    path.unlink(missing_ok=True)

    def fail(self, what: str, cause: str) -> ConnectorError:
        """The one-line error for a connector failure: its cause and what to do."""
        cause = " ".join(self.redact(cause).split())[:400] or "no message"
        if _AUTH_WORDS.search(cause):
            fix = ("check the credentials [source.config] references (a revoked or mistyped "
                   "API token?)")
        elif re.search(r"\b429\b|rate limit", cause, re.I):
            fix = "the vendor's rate limit was hit: run the backup again later"
        else:
            fix = (f"run `{self._exe().name}` from {self._exe().parent} by hand to see its "
                   "full log, or check the connector's settings in [source.config]")
        return ConnectorError(f"{self.package} failed {what}: {cause}", fix)

    # -- the Connector contract ---------------------------------------------------------
    def discover(self) -> list[ObjectSpec]:
        """Every stream the connector offers (partners holding archived records excepted)."""
        streams = self._discover()
        self._streams = streams
        self._offered = sorted(n for n in streams if n not in self._partners)
        missing = sorted({*self.source.archived, *self._partners,
                          *(k.partition(".")[0] for k in self.source.relations),
                          *self.source.relations.values()} - set(streams))
        if missing:
            raise ConfigError(f"{self.package} has no stream {', '.join(missing)} (it offers "
                              f"{', '.join(sorted(streams)) or 'none'})",
                              "fix [source.relations] / [source.archived]",
                              key="[source] relations")
        wanted = set(self.source.objects) or set(self._offered)
        return [self._spec(name, streams[name]) for name in self._offered if name in wanted]

    def _spec(self, name: str, stream: dict[str, Any]) -> ObjectSpec:
        schema = stream.get("json_schema") or {}
        props = tuple(sorted((schema.get("properties") or {}).keys()))
        keys = stream.get("primary_key") or []
        rule = self.source.archived.get(name)
        return ObjectSpec(name, keys[0] if len(keys) == 1 else "", props, schema={
            "protocol": self.protocol, "package": self.package, "stream": name,
            "json_schema": schema, "primary_key": keys,
            "archived": None if rule is None else dict(rule),
            "relations": {k.partition(".")[2]: v for k, v in self.source.relations.items()
                          if k.partition(".")[0] == name}})

    def source_count(self, obj: ObjectSpec) -> SourceCount | None:
        """Neither protocol reports what the source holds: unverified."""
        return None

    def read(self, obj: ObjectSpec) -> Iterator[Item]:
        """Run the program for ``obj``'s stream (and its archived partner)."""
        rule = self.source.archived.get(obj.name) or {}
        partner = str(rule["stream"]) if "stream" in rule else None
        names = [obj.name] + ([partner] if partner else [])
        relations = obj.schema.get("relations", {}) if isinstance(obj.schema, dict) else {}
        for stream, data, where in self._read(names):
            if not isinstance(data, dict):
                yield Malformed(canonical_json(data).decode(), "the record is not an object",
                                where)
                continue
            if stream == partner:
                data = {**data, ARCHIVED_FROM: partner}
                archived = True
            else:
                archived = is_archived(data, rule)
            yield Record(data, archived)
            record_id = data.get(obj.primary_key) if obj.primary_key else None
            if record_id is None or record_id == "":
                continue
            for path, target in relations.items():
                for to_id in targets(data, path):
                    yield Relation(obj.name, str(record_id), target, to_id, path)

    def _discover(self) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    def _read(self, streams: list[str]) -> Iterator[tuple[str, Any, str]]:
        raise NotImplementedError

    def request_stats(self) -> dict[str, object]:
        """How many times the program ran (its own requests are not visible to us)."""
        return {"program_runs": self._runs}

    def describe_source(self) -> dict[str, str]:
        """The package and protocol (no config values: they may be secret)."""
        return {"package": self.package, "protocol": self.protocol,
                "counts": "unverified (the protocol reports no source totals)"}

    def check_access(self) -> dict[str, object]:
        """The streams the connector can read with these credentials."""
        return {"readable_objects": [spec.name for spec in self.discover()]}


# ---------------------------------------------------------------------------------- Airbyte
class AirbyteConnector(ThirdPartyConnector):
    """An Airbyte source (``discover`` / ``read`` with the Airbyte protocol's messages)."""

    name = "airbyte"
    protocol = "airbyte"

    def _discover(self) -> dict[str, dict[str, Any]]:
        catalog: dict[str, Any] | None = None
        with self._run(["discover", "--config", "config"],
                       {"config": self._config()}) as proc:
            errors = _AirbyteErrors()
            for line in proc.lines():
                message = _message(line)
                if message and message.get("type") == "CATALOG":
                    catalog = message.get("catalog") or {}
                elif message:
                    errors.see(message)
            code = proc.finish()
            if errors.first or code != 0 or catalog is None:
                raise self.fail("to discover its streams", errors.first or
                                _stderr_cause(proc) or f"exit code {code}, no catalog")
        streams = {}
        for stream in catalog.get("streams") or []:
            keys = stream.get("source_defined_primary_key") or []
            streams[str(stream["name"])] = {
                "raw": stream, "json_schema": stream.get("json_schema") or {},
                "primary_key": [".".join(k) for k in keys if isinstance(k, list)]}
        return streams

    def _read(self, streams: list[str]) -> Iterator[tuple[str, Any, str]]:
        configured = {"streams": [_configured(self._streams[s]["raw"]) for s in streams]}
        with self._run(["read", "--config", "config", "--catalog", "catalog"],
                       {"config": self._config(), "catalog": configured}) as proc:
            errors = _AirbyteErrors()
            status: dict[str, str] = {}
            for n, line in enumerate(proc.lines(), 1):
                message = _message(line)
                if message is None:
                    continue
                kind = message.get("type")
                if kind == "RECORD":
                    record = message.get("record") or {}
                    if record.get("stream") in streams:
                        yield str(record["stream"]), record.get("data"), f"output line {n}"
                elif kind == "TRACE" and (message.get("trace") or {}).get("type") == \
                        "STREAM_STATUS":
                    sst = message["trace"].get("stream_status") or {}
                    name = (sst.get("stream_descriptor") or {}).get("name")
                    status[str(name)] = str(sst.get("status"))
                else:
                    errors.see(message)
            code = proc.finish()
            left = [s for s in streams if status.get(s) not in (None, "COMPLETE")]
            if errors.first or code != 0 or left:
                raise self.fail(f"reading {', '.join(streams)}", errors.first or (
                    f"stream {', '.join(left)} ended {status[left[0]]}" if left else
                    _stderr_cause(proc) or f"exit code {code}"))


def _configured(stream: dict[str, Any]) -> dict[str, Any]:
    modes = stream.get("supported_sync_modes") or ["full_refresh"]
    mode = "full_refresh" if "full_refresh" in modes else modes[0]
    return {"stream": stream, "sync_mode": mode, "destination_sync_mode": "overwrite",
            "cursor_field": stream.get("default_cursor_field") or [],
            "primary_key": stream.get("source_defined_primary_key") or []}


class _AirbyteErrors:
    """The first error an Airbyte source reports (ERROR trace, else an ERROR/FATAL log)."""

    def __init__(self) -> None:
        self.trace: str | None = None
        self.log: str | None = None

    def see(self, message: dict[str, Any]) -> None:
        if message.get("type") == "TRACE":
            trace = message.get("trace") or {}
            if trace.get("type") == "ERROR" and self.trace is None:
                error = trace.get("error") or {}
                said = [str(error.get(k) or "").strip() for k in ("message", "internal_message")]
                # "Something went wrong in the connector…" says nothing: add the inner cause.
                self.trace = " — ".join(dict.fromkeys(s for s in said if s))
        elif message.get("type") == "LOG":
            log = message.get("log") or {}
            if str(log.get("level")) in ("ERROR", "FATAL") and self.log is None:
                self.log = str(log.get("message") or "")
        elif message.get("type") == "CONNECTION_STATUS":
            status = message.get("connectionStatus") or {}
            if status.get("status") == "FAILED" and self.trace is None:
                self.trace = str(status.get("message") or "")

    @property
    def first(self) -> str | None:
        return self.trace or self.log


# ----------------------------------------------------------------------------------- Singer
class SingerConnector(ThirdPartyConnector):
    """A Singer tap (``--discover``, then ``--catalog`` with the stream selected)."""

    name = "singer"
    protocol = "singer"

    def _discover(self) -> dict[str, dict[str, Any]]:
        with self._run(["--config", "config", "--discover"],
                       {"config": self._config()}) as proc:
            out = b"".join(proc.lines())
            code = proc.finish()
            try:
                catalog = orjson.loads(out) if code == 0 else None
            except orjson.JSONDecodeError:
                catalog = None
            if not isinstance(catalog, dict):
                raise self.fail("to discover its streams",
                                _stderr_cause(proc) or f"exit code {code}, no catalog")
        streams = {}
        for stream in catalog.get("streams") or []:
            name = str(stream.get("tap_stream_id") or stream.get("stream"))
            streams[name] = {"raw": stream, "json_schema": stream.get("schema") or {},
                             "primary_key": list(stream.get("key_properties") or [])}
        return streams

    def _read(self, streams: list[str]) -> Iterator[tuple[str, Any, str]]:
        catalog = {"streams": [_selected(self._streams[s]["raw"], s in streams)
                               for s in self._streams]}
        with self._run(["--config", "config", "--catalog", "catalog"],
                       {"config": self._config(), "catalog": catalog}) as proc:
            for n, line in enumerate(proc.lines(), 1):
                message = _message(line)
                if message is not None and message.get("type") == "RECORD" and \
                        message.get("stream") in streams:
                    yield str(message["stream"]), message.get("record"), f"output line {n}"
            code = proc.finish()
            if code != 0:
                raise self.fail(f"reading {', '.join(streams)}",
                                _stderr_cause(proc) or f"exit code {code}")


def _selected(stream: dict[str, Any], selected: bool) -> dict[str, Any]:
    """A catalog entry with (or without) the stream and every one of its fields selected."""
    metadata = []
    for entry in stream.get("metadata") or []:
        md = dict(entry.get("metadata") or {})
        md["selected"] = selected
        metadata.append({**entry, "metadata": md})
    if not any(e.get("breadcrumb") == [] for e in metadata):
        metadata.append({"breadcrumb": [], "metadata": {"selected": selected}})
    return {**stream, "metadata": metadata}


# ----------------------------------------------------------------------------------- shared
def _message(line: bytes) -> dict[str, Any] | None:
    """One protocol message (None for a line that is not a JSON object: stray prints)."""
    text = line.strip()
    if not text.startswith(b"{"):
        return None
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return message if isinstance(message, dict) else None


def _stderr_cause(proc: ConnectorProcess) -> str:
    """The cause in a program's standard error: Singer's CRITICAL line, else the last line."""
    lines = [ln.strip() for ln in proc.stderr_tail().splitlines() if ln.strip()]
    critical = [ln.partition("CRITICAL")[2].strip(" :") for ln in lines if "CRITICAL" in ln]
    return (critical[0] if critical else lines[-1] if lines else "")


# --------------------------------------------------------------------------- the registry
def check_settings(source: SourceSettings, fail: Fail) -> SourceSettings:
    """``[source] package`` is required; relations and archived rules name streams."""
    if source.package is None:
        example = ("tap-pipedrive==2.1.0" if source.connector == "singer"
                   else "airbyte-source-pipedrive==2.3.7")
        raise fail("package", f"required for connector {source.connector}",
                   f'package = "{example}"')
    return source


def open_source(source: SourceSettings, stack: ExitStack) -> ThirdPartyConnector:
    """``SourceKind.open``: the connector for the configured protocol."""
    cls = AirbyteConnector if source.connector == "airbyte" else SingerConnector
    return cls(source, stack)


for _name in ("airbyte", "singer"):
    registry.register(SourceKind(
        name=_name, open=open_source, check_settings=check_settings,
        mirror_shape=mirror_shape, package=PACKAGE,
        summary=lambda source: f"{source.package} ({source.connector})"))
