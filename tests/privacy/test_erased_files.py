"""Files follow an erased person (issue 18): with the real CLI, restic and the sandbox over HTTP
(HubSpot, files on), a person whose own note carries an attachment is forgotten; the drilled
mirror (``_files`` / ``_file_links``), the next drill and the emergency package then hold
neither the file nor its bytes, and each says how many files were left out."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from vk_files import files_config, run

from vaultkeeper.config import load_settings
from vaultkeeper.sandbox import FaultConfig, Sandbox


def _ok(result):  # type: ignore[no-untyped-def]
    assert result.returncode == 0, (result.returncode, result.stdout[-2000:],
                                    result.stderr[-3000:])
    return result


def _owner_of_a_file(mirror: Path) -> dict[str, str]:
    """A contact with an e-mail whose note (theirs alone) has a non-empty attachment."""
    db = sqlite3.connect(mirror)
    row = db.execute(
        "select c.id, c.email, n.id, f.kind, f.id, f.sha256 from contacts c "
        "join rel_notes__contacts rn on rn.to_id = c.id join notes n on n.id = rn.from_id "
        "join _file_links l on l.object = 'notes' and l.record_id = n.id "
        "join _files f on f.kind = l.kind and f.id = l.file_id "
        "where c.email like '%@%' and c._archived = 0 and f.size > 0 "
        "and (select count(*) from rel_notes__contacts x where x.from_id = n.id) = 1 "
        "and (select count(*) from _file_links y where y.kind = f.kind "
        "     and y.file_id = f.id) = 1 "
        # a contact without a file of their own in a file property (one file to suppress)
        "and not exists (select 1 from _file_links p where p.object = 'contacts' "
        "     and p.record_id = c.id) limit 1").fetchone()
    db.close()
    assert row, "the sandbox should hold a contact with an attachment on a note of their own"
    return dict(zip(("contact", "email", "note", "kind", "file", "sha256"), row, strict=True))


def _files_count(mirror: Path, file_id: str) -> tuple[int, int, int]:
    db = sqlite3.connect(mirror)
    try:
        return (db.execute("select count(*) from _files").fetchone()[0],
                db.execute("select count(*) from _files where id = ?", (file_id,)).fetchone()[0],
                db.execute("select count(*) from _file_links where file_id = ?",
                           (file_id,)).fetchone()[0])
    finally:
        db.close()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_forgotten_persons_files_leave_mirror_drill_and_package(tmp_path: Path) -> None:
    with Sandbox(records=400, seed=5, faults=FaultConfig.parse("none")) as sb:
        config = files_config(tmp_path, sb, "hubspot")
        mirror = load_settings(config).state_dir / "mirror" / "mirror.db"
        _ok(run(config, sb, "locations", "init"))
        _ok(run(config, sb, "backup"))
        first = json.loads(_ok(run(config, sb, "drill", "--json")).stdout)
        who = _owner_of_a_file(mirror)
        total, _, _ = _files_count(mirror, who["file"])
        assert total == first["files"]["files"] >= 2

        forgot = json.loads(_ok(run(config, sb, "privacy", "forget", "--email", who["email"],
                                    "--ref", "AVG-1", "--json")).stdout)
        # The drilled mirror (what `mirror serve` reads) drops the file at once.
        assert forgot["mirror_suppressed"]["files"] == 1
        assert _files_count(mirror, who["file"]) == (total - 1, 0, 0)

        # The next drill of the same snapshot: verified, the file counted as suppressed.
        drill = json.loads(_ok(run(config, sb, "drill", "--json")).stdout)
        assert drill["result"] == "verified", drill["failures"]
        assert drill["suppressed"]["files"] == 1 and "1 file)" in drill["suppressed"]["summary"]
        assert drill["files"]["suppressed"] == 1
        assert drill["files"]["after_suppression"] == total - 1
        assert _files_count(mirror, who["file"]) == (total - 1, 0, 0)

        # The emergency package: no such file, no such bytes, and it says how many left.
        out = tmp_path / "package"
        built = json.loads(_ok(run(config, sb, "emergency", "--out", str(out),
                                   "--json")).stdout)
        check = run(config, sb, "emergency", "verify", str(out), "--json")
    assert built["suppressed"]["files"] == 1 and built["suppressed"]["persons"] == 1
    assert built["suppressed"]["file_links"] >= 1
    with (out / "files" / "file_links.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert who["file"] not in {r["file_id"] for r in rows}
    assert who["note"] not in {r["legacy_id"] for r in rows}
    assert len({r["file_id"] for r in rows}) == total - 1
    shas = {hashlib.sha256(p.read_bytes()).hexdigest()
            for p in (out / "files").rglob("*") if p.is_file()}
    assert who["sha256"] not in shas
    assert len(shas) >= 2      # the other files are there
    assert check.returncode == 0, check.stdout + check.stderr


def test_only_files_that_are_theirs_alone_go() -> None:
    """The rule itself: every link to an exported object names a suppressed record → dropped;
    a file shared with a kept record stays (its erased link counted); links to objects the
    export does not hold (Salesforce users) make a file nobody's; unlinked files stay."""
    from vaultkeeper.exportfmt_files import FileRecord
    from vaultkeeper.services.privacy.suppress import Suppression, _files

    def rec(fid: str, *links: tuple[str, str]) -> FileRecord:
        return FileRecord("hubspot-file", fid, f"{fid}.pdf", 10, "", "0" * 64, "", links)

    result = Suppression(ids={"notes": {"1"}, "contacts": {"9"}})
    _files([rec("alone", ("notes", "1")),
            rec("shared", ("notes", "1"), ("notes", "2")),
            rec("with-user", ("contacts", "9"), ("User", "u1")),
            rec("others", ("notes", "2")),
            rec("unlinked")], {"notes", "contacts"}, result)
    assert result.files == {("hubspot-file", "alone"), ("hubspot-file", "with-user")}
    assert result.file_links == 3
    assert result.as_json()["files"] == 2 and "2 files)" in result.summary()
