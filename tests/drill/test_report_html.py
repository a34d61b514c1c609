"""The HTML report is valid HTML5, self-contained (no network), and says what failed where."""

from __future__ import annotations

import html5lib
from vk_backup import make_config, vk, vk_json
from vk_drill import flip_bytes_in_largest_pack

from vaultkeeper.services.drill_html import render


def assert_self_contained_html(text: str) -> None:
    """Valid HTML5 (strict parse) whose tree loads nothing: no script, image, frame, link or
    external reference, and CSS without url() or @import."""
    tree = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)
    assert text.startswith("<!DOCTYPE html>")
    for element in tree.iter():
        tag = str(element.tag).lower()
        assert tag not in ("script", "link", "img", "iframe", "object", "embed", "video",
                           "audio", "source", "base"), tag
        for attribute in ("src", "href", "srcset", "action", "poster", "background"):
            value = element.get(attribute)
            assert value is None or value.startswith("#"), (tag, attribute, value)
        assert "url(" not in str(element.get("style", "")).lower()
    css = " ".join(e.text or "" for e in tree.iter("style")).lower()
    assert "url(" not in css and "@import" not in css
    assert tree.find(".//meta[@charset]") is not None


def test_html_reports_for_verified_failed_and_hostile_text(tmp_path):
    config = make_config(tmp_path)
    assert vk(config, "locations", "init").returncode == 0
    assert vk_json(config, "backup")["status"] == "ok"
    good = vk(config, "drill", "--location", "nas", "--html", str(tmp_path / "ok.html"))
    assert good.returncode == 0, good.stderr
    page = (tmp_path / "ok.html").read_text(encoding="utf-8")
    assert_self_contained_html(page)
    assert "verified" in page and "contacts" in page and "measured RTO" in page
    assert "your backup at nas was restored completely" in page
    flip_bytes_in_largest_pack(tmp_path / "loc" / "disk")
    bad = vk(config, "drill", "--location", "disk", "--read-data-subset", "100%",
             "--html", str(tmp_path / "bad.html"))
    assert bad.returncode == 4
    page = (tmp_path / "bad.html").read_text(encoding="utf-8")
    assert_self_contained_html(page)
    assert "failed" in page and "location disk" in page and "Fix:" in page
    # Vendor text is escaped, never markup.
    hostile = {"drill_id": 1, "location": "<script>x</script>", "result": "failed",
               "failures": [{"message": "<img src=https://evil>", "fix": "a & b"}],
               "objects": [{"object": "<b>", "expected": 1, "restored": 0, "archived": 0,
                            "digest_ok": False, "schema_ok": True, "ok": False}],
               "warnings": ["</html>"]}
    assert_self_contained_html(render(hostile))


def _report(result: str = "verified") -> dict:
    return {"drill_id": 7, "location": "office-nas", "location_url": "/srv/nas", "result": result,
            "started_at": "2026-12-01T06:00:03+00:00", "records": 4400,
            "durations": {"restore_s": 0.9, "load_s": 1.3, "rto_s": 2.2, "total_s": 3.9},
            "objects": [{"object": "contacts", "expected": 3000, "restored": 3000,
                         "archived": 12, "digest_ok": True, "schema_ok": True, "ok": True},
                        {"object": "companies", "expected": 1400, "restored": 1400,
                         "archived": 0, "digest_ok": True, "schema_ok": True, "ok": True}],
            "relations": [{"relation": "contacts__companies", "expected": 2950, "restored": 2950,
                           "digest_ok": True, "dangling_from": 0, "dangling_to": 0,
                           "dangling_samples": [], "endpoints_checked": True}],
            "failures": [] if result == "verified" else [{"message": "contacts: 2 missing",
                                                          "fix": "drill another location"}]}


def test_report_opens_with_a_plain_verdict() -> None:
    from vaultkeeper.services.drill_html import verdict

    assert verdict(_report()) == ("On 1 December 2026 your backup at office-nas was restored "
                                  "completely: 4,400 records, every relation (2,950) in 2 seconds.")
    failed = verdict(_report("failed"))
    assert failed.startswith("On 1 December 2026 the backup at office-nas") and "NOT" in failed
    assert "1 problem," in failed
    assert "could not run" in verdict({**_report("error"), "error": "repository locked"})
    page = render(_report())
    assert page.index('class="verdict verified"') < page.index("<dl>")


def test_numbers_stand_under_their_headers_in_a_real_browser(tmp_path) -> None:
    """Headless Chromium lays the report out: each number's right edge is its header's."""
    from vk_browser import assert_numbers_under_headers, layout

    cells = layout(render(_report()), tmp_path)
    assert assert_numbers_under_headers(cells) >= 8
