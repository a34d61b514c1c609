"""Headless Chromium as a witness: where a person would look at a page, the tests let a real
browser lay it out (positions of cells, a screenshot) instead of trusting our own HTML."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

_LAYOUT_JS = """
<script>
const out = [];
for (const cell of document.querySelectorAll('th,td,h1,p.verdict,p.vk-snapshot')) {
  const range = document.createRange(); range.selectNodeContents(cell);
  const box = range.getBoundingClientRect();
  const table = cell.closest('table');
  out.push({tag: cell.tagName, text: cell.textContent.trim(), left: box.left, right: box.right,
            top: box.top, width: box.width, col: cell.cellIndex,
            table: table ? [...document.querySelectorAll('table')].indexOf(table) : -1});
}
const pre = document.createElement('pre'); pre.id = 'vk-layout';
pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
</script>
"""


def chromium() -> str:
    """The Chromium binary (scripts/setup.sh installs Debian's package)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium is missing: run scripts/setup.sh (apt-get install chromium)")


def _run(*args: str, timeout: float = 120) -> str:
    done = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", "--force-device-scale-factor=1", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def layout(html: str, tmp: Path, width: int = 1100) -> list[dict]:
    """Each table cell's text box as Chromium lays the page out (JS added to a copy)."""
    page = tmp / "layout.html"
    page.write_text(html.replace("</body>", _LAYOUT_JS + "</body>"), encoding="utf-8")
    dom = _run(f"--window-size={width},900", "--dump-dom", page.as_uri())
    found = re.search(r'<pre id="vk-layout">(.*?)</pre>', dom, re.S)
    assert found, "Chromium did not run the layout probe"
    import html as htmlmod

    return json.loads(htmlmod.unescape(found.group(1)))


def screenshot(url: str, png: Path, width: int = 1100, height: int = 900) -> Path:
    """A PNG of ``url`` (http:// or file://) as Chromium renders it."""
    _run(f"--window-size={width},{height}", f"--screenshot={png}", url)
    assert png.exists() and png.stat().st_size > 1000, "empty screenshot"
    return png


def assert_numbers_under_headers(cells: list[dict], tolerance: float = 2.0) -> int:
    """Every numeric cell's text ends where its column header's text ends (right-aligned
    together); returns how many cells were checked."""
    headers = {(c["table"], c["col"]): c for c in cells if c["tag"] == "TH"}
    checked = 0
    for cell in cells:
        if cell["tag"] != "TD" or not re.fullmatch(r"-?[\d,]+", cell["text"]):
            continue
        head = headers.get((cell["table"], cell["col"]))
        assert head is not None, cell
        assert abs(head["right"] - cell["right"]) <= tolerance, (head, cell)
        checked += 1
    return checked


def probe(html: str, tmp: Path, script: str, width: int = 800) -> object:
    """Run ``script`` (JS whose last expression is JSON-serialisable) on ``html`` as Chromium
    lays it out at ``width`` pixels; returns its value."""
    page = tmp / "probe.html"
    js = ("<script>const vkOut = (() => { return " + script + " })();"
          "const pre = document.createElement('pre'); pre.id = 'vk-probe';"
          "pre.textContent = JSON.stringify(vkOut); document.body.appendChild(pre);</script>")
    page.write_text(html.replace("</body>", js + "</body>"), encoding="utf-8")
    dom = _run(f"--window-size={width},900", "--dump-dom", page.as_uri())
    found = re.search(r'<pre id="vk-probe">(.*?)</pre>', dom, re.S)
    assert found, "Chromium did not run the probe"
    import html as htmlmod

    return json.loads(htmlmod.unescape(found.group(1)))
