"""`mirror serve` for staff: a people search and a person page (organisation, memberships,
donations, notes) built on the canonical model, the snapshot's date on every page, checked over
HTTP and in headless Chromium; nothing of the staff view is left when the server stops."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from servers import free_port
from vk_browser import layout, screenshot
from vk_testing import export_sandbox

from vaultkeeper.db.mirror import load_export

SNAPSHOT_TIME = "2026-11-30T02:00:07+00:00"


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A mirror loaded by the drill's own loader from a real sandbox export."""
    root = tmp_path_factory.mktemp("staff")
    export_sandbox(root / "export", records=300, seed=3)
    load_export(root / "export", root / "mirror.db", info={
        "snapshot_id": "ab12cd34" * 8, "location": "office-nas", "snapshot_time": SNAPSHOT_TIME,
        "loaded_at": "2026-11-30T06:01:00+00:00", "drill_id": "1"})
    return root / "mirror.db"


def truth(mirror: Path) -> dict:
    """A live member with a donation and a note, read straight from the raw mirror."""
    db = sqlite3.connect(mirror)
    row = db.execute(
        "select c.id, c.firstname, c.lastname, c.membership_number, d.dealname, n.id "
        "from contacts c join rel_deals__contacts rd on rd.to_id = c.id "
        "join deals d on d.id = rd.from_id and d._archived = 0 and d.pipeline = 'default' "
        "join rel_notes__contacts rn on rn.to_id = c.id join notes n on n.id = rn.from_id "
        "where c._archived = 0 and c.membership_number is not null "
        "and c.firstname is not null and c.lastname is not null limit 1").fetchone()
    db.close()
    assert row, "the sandbox seed should hold a member with a gift and a note"
    return dict(zip(("id", "first", "last", "number", "gift", "note"), row, strict=True))


def serve(mirror: Path, work: Path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vaultkeeper", "--config",
                             str(work / "none.toml"), "mirror", "serve", "--db", str(mirror),
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={
                                **__import__("os").environ, "TMPDIR": str(work)})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/-/versions.json", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.3)


def test_people_search_and_person_page(mirror: Path, tmp_path: Path) -> None:
    want = truth(mirror)
    before = mirror.read_bytes()
    proc, base = serve(mirror, tmp_path)
    try:
        index = httpx.get(base + "/").text
        assert 'name="_search"' in index and "Find a person" in index
        banner = "backup ab12cd34 at office-nas taken 30 November 2026 02:00"
        assert banner in index
        found = httpx.get(f"{base}/staff/person.json", params={
            "_search": f"{want['first']} {want['last']}", "_shape": "array"}).json()
        assert want["id"] in [p["id"] for p in found]
        by_number = httpx.get(f"{base}/staff/person.json", params={
            "_search": want["number"], "_shape": "array"}).json()
        assert [p["id"] for p in by_number] == [want["id"]]
        assert "_raw" not in found[0], "the staff view shows fields, not vendor JSON"
        page = httpx.get(f"{base}/staff/person/{want['id']}").text
        assert banner in page
        for text in (want["first"], want["number"], want["gift"], "Memberships (",
                     "Donations (", "Notes and activities ("):
            assert text in page, text
        assert want["note"] in page
        # Every page carries the snapshot's date, the raw tables too.
        assert banner in httpx.get(f"{base}/mirror/contacts").text
        # Read-only: SQL writes are refused; the mirror's bytes never change.
        write = httpx.get(f"{base}/staff.json", params={"sql": "delete from person"})
        assert write.status_code >= 400
        # A real browser lays the person page out with the name as its heading.
        cells = layout(page, tmp_path)
        assert any(c["tag"] == "P" and "office-nas" in c["text"] for c in cells)
        heading = next(c for c in cells if c["tag"] == "H1")
        assert heading["text"].startswith(want["first"]) and heading["width"] > 0
        shot = screenshot(f"{base}/staff/person/{want['id']}", tmp_path / "person.png")
        assert shot.stat().st_size > 10_000
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert mirror.read_bytes() == before
    assert not list(tmp_path.glob("vaultkeeper-*/mirror-staff-*")), "staff view not removed"


def test_unknown_vendor_falls_back_to_the_raw_mirror(mirror: Path, tmp_path: Path) -> None:
    copy = tmp_path / "mirror.db"
    copy.write_bytes(mirror.read_bytes())
    db = sqlite3.connect(copy)
    manifest = json.loads(db.execute(
        "select value from _mirror_info where key = 'manifest'").fetchone()[0])
    manifest["connector"] = {"name": "somecrm"}
    db.execute("update _mirror_info set value = ? where key = 'manifest'", [json.dumps(manifest)])
    db.commit()
    db.close()
    proc, base = serve(copy, tmp_path)
    try:
        assert "no people list" in httpx.get(base + "/").text
        assert httpx.get(f"{base}/mirror/contacts.json").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
