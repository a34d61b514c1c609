"""Collect public risk signals: status page, release feed, and the health of our own exports."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax import SAXException

import httpx
import orjson

from vaultkeeper import __version__
from vaultkeeper.config import Settings
from vaultkeeper.db import risk as riskdb
from vaultkeeper.db import runs as rundb
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.risk.values import Observation, format_value

INCIDENT_WINDOW_DAYS = 30
RELEASES_CONSIDERED = 6


class CollectError(Exception):
    """A source that could not be read or did not hold what it should."""


@dataclass
class Collected:
    """What one `risk collect` recorded, and what it could not."""

    recorded: list[Observation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failed: int = 0
    """Configured sources that could not be read."""

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        recorded = [{"signal": o.signal, "value": format_value(o.value),
                     "date": o.date.isoformat(), "source": o.source, "note": o.note}
                    for o in self.recorded]
        return {"failed": self.failed, "recorded": recorded, "warnings": self.warnings}


def _get(client: httpx.Client, url: str) -> bytes:
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise CollectError(f"unreachable ({type(exc).__name__}: {exc})") from None
    if response.status_code >= 400:
        raise CollectError(f"HTTP {response.status_code}")
    return response.content


def _json(client: httpx.Client, url: str) -> Any:
    try:
        return orjson.loads(_get(client, url))
    except orjson.JSONDecodeError:
        raise CollectError("the answer is not JSON") from None


def _timestamp(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


_INDICATORS = {"none": 0.0, "minor": 1.0, "major": 2.0, "critical": 3.0}


def statuspage_summary(doc: Any) -> tuple[float, str]:
    """The overall indicator (0-3) and description of a Statuspage ``summary.json``."""
    status = doc.get("status") if isinstance(doc, dict) else None
    indicator = status.get("indicator") if isinstance(status, dict) else None
    if indicator not in _INDICATORS:
        raise CollectError("summary.json has no status.indicator (not an Atlassian Statuspage?)")
    assert isinstance(status, dict)
    return _INDICATORS[indicator], str(status.get("description") or indicator)


def statuspage_incidents(doc: Any, now: datetime,
                         window_days: int = INCIDENT_WINDOW_DAYS) -> tuple[float, str]:
    """How many incidents (impact minor or worse) began in the window, and a note naming them."""
    incidents = doc.get("incidents") if isinstance(doc, dict) else None
    if not isinstance(incidents, list):
        raise CollectError("incidents.json has no incidents list")
    since = now - timedelta(days=window_days)
    recent = []
    for item in incidents:
        if not isinstance(item, dict):
            continue
        began = _timestamp(item.get("started_at")) or _timestamp(item.get("created_at"))
        if began is None or began < since or item.get("impact") in (None, "none"):
            continue
        recent.append(item)
    worst = sum(1 for i in recent if i.get("impact") in ("major", "critical"))
    names = "; ".join(str(i.get("name", "?")) for i in recent[:3])
    note = f"{len(recent)} in {window_days} days ({worst} major or critical)" + (
        f": {names}" if names else "")
    return float(len(recent)), note


def release_cadence(content: bytes, now: datetime) -> tuple[float, str]:
    """Days between releases in an RSS/Atom feed (or since the last one, if longer)."""
    # Lazy: feedparser (an optional feed reader) loads only when a release feed is read.
    import feedparser

    feed = feedparser.parse(content)
    problem = feed.get("bozo_exception")
    if feed.get("bozo") and isinstance(problem, SAXException):
        # A broken XML document (cut short, not XML at all): what parsed may be a fragment.
        raise CollectError(f"malformed feed ({problem})")
    entries = list(feed.get("entries") or [])
    if not entries:
        why = f" ({feed.get('bozo_exception')})" if feed.get("bozo") else ""
        raise CollectError(f"not an RSS or Atom feed with entries{why}")
    dated = []
    for entry in entries:
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        if stamp:
            y, mo, d, h, mi, s = stamp[:6]
            dated.append((datetime(y, mo, d, h, mi, s, tzinfo=UTC), str(entry.get("title", "?"))))
    if not dated:
        raise CollectError("the feed's entries carry no dates")
    dated.sort(reverse=True)
    latest, title = dated[0]
    since = max(0.0, (now - latest).total_seconds() / 86400)
    recent = [d for d, _ in dated[:RELEASES_CONSIDERED]]
    gaps = [(a - b).total_seconds() / 86400 for a, b in itertools.pairwise(recent)]
    median = statistics.median(gaps) if gaps else since
    cadence = max(median, since)
    note = (f"last release {latest.date()} ({title[:60]}), {since:.0f} days ago; median gap "
            f"{median:.0f} days over the last {len(recent)} releases")
    return round(cadence, 1), note


def export_health_signals(runs: Sequence[Mapping[str, Any]],
                          health: Sequence[Mapping[str, Any]]) -> list[tuple[str, float, str]]:
    """Our own export health from recent backup runs and export health rows (newest first):
    (signal, value, note) for export_error_rate, rate_limit_rate, latency_trend,
    vanished_fields and deprecation_headers, each when there is enough data."""
    out: list[tuple[str, float, str]] = []
    # Only runs whose export reached a verdict say something about the vendor: a run that
    # failed at our storage, our configuration or a kill of our own process is not its fault.
    measured = [r for r in runs if r.get("status") not in (None, "running")
                and r.get("export_status") in ("complete", "incomplete", "failed")]
    if measured:
        bad = [r for r in measured if r.get("export_status") in ("failed", "incomplete")]
        out.append(("export_error_rate", round(len(bad) / len(measured), 4),
                    f"{len(bad)} of the last {len(measured)} exports failed at the source or "
                    "came back incomplete"))
    if not health:
        return out
    latest = health[0]
    run = f"run {latest.get('run_id')}"
    requests = int(latest.get("requests") or 0)
    if requests:
        limited = int(latest.get("rate_limited") or 0)
        out.append(("rate_limit_rate", round(limited / requests, 4),
                    f"{limited} of {requests} requests answered 429 ({run})"))
    per_request = [float(h.get("elapsed_s") or 0) / int(h["requests"]) for h in health
                   if int(h.get("requests") or 0) and float(h.get("elapsed_s") or 0) > 0]
    if len(per_request) >= 2 and requests and float(latest.get("elapsed_s") or 0) > 0:
        usual = statistics.median(per_request[1:])
        if usual > 0:
            ratio = per_request[0] / usual
            out.append(("latency_trend", round(ratio, 3),
                        f"{per_request[0] * 1000:.0f} ms per request ({run}) against a median "
                        f"of {usual * 1000:.0f} ms over {len(per_request) - 1} earlier runs"))
    if len(health) >= 2:
        now_props, before = latest.get("properties") or {}, health[1].get("properties") or {}
        gone = sorted(f"{obj}.{name}" for obj, names in before.items() if obj in now_props
                      for name in set(names) - set(now_props[obj]))
        out.append(("vanished_fields", float(len(gone)),
                    (f"gone since run {health[1].get('run_id')}: " + ", ".join(gone[:8]) +
                     (" …" if len(gone) > 8 else "")) if gone else
                    f"no field disappeared since run {health[1].get('run_id')}"))
    notices = latest.get("deprecations") or {}
    out.append(("deprecation_headers", float(len(notices)),
                ("; ".join(f"{path}: {h}" for path, h in list(notices.items())[:3]) if notices
                 else f"no Deprecation/Sunset header ({run})")))
    return out


def collect(settings: Settings | CommandContext, *, now: datetime | None = None) -> Collected:
    """Read every configured source and record what it says; a source that fails leaves a
    warning and its previous value in place (nothing is recorded for it)."""
    now = now or datetime.now(UTC)
    today = now.date()
    out = Collected()
    ctx = CommandContext.of(settings)
    db = ctx.db
    conf = ctx.settings.risk

    def keep(signal: str, value: float, source: str, note: str) -> None:
        riskdb.add_signal(db, signal, format_value(value), today.isoformat(), source=source,
                          note=note, same_day_replaces=True)
        out.recorded.append(Observation(signal, value, today, source, note))

    kept = "; the previous value is kept"
    headers = {"User-Agent": f"vaultkeeper/{__version__} (risk collect)",
               "Accept": "application/json, application/atom+xml, application/rss+xml, */*"}
    with httpx.Client(timeout=conf.collect_timeout, follow_redirects=True,
                      headers=headers) as client:
        if conf.statuspage_url:
            base = conf.statuspage_url.rstrip("/")
            for path, name, read in (
                    ("/api/v2/summary.json", "status_indicator", statuspage_summary),
                    ("/api/v2/incidents.json", "status_incidents",
                     lambda doc: statuspage_incidents(doc, now))):
                try:
                    value, note = read(_json(client, base + path))
                    keep(name, value, base, note)
                except CollectError as exc:
                    out.failed += 1
                    out.warnings.append(f"status page {base + path}: {exc}{kept}")
        if conf.release_feed_url:
            try:
                value, note = release_cadence(_get(client, conf.release_feed_url), now)
                keep("release_cadence", value, conf.release_feed_url, note)
            except CollectError as exc:
                out.failed += 1
                out.warnings.append(f"release feed {conf.release_feed_url}: {exc}{kept}")
    runs = rundb.runs(db, limit=10)
    health = riskdb.export_health(db, limit=10)
    signals = export_health_signals(runs, health)
    if not signals:
        out.warnings.append("export health: no backup runs yet, nothing to measure (run "
                            "`vaultkeeper backup`)")
    for name, value, note in signals:
        keep(name, value, "export health", note)
    return out
