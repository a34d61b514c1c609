"""An erasure request end to end with the real CLI, restic and the sandbox CRM: a person erased
after three backups is absent from the next drill's mirror (reconciliation still passes, the
suppression counted), from the emergency package (which still verifies), from a package built
by another installation that only has the register backed up inside the snapshot, and from an
escrow release; the register never holds the plain e-mail anywhere under the state folder."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from vk_backup import make_config, vk

from vaultkeeper.config import load_settings


def _ok(result):  # type: ignore[no-untyped-def]
    assert result.returncode == 0, (result.returncode, result.stdout[-2000:],
                                    result.stderr[-3000:])
    return result


def _person(mirror: Path) -> dict:
    """A live contact with an e-mail, a note that is theirs alone and a deal."""
    db = sqlite3.connect(mirror)
    row = db.execute(
        "select c.id, c.email, n.id, d.id from contacts c "
        "join rel_notes__contacts rn on rn.to_id = c.id join notes n on n.id = rn.from_id "
        "join rel_deals__contacts rd on rd.to_id = c.id join deals d on d.id = rd.from_id "
        "where c.email like '%@%' and c._archived = 0 "
        "and (select count(*) from rel_notes__contacts x where x.from_id = n.id) = 1 "
        "and (select count(*) from rel_deals__contacts y where y.from_id = d.id) = 1 "
        "limit 1").fetchone()
    db.close()
    assert row, "the sandbox should hold a contact with a note and a deal of their own"
    return dict(zip(("id", "email", "note", "deal"), row, strict=True))


def _files_without(root: Path, needles: list[bytes]) -> int:
    """Every file under root is free of every needle; returns how many files were read."""
    n = 0
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            n += 1
            for needle in needles:
                assert needle not in data, f"{needle!r} found in {path}"
    return n


@pytest.mark.slow
@pytest.mark.timeout(1200)   # ~4 min on an idle machine: 4 backups, 2 drills, 3 packages
def test_person_erased_after_three_backups(tmp_path: Path) -> None:
    escrow_key = tmp_path / "secrets" / "escrow.key"
    config = make_config(tmp_path, records=200, extra=(
        f'[escrow]\nurl = "{tmp_path / "escrow"}"\n'
        f'escrow_password = {{ file = "{escrow_key}" }}\nrefresh = "30d"\n'))
    escrow_key.write_text("escrow-agent-password-for-tests\n")
    escrow_key.chmod(0o600)
    state = load_settings(config).state_dir
    _ok(vk(config, "locations", "init"))
    for _ in range(3):
        _ok(vk(config, "backup"))
    _ok(vk(config, "drill", "--location", "nas"))
    mirror = state / "mirror" / "mirror.db"
    who = _person(mirror)
    before = json.loads(_ok(vk(config, "drill", "--location", "nas", "--json")).stdout)
    _ok(vk(config, "escrow", "deposit"))       # the deposit holds the person

    # The request: by e-mail, written differently from the CRM (case, blanks).
    shown = "  " + who["email"].upper() + " "
    forgot = json.loads(_ok(vk(config, "privacy", "forget", "--email", shown, "--ref",
                               "AVG-2026-017", "--json")).stdout)
    req = forgot["requests"][0]
    assert req["ref"] == "AVG-2026-017" and req["found"] == 1
    held = {(h["location"], h["where"]) for h in req["holdings"]}
    assert ("nas", "snapshot") in held and ("disk", "snapshot") in held
    assert sum(1 for h in req["holdings"] if h["where"] == "snapshot") == 6   # 3 × 2 copies
    assert any(h["where"] == "drilled mirror" for h in req["holdings"])

    # The drilled mirror drops the person at once (mirror serve reads it), and neither the
    # register nor anything else in the state folder holds the plain e-mail.
    assert forgot["mirror_suppressed"]["persons"] == 1
    assert forgot["mirror_suppressed"]["objects"]["contacts"] == 1
    needles = [who["email"].encode(), who["email"].upper().encode(), shown.encode()]
    assert _files_without(state, needles) >= 3
    _ok(vk(config, "backup"))                  # the fourth carries the register inside
    assert _files_without(state, needles) >= 3

    # The next drill of a snapshot that still holds the person: verified, suppression counted.
    drill = json.loads(_ok(vk(config, "drill", "--location", "nas", "--snapshot",
                              before["snapshot_id"][:8], "--json")).stdout)
    assert drill["result"] == "verified", drill["failures"]
    sup = drill["suppressed"]
    assert sup["persons"] == 1 and "1 erased person suppressed" in sup["summary"]
    assert sup["objects"]["contacts"] == 1 and sup["objects"]["notes"] >= 1
    assert sup["objects"]["deals"] >= 1
    rows = {o["object"]: o for o in drill["objects"]}
    for name, n in sup["objects"].items():
        assert rows[name]["expected_after_suppression"] == rows[name]["expected"] - n
        assert rows[name]["mirror_rows"] == rows[name]["expected"] - n
    db = sqlite3.connect(mirror)
    assert db.execute("select count(*) from contacts where id = ?", (who["id"],)).fetchone()[0] == 0
    assert db.execute("select count(*) from notes where id = ?", (who["note"],)).fetchone()[0] == 0
    assert db.execute("select count(*) from deals where id = ?", (who["deal"],)).fetchone()[0] == 0
    assert db.execute("select count(*) from rel_notes__contacts where to_id = ?",
                      (who["id"],)).fetchone()[0] == 0
    db.close()
    assert who["email"].encode() not in mirror.read_bytes()   # no free page keeps it
    _files_without(state, needles)             # now nothing in the state folder holds it

    # The emergency package from the drilled snapshot: absent, counted, still verifies.
    pkg = tmp_path / "pkg"
    built = json.loads(_ok(vk(config, "emergency", "--out", str(pkg), "--json")).stdout)
    assert built["suppressed"]["persons"] == 1
    assert built["counts"]["contacts"] == rows["contacts"]["expected"] - 1
    _files_without(pkg, [who["email"].encode(), who["email"].lower().encode()])
    _ok(vk(config, "emergency", "verify", str(pkg)))

    # Another installation (empty state, no register) building from the newest snapshot: the
    # register backed up inside it suppresses the person.
    other = tmp_path / "other.toml"
    other.write_text(config.read_text() + f'\n[paths]\nstate_dir = "{tmp_path / "other"}"\n')
    pkg2 = tmp_path / "pkg2"
    built2 = json.loads(_ok(vk(other, "emergency", "--out", str(pkg2), "--json")).stdout)
    assert built2["suppressed"]["persons"] == 1
    _files_without(pkg2, [who["email"].encode()])

    # Escrow release of the deposit made before the request (escrow key password).
    rel = tmp_path / "released"
    released = json.loads(_ok(vk(config, "escrow", "release", "--out", str(rel), "--password",
                                 f"file:{escrow_key}", "--json")).stdout)
    assert released["package"]["suppressed"]["persons"] == 1
    _files_without(rel, [who["email"].encode()])
