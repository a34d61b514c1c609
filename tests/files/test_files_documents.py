"""Salesforce legacy Documents (the old Documents tab: Document rows in folders, Body at
/sobjects/Document/{id}/Body), over HTTP against the sandbox with the real CLI and restic: each
arrives with its hash, linked to its folder (named); simple-salesforce reading the same body is
the witness; a changed one is detected; a missing one makes the export incomplete (exit 3) and
is named; the drill verifies them and the package carries them with the folders."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3

import pytest
import requests
from simple_salesforce import Salesforce
from vk_files import files_config, index, run, sha256_of

from vaultkeeper.sandbox import FaultConfig, Sandbox
from vaultkeeper.sandbox.file_routes import folder_id, legacy_document_id
from vaultkeeper.sandbox.files import DOCUMENT_FOLDERS


@pytest.fixture(scope="module")
def sb():
    with Sandbox(records=300, seed=3, faults=FaultConfig.parse("none")) as sandbox:
        yield sandbox


def _witness(sb) -> Salesforce:
    session = requests.Session()
    session.verify = str(sb.ca_file)
    session.trust_env = False
    return Salesforce(instance_url=sb.url, session_id=sb.token, version="59.0",
                      session=session)


def test_documents_arrive_with_hash_and_folder(sb, tmp_path):
    config = files_config(tmp_path, sb, "salesforce")
    out = tmp_path / "export"
    result = run(config, sb, "export", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    docs = sb.files.documents()
    assert len(docs) >= 3
    lines = {line["id"]: line for line in index(out) if line["kind"] == "Document"}
    assert set(lines) == {legacy_document_id(d) for d in docs}
    for d in docs:
        line = lines[legacy_document_id(d)]
        assert line["sha256"] == sb.files.sha256(d) == sha256_of(out / line["path"])
        assert line["size"] == d.size and line["name"] == d.filename
        assert line["links"] == [{"object": "Folder", "id": folder_id(d.folder)}]
        assert line["folder_name"] == DOCUMENT_FOLDERS[d.folder]

    # Witness: simple-salesforce lists the same Documents and reads the same bytes.
    sfc = _witness(sb)
    rows = sfc.query_all("SELECT Id, FolderId, Name, BodyLength FROM Document")["records"]
    assert {r["Id"] for r in rows} == set(lines)
    first = rows[0]
    body = sfc.session.get(f"{sfc.base_url}sobjects/Document/{first['Id']}/Body",
                           headers=sfc.headers)
    assert body.status_code == 200 and len(body.content) == first["BodyLength"]
    assert hashlib.sha256(body.content).hexdigest() == lines[first["Id"]]["sha256"]


def test_changed_document_detected_drilled_and_packaged(sb, tmp_path):
    config = files_config(tmp_path, sb, "salesforce")
    assert run(config, sb, "locations", "init").returncode == 0
    assert run(config, sb, "backup", "--json").returncode == 0
    target = sb.files.documents()[1]
    before = sb.files.sha256(target)
    changed = sb.files.change(target)
    sb.clear_log()
    second = run(config, sb, "backup", "--json")
    assert second.returncode == 0, second.stderr
    bodies = [r.path for r in sb.request_log if r.path.endswith("/Body")
              or r.path.endswith("/VersionData")]
    assert len(bodies) == 1 and legacy_document_id(target) in bodies[0]   # only the changed one
    drill = run(config, sb, "drill", "--json")
    assert drill.returncode == 0, drill.stderr
    report = json.loads(drill.stdout)
    assert report["files"]["verified"] == report["files"]["files"]
    assert any("Folder not checked" in w for w in report["warnings"])   # folders: no records
    mirror = tmp_path / ".vaultkeeper" / "mirror" / "mirror.db"
    with sqlite3.connect(mirror) as conn:
        sha = conn.execute("SELECT sha256 FROM _files WHERE kind = 'Document' AND id = ?",
                           (legacy_document_id(target),)).fetchone()[0]
        folders = conn.execute("SELECT DISTINCT record_id FROM _file_links "
                               "WHERE kind = 'Document'").fetchall()
    assert sha == sb.files.sha256(changed) != before
    assert {f for (f,) in folders} == {folder_id(d.folder) for d in sb.files.documents()}

    package = tmp_path / "package"
    assert run(config, sb, "emergency", "--out", str(package), "--json").returncode == 0
    with (package / "files" / "file_links.csv").open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["kind"] == "Document"]
    assert {r["file_id"] for r in rows} == {legacy_document_id(d) for d in sb.files.documents()}
    for row in rows:
        assert row["object"] == "Folder" and row["record_in_package"] == "no"
        data = (package / row["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
    with (package / "files" / "folders.csv").open(encoding="utf-8", newline="") as handle:
        named = {r["folder_id"]: r["name"] for r in csv.DictReader(handle)}
    assert named == {folder_id(d.folder): DOCUMENT_FOLDERS[d.folder]
                     for d in sb.files.documents()}
    check = run(config, sb, "emergency", "verify", str(package), "--json")
    assert check.returncode == 0, check.stdout + check.stderr


def test_missing_document_exits_3_naming_it(tmp_path):
    with Sandbox(records=300, seed=3, faults=FaultConfig.parse("missing_files:every=2")) as sb:
        gone = [d for d in sb.files.documents() if d.missing]
        assert gone, "the fault must hit a Document at this seed"
        config = files_config(tmp_path, sb, "salesforce")
        result = run(config, sb, "export", "--out", str(tmp_path / "export"), "--json")
    assert result.returncode == 3, result.stderr
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    failed = {f["id"]: f for f in manifest["files"]["failed"] if f["kind"] == "Document"}
    assert set(failed) == {legacy_document_id(d) for d in gone}
    for d in gone:
        assert d.filename in result.stdout
        assert failed[legacy_document_id(d)]["links"] == [
            {"object": "Folder", "id": folder_id(d.folder)}]
