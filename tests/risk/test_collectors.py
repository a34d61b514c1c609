"""Collectors against local HTTP servers serving real-format documents, including malformed and
unreachable sources: a clear warning, the previous value kept, nothing crashes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from vk_backup import make_config, vk
from vk_riskdocs import (
    DocServer,
    changelog_rss,
    closed_port_url,
    incidents_json,
    releases_atom,
    summary_json,
)

from vaultkeeper.config import load_settings
from vaultkeeper.connectors.http import HttpClient
from vaultkeeper.db import open_state_db
from vaultkeeper.db import risk as riskdb
from vaultkeeper.db import runs as rundb
from vaultkeeper.services.risk import collect, export_health_signals, release_cadence, report

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
JSON, ATOM, RSS, HTML = ("application/json", "application/atom+xml", "application/rss+xml",
                         "text/html")


@pytest.fixture
def server():
    with DocServer() as srv:
        yield srv


def configure(root: Path, statuspage: str | None, feed: str | None) -> Path:
    risk = "[risk]\ncollect_timeout = 5\n"
    if statuspage:
        risk += f'statuspage_url = "{statuspage}"\n'
    if feed:
        risk += f'release_feed_url = "{feed}"\n'
    return make_config(root, extra=risk)


def values(result) -> dict[str, float]:
    return {o.signal: o.value for o in result.recorded}


def serve_good(server: DocServer) -> None:
    server.docs["/api/v2/summary.json"] = (200, JSON, summary_json("minor"))
    server.docs["/api/v2/incidents.json"] = (200, JSON, incidents_json(NOW))
    server.docs["/releases.atom"] = (200, ATOM, releases_atom(NOW - timedelta(days=12)))


def test_statuspage_and_github_feed(server: DocServer, tmp_path: Path) -> None:
    serve_good(server)
    settings = load_settings(configure(tmp_path, server.url, server.url + "/releases.atom"))
    result = collect(settings, now=NOW)
    assert result.failed == 0
    got = values(result)
    assert got["status_indicator"] == 1.0                    # "minor"
    assert got["status_incidents"] == 3.0                    # major, minor, critical in 30 days
    assert got["release_cadence"] == 14.0                    # every 14 days, last 12 days ago
    notes = {o.signal: o.note for o in result.recorded}
    assert notes["status_incidents"].startswith("3 in 30 days (2 major or critical): Elevated")
    assert "last release 2025-05-20 (v3.8.0)" in notes["release_cadence"]
    assert result.warnings == ["export health: no backup runs yet, nothing to measure (run "
                               "`vaultkeeper backup`)"]
    assert {"/api/v2/summary.json", "/api/v2/incidents.json", "/releases.atom"} <= set(
        server.hits)
    rows = riskdb.signal_rows(open_state_db(settings.state_dir))
    assert {(r["signal"], r["date"], r["source"]) for r in rows} >= {
        ("status_indicator", "2025-06-01", server.url),
        ("release_cadence", "2025-06-01", server.url + "/releases.atom")}
    again = collect(settings, now=NOW + timedelta(hours=6))   # same day: one row per source
    assert len(riskdb.signal_rows(open_state_db(settings.state_dir))) == len(rows)
    assert values(again)["status_indicator"] == 1.0


@pytest.mark.parametrize(("dates", "cadence"), [
    ([NOW - timedelta(days=d) for d in (90, 150, 210, 270)], 90.0),     # silence wins
    ([NOW - timedelta(days=d) for d in (3, 10, 17, 24, 31, 38, 300)], 7.0),
    ([NOW - timedelta(days=40)], 40.0),                                 # a single release
])
def test_rss_changelog(dates: list[datetime], cadence: float) -> None:
    value, note = release_cadence(changelog_rss(dates), NOW)
    assert value == pytest.approx(cadence, abs=0.1)
    assert "median gap" in note


MALFORMED = [
    ("summary is an HTML login page", "/api/v2/summary.json",
     (200, HTML, b"<html><body>Please sign in</body></html>"),
     "status page {url}/api/v2/summary.json: the answer is not JSON; the previous value is "
     "kept"),
    ("summary without a status", "/api/v2/summary.json", (200, JSON, b'{"page": {}}'),
     "summary.json has no status.indicator (not an Atlassian Statuspage?)"),
    ("unknown indicator", "/api/v2/summary.json",
     (200, JSON, summary_json("apocalyptic")), "no status.indicator"),
    ("incidents fail", "/api/v2/incidents.json", (500, JSON, b'{"error": "boom"}'),
     "status page {url}/api/v2/incidents.json: HTTP 500; the previous value is kept"),
    ("incidents not a list", "/api/v2/incidents.json", (200, JSON, b'{"incidents": {}}'),
     "incidents.json has no incidents list"),
    ("feed cut short", "/releases.atom", (200, ATOM, releases_atom(NOW)[:700]),
     "release feed {url}/releases.atom: malformed feed ("),
    ("feed is a web page", "/releases.atom", (200, HTML, b"<html><h1>Releases</h1></html>"),
     "not an RSS or Atom feed with entries"),
    ("feed without dates", "/releases.atom",
     (200, RSS, b'<rss version="2.0"><channel><title>x</title><item><title>a</title></item>'
      b"</channel></rss>"), "the feed's entries carry no dates"),
    ("feed gone", "/releases.atom", (404, HTML, b"gone"), "HTTP 404"),
]


@pytest.mark.parametrize(("path", "doc", "warning"), [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])
def test_malformed_source_keeps_the_previous_value(server: DocServer, tmp_path: Path,
                                                   path: str, doc: tuple[int, str, bytes],
                                                   warning: str) -> None:
    serve_good(server)
    config = configure(tmp_path, server.url, server.url + "/releases.atom")
    settings = load_settings(config)
    first = values(collect(settings, now=NOW))
    server.docs[path] = doc
    later = NOW + timedelta(days=3)
    result = collect(settings, now=later)
    assert result.failed == 1
    assert any(warning.format(url=server.url) in w for w in result.warnings), result.warnings
    broken = {"/api/v2/summary.json": "status_indicator",
              "/api/v2/incidents.json": "status_incidents",
              "/releases.atom": "release_cadence"}[path]
    assert broken not in values(result)
    assert len(values(result)) == 2                # the other two sources still recorded
    rows = [r for r in riskdb.signal_rows(open_state_db(settings.state_dir))
            if r["signal"] == broken]
    assert [r["date"] for r in rows] == ["2025-06-01"]   # the previous value stays in force
    scored = {c.signal: c for c in report(settings, as_of=later.date()).assessment.contributions}
    assert scored[broken].date == date(2025, 6, 1)
    assert scored[broken].value == f"{first[broken]:g}"
    # Through the CLI: warnings on stderr, exit 3 (partial), JSON still on stdout.
    cli = vk(config, "risk", "collect", "--json")
    assert cli.returncode == 3, cli.stderr
    assert "Traceback" not in cli.stderr and "Warning: " in cli.stderr
    assert json.loads(cli.stdout)["failed"] == 1


def test_unreachable_sources(tmp_path: Path) -> None:
    dead = closed_port_url()
    config = configure(tmp_path, dead, dead + "/releases.atom")
    result = collect(load_settings(config), now=NOW)
    assert result.failed == 3 and result.recorded == []
    assert all("unreachable (ConnectError" in w for w in result.warnings[:3]), result.warnings
    cli = vk(config, "risk", "collect")
    assert cli.returncode == 3
    assert f"Warning: status page {dead}/api/v2/summary.json: unreachable" in cli.stderr
    assert "Traceback" not in cli.stderr


def test_nothing_configured_and_no_runs(tmp_path: Path) -> None:
    result = collect(load_settings(configure(tmp_path, None, None)), now=NOW)
    assert result.failed == 0 and result.recorded == []
    assert "no backup runs yet" in result.warnings[0]


# ---------------------------------------------------------------------------- export health
def manifest(requests: int, elapsed: float, limited: int = 0,
             props: dict[str, list[str]] | None = None,
             deprecations: dict[str, str] | None = None) -> dict:
    props = props or {"contacts": ["email", "firstname", "phone"], "deals": ["amount"]}
    return {"duration_s": elapsed * 1.2, "requests": {
        "requests": requests, "retries": limited,
        "retries_by_cause": {"HTTP 429 (TEN_SECONDLY_ROLLING)": limited} if limited else {},
        "waited_s": 0.5 * limited, "elapsed_s": elapsed, "deprecations": deprecations or {}},
        "objects": {name: {"count": 10, "schema": {"property_names": names}}
                    for name, names in props.items()}}


def test_export_health_signals_from_the_state_db(tmp_path: Path) -> None:
    settings = load_settings(configure(tmp_path, None, None))
    db = open_state_db(settings.state_dir)
    # (run status, export status): a run that failed at our storage ("failed", "complete"), at
    # our configuration ("failed", "") or was killed ("crashed", "") is not the vendor's fault;
    # a failure at the source ("failed", "failed") and an incomplete export are.
    runs = [("ok", "complete"), ("ok", "complete"), ("failed", "failed"), ("ok", "complete"),
            ("partial", "incomplete"), ("ok", "complete"), ("crashed", ""), ("failed", "complete"),
            ("failed", ""), ("ok", "complete")]
    statuses = [status for status, _ in runs]
    for i, (status, export_status) in enumerate(runs):
        run_id = rundb.start_run(db)
        rundb.finish_run(db, run_id, status=status, export_status=export_status)
        if status in ("ok", "partial"):
            last = i == len(statuses) - 1
            riskdb.record_export_health(db, run_id, manifest(
                200, (60.0 if last else 20.0), limited=30 if last else 0,
                props={"contacts": ["email", "firstname"], "deals": ["amount"]} if last
                else None,
                deprecations={"/crm/v3/objects/contacts": "Sunset: Wed, 01 Oct 2025"}
                if last else None))
    got = {name: (value, note) for name, value, note in export_health_signals(
        rundb.runs(db, limit=10), riskdb.export_health(db))}
    assert got["export_error_rate"][0] == pytest.approx(2 / 8)
    assert got["rate_limit_rate"][0] == pytest.approx(0.15)
    assert got["latency_trend"][0] == pytest.approx(3.0)
    assert got["vanished_fields"] == (1.0, "gone since run 6: contacts.phone")
    assert got["deprecation_headers"][0] == 1.0
    assert "Sunset: Wed, 01 Oct 2025" in got["deprecation_headers"][1]
    result = collect(settings, now=NOW)
    assert set(values(result)) == set(got)


def test_http_layer_notes_deprecation_headers(server: DocServer) -> None:
    server.docs["/crm/v3/objects/contacts"] = (200, JSON, b'{"results": []}')
    server.headers["/crm/v3/objects/contacts"] = {"Deprecation": "true",
                                                  "Sunset": "Wed, 01 Oct 2025 00:00:00 GMT"}
    server.docs["/crm/v3/objects/deals"] = (200, JSON, b'{"results": []}')
    client = HttpClient(server.url, max_retries=0)
    try:
        client.get_json("/crm/v3/objects/contacts")
        client.get_json("/crm/v3/objects/deals")
    finally:
        client.close()
    assert client.stats.deprecations == {
        "/crm/v3/objects/contacts": "Deprecation: true; Sunset: Wed, 01 Oct 2025 00:00:00 GMT"}
    assert client.stats.elapsed_s > 0


@pytest.mark.slow
def test_real_backup_feeds_export_health(tmp_path: Path) -> None:
    """A real backup through a sandbox answering 429 now and then: the collector sees it."""
    config = configure(tmp_path, None, None)
    env = {"VAULTKEEPER_SOURCE_FAULTS": "429:every=10"}
    assert vk(config, "locations", "init").returncode == 0
    done = vk(config, "backup", "--json", env=env)
    assert done.returncode == 0, done.stderr
    data = json.loads(vk(config, "risk", "collect", "--json").stdout)
    got = {r["signal"]: float(r["value"]) for r in data["recorded"]}
    assert got["export_error_rate"] == 0.0
    assert 0.05 < got["rate_limit_rate"] < 0.2
    assert got["deprecation_headers"] == 0.0
    assert "vanished_fields" not in got          # one run: nothing to compare with yet


def test_status_shows_risk_coverage(tmp_path: Path) -> None:
    """Next to the level, status says how much of the picture is known: a green level from two
    signals out of many is not the same as a green level from all of them."""
    from vk_backup import vk_json

    config = configure(tmp_path, None, None)
    before = vk_json(config, "status")["risk"]
    assert before["fresh_signals"] == 0 and before["coverage"] == 0 and before["signals"] > 5
    from vk_backup import vk

    assert vk(config, "risk", "record", "insolvency_notice", "no",
              "--source", "court register").returncode == 0
    after = vk_json(config, "status")["risk"]
    assert after["fresh_signals"] == 1 and 0 < after["coverage"] < 1
    table = vk(config, "status").stdout
    assert f"1 of {after['signals']} signals have a fresh value" in table
