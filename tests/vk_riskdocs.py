# ruff: noqa: E501 -- the documents keep their real line lengths
"""Real-format documents for the collectors: an Atlassian Statuspage (summary.json and
incidents.json, as served by /api/v2/), a GitHub releases.atom and an RSS 2.0 changelog."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from email.utils import format_datetime

PAGE = {"id": "kctbh9vrtdwd", "name": "Example CRM", "url": "https://status.example-crm.com",
        "time_zone": "Etc/UTC", "updated_at": "2025-05-31T17:02:11.481Z"}


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def summary_json(indicator: str = "minor",
                 description: str = "Partially Degraded Service") -> bytes:
    """``GET /api/v2/summary.json``."""
    return json.dumps({
        "page": PAGE,
        "components": [
            {"id": "8l4ygp009s5s", "name": "API", "status": "degraded_performance",
             "created_at": "2017-01-31T20:05:05.370Z", "updated_at": "2025-05-31T17:02:11.463Z",
             "position": 1, "description": "REST and bulk APIs", "showcase": False,
             "start_date": None, "group_id": None, "page_id": PAGE["id"], "group": False,
             "only_show_if_degraded": False},
            {"id": "brv1bkgrwx7q", "name": "Web app", "status": "operational",
             "created_at": "2017-01-31T20:01:46.621Z", "updated_at": "2025-05-20T08:13:41.120Z",
             "position": 2, "description": None, "showcase": False, "start_date": None,
             "group_id": None, "page_id": PAGE["id"], "group": False,
             "only_show_if_degraded": False}],
        "incidents": [],
        "scheduled_maintenances": [],
        "status": {"indicator": indicator, "description": description},
    }).encode()


def _incident(n: int, name: str, impact: str, began: datetime) -> dict:
    update = {"id": f"upd{n}", "status": "resolved", "body": "This incident has been resolved.",
              "incident_id": f"inc{n}", "created_at": _iso(began + timedelta(hours=2)),
              "updated_at": _iso(began + timedelta(hours=2)),
              "display_at": _iso(began + timedelta(hours=2)), "affected_components": None,
              "deliver_notifications": True, "custom_tweet": None, "tweet_id": None}
    return {"id": f"inc{n}", "name": name, "status": "resolved",
            "created_at": _iso(began), "updated_at": _iso(began + timedelta(hours=2)),
            "monitoring_at": None, "resolved_at": _iso(began + timedelta(hours=2)),
            "impact": impact, "shortlink": f"https://stspg.io/{n}", "started_at": _iso(began),
            "page_id": PAGE["id"], "incident_updates": [update], "components": []}


def incidents_json(now: datetime) -> bytes:
    """``GET /api/v2/incidents.json``: 3 incidents within 30 days (one without impact), and
    older ones."""
    return json.dumps({"page": PAGE, "incidents": [
        _incident(1, "Elevated API error rates", "major", now - timedelta(days=2)),
        _incident(2, "Delayed exports", "minor", now - timedelta(days=9)),
        _incident(3, "Informational: new IP ranges", "none", now - timedelta(days=12)),
        _incident(4, "Login failures", "critical", now - timedelta(days=25)),
        _incident(5, "Search degraded", "minor", now - timedelta(days=45)),
        _incident(6, "Webhooks delayed", "major", now - timedelta(days=120)),
    ]}).encode()


def releases_atom(latest: datetime, every_days: int = 14, count: int = 8) -> bytes:
    """A GitHub ``releases.atom``: ``count`` releases ``every_days`` apart, newest ``latest``."""
    entries = []
    for i in range(count):
        when = latest - timedelta(days=i * every_days)
        tag = f"v3.{count - i}.0"
        entries.append(f"""  <entry>
    <id>tag:github.com,2008:Repository/123456789/{tag}</id>
    <updated>{when.strftime("%Y-%m-%dT%H:%M:%SZ")}</updated>
    <link rel="alternate" type="text/html" href="https://github.com/example/crm/releases/tag/{tag}"/>
    <title>{tag}</title>
    <content type="html">&lt;h2&gt;What&#39;s Changed&lt;/h2&gt;&lt;ul&gt;&lt;li&gt;Fixes&lt;/li&gt;&lt;/ul&gt;</content>
    <author>
      <name>release-bot</name>
    </author>
    <media:thumbnail height="30" width="30" url="https://avatars.githubusercontent.com/u/1?s=60&amp;v=4"/>
  </entry>""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/" xml:lang="en-US">
  <id>tag:github.com,2008:https://github.com/example/crm/releases</id>
  <link type="text/html" rel="alternate" href="https://github.com/example/crm/releases"/>
  <link type="application/atom+xml" rel="self" href="https://github.com/example/crm/releases.atom"/>
  <title>Release notes from crm</title>
  <updated>{latest.strftime("%Y-%m-%dT%H:%M:%SZ")}</updated>
{chr(10).join(entries)}
</feed>
""".encode()


def changelog_rss(dates: list[datetime]) -> bytes:
    """An RSS 2.0 changelog with one item per date (RFC 822 pubDate)."""
    items = "\n".join(f"""    <item>
      <title>Release {when:%Y.%m.%d}</title>
      <link>https://example-crm.com/changelog/{when:%Y-%m-%d}</link>
      <guid isPermaLink="false">changelog-{when:%Y%m%d}</guid>
      <pubDate>{format_datetime(when, usegmt=True)}</pubDate>
      <description><![CDATA[<p>Improvements &amp; fixes.</p>]]></description>
    </item>""" for when in dates)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>Example CRM changelog</title>
    <link>https://example-crm.com/changelog</link>
    <description>Product updates</description>
    <language>en</language>
    <atom:link href="https://example-crm.com/changelog/rss.xml" rel="self" type="application/rss+xml"/>
{items}
  </channel>
</rss>
""".encode()


class DocServer:
    """An HTTP server on 127.0.0.1 (free port) serving documents a test can swap at any time:
    ``server.docs["/api/v2/summary.json"] = (200, "application/json", body)``."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.docs: dict[str, tuple[int, str, bytes]] = {}
        self.headers: dict[str, dict[str, str]] = {}
        self.hits: list[str] = []
        docs, extra, hits = self.docs, self.headers, self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                status, ctype, body = docs.get(self.path, (404, "text/plain", b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for key, value in extra.get(self.path, {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> DocServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
