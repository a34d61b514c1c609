"""Salesforce files over HTTP against the sandbox, with the real CLI and restic: Salesforce Files
(ContentVersion + ContentDocumentLink) and legacy Attachments arrive with hashes and links, a
missing one makes the export incomplete, a changed one is detected, a drill catches bytes that
changed in a snapshot — and the drill resolves every link against the mirror."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest
from vk_drill import snapshot
from vk_files import files_config, index, run, sf_file_id, sha256_of

from vaultkeeper.sandbox import FaultConfig, Sandbox
from vaultkeeper.sandbox import sf_schema as sf
from vaultkeeper.sandbox.file_routes import folder_id, version_id


@pytest.fixture(scope="module")
def sb():
    with Sandbox(records=300, seed=3, faults=FaultConfig.parse("none")) as sandbox:
        yield sandbox


def _links(sb, f):
    if f.owner == "Document":
        return [{"object": "Folder", "id": folder_id(f.folder)}]
    task = sf.sf_id("00T", f.index)
    if f.legacy_attachment:
        return [{"object": "Task", "id": task}]
    who = sf.values(sb.dataset, "Task", f.index).get("WhoId")
    return [{"object": "Task", "id": task}] + ([{"object": "Contact", "id": who}] if who else [])


def test_files_and_attachments_arrive_with_hashes_and_links(sb, tmp_path):
    config = files_config(tmp_path, sb, "salesforce")
    out = tmp_path / "export"
    result = run(config, sb, "export", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    every = sb.files.all() + sb.files.documents()
    by_id = {sf_file_id(f): f for f in every}
    lines = index(out)
    assert {line["id"] for line in lines} == set(by_id)
    kinds = {line["kind"] for line in lines}
    assert kinds == {"ContentVersion", "Attachment", "Document"}
    for line in lines:
        f = by_id[line["id"]]
        assert line["sha256"] == sb.files.sha256(f) == sha256_of(out / line["path"])
        assert line["size"] == f.size and line["name"] == f.filename
        assert line["links"] == _links(sb, f)
        if line["kind"] == "ContentVersion":   # Salesforce's own checksum, kept and checked
            digest = hashlib.md5((out / line["path"]).read_bytes()).hexdigest()
            assert line["checksum"] == f"md5:{digest}"


def test_missing_file_exits_3_naming_it(tmp_path):
    with Sandbox(records=300, seed=3, faults=FaultConfig.parse("missing_files:every=3")) as sb:
        gone = [f for f in sb.files.all() + sb.files.documents() if f.missing]
        assert gone
        config = files_config(tmp_path, sb, "salesforce")
        result = run(config, sb, "export", "--out", str(tmp_path / "export"), "--json")
    assert result.returncode == 3, result.stderr
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    assert {f["name"] for f in manifest["files"]["failed"]} == {f.filename for f in gone}
    for f in gone:
        assert f.filename in result.stdout


def test_change_detected_and_drill_fails_on_changed_bytes(sb, tmp_path):
    config = files_config(tmp_path, sb, "salesforce")
    assert run(config, sb, "locations", "init").returncode == 0
    assert run(config, sb, "backup", "--json").returncode == 0
    drill = run(config, sb, "drill", "--json")
    assert drill.returncode == 0, drill.stderr
    files = json.loads(drill.stdout)["files"]
    assert files["ok"] and files["links_unresolved"] == 0
    assert files["links_checked"] == sum(len(_links(sb, f)) for f in sb.files.all())

    target = next(f for f in sb.files.all() if not f.legacy_attachment)
    changed = sb.files.change(target.id)   # a new ContentVersion
    export = tmp_path / "export"
    assert run(config, sb, "export", "--out", str(export)).returncode == 0
    ids = {line["id"] for line in index(export)}
    assert version_id(changed) in ids and version_id(target) not in ids
    mirror = tmp_path / ".vaultkeeper" / "mirror" / "mirror.db"
    with sqlite3.connect(mirror) as conn:   # the previous snapshot, as drilled
        old = conn.execute("SELECT sha256 FROM _files WHERE id = ?",
                           (version_id(target),)).fetchone()[0]
    new = next(line for line in index(export) if line["id"] == version_id(changed))
    assert new["sha256"] == sb.files.sha256(changed) != old

    victim = index(export)[0]
    blob = export / victim["path"]
    blob.chmod(0o600)
    blob.write_bytes(blob.read_bytes() + b"!")   # bytes changed after the export
    snapshot(tmp_path, tmp_path / "loc" / "nas", export)
    result = run(config, sb, "drill", "--json")
    assert result.returncode == 4, result.stderr
    assert victim["name"] in result.stderr
    failures = json.loads(result.stdout)["failures"]
    assert any(victim["id"] in f["object"] and "bytes changed" in f["problem"] for f in failures)
