"""The emergency package carries the files: each under its own name, checked, with a link table
naming the record (legacy id) each belongs to and import steps; `emergency verify` covers them."""

from __future__ import annotations

import csv
import hashlib
import json

from vk_files import files_config, run

from vaultkeeper.sandbox import FaultConfig, Sandbox


def test_package_has_files_link_table_and_import_steps(tmp_path):
    with Sandbox(records=300, seed=3, faults=FaultConfig.parse("none")) as sb:
        config = files_config(tmp_path, sb, "hubspot")
        assert run(config, sb, "locations", "init").returncode == 0
        assert run(config, sb, "backup", "--json").returncode == 0
        expected = {f.id: (f, sb.files.sha256(f)) for f in sb.files.hubspot_all()}
        out = tmp_path / "package"   # from the snapshot; the source must still be configured
        result = run(config, sb, "emergency", "--out", str(out), "--json")
        check = run(config, sb, "emergency", "verify", str(out), "--json")
    assert result.returncode == 0, result.stderr
    with (out / "files" / "file_links.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["file_id"] for r in rows} == set(expected)
    for row in rows:
        f, sha = expected[row["file_id"]]
        assert row["sha256"] == sha and row["name"] == f.filename
        assert hashlib.sha256((out / row["file"]).read_bytes()).hexdigest() == sha
        if f.owner == "notes":
            assert (row["object"], row["legacy_id"]) == ("notes", str(40000000001 + f.index))
            assert row["record_in_package"] == "yes" and row["property"] == ""
        elif f.owner == "contacts":   # a file property's file: the record and the property
            assert (row["object"], row["legacy_id"], row["property"]) == (
                "contacts", str(1001 + f.index), "signed_membership_form")
            assert row["record_in_package"] == "yes"
        else:   # companies are not exported here: the file is kept, with no link
            assert (row["object"], row["legacy_id"]) == ("", "")
    assert {f.owner for f, _ in expected.values()} == {"notes", "contacts", "companies"}
    readme = (out / "files" / "README.md").read_text(encoding="utf-8")
    assert "file_links.csv" in readme and "hs_attachment_ids" in readme and "property" in readme
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout)["ok"]
    sums = (out / "SHA256SUMS").read_text(encoding="utf-8")
    assert all(r["file"] in sums for r in rows)
