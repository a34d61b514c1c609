"""HubSpot files over HTTP against the sandbox, with the real CLI and the real restic: every file
arrives with its hash and its notes; a missing file makes the export incomplete and is named;
a changed file is detected; a drill fails when a file's bytes change in a snapshot."""

from __future__ import annotations

import json
import sqlite3

import pytest
from vk_drill import snapshot
from vk_files import files_config, index, run, sha256_of

from vaultkeeper.sandbox import FaultConfig, Sandbox
from vaultkeeper.sandbox.hs_schema import ID_BASES


@pytest.fixture(scope="module")
def sb():
    with Sandbox(records=300, seed=3, faults=FaultConfig.parse("none")) as sandbox:
        yield sandbox


def _note_id(index_: int) -> str:
    return str(40000000001 + index_)


def _links(f) -> list[dict[str, str]]:
    """The links a file has in an export of notes and contacts (companies are not exported)."""
    if f.owner == "notes":
        return [{"object": "notes", "id": _note_id(f.index)}]
    if f.owner == "contacts":
        return [{"object": "contacts", "id": str(ID_BASES["contacts"] + f.index),
                 "property": "signed_membership_form"}]
    return []


def test_files_arrive_with_hashes_and_links(sb, tmp_path):
    config = files_config(tmp_path, sb, "hubspot")
    out = tmp_path / "export"
    result = run(config, sb, "export", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    expected = {f.id: f for f in sb.files.hubspot_all()}
    assert len(sb.files.all()) >= 5
    assert manifest["files"]["count"] == len(expected)
    assert manifest["files"]["bytes"] == sum(f.size for f in expected.values())
    assert manifest["files"]["sha256"] == sha256_of(out / "files" / "index.ndjson")
    lines = index(out)
    assert sorted(line["id"] for line in lines) == sorted(expected)
    for line in lines:
        f = expected[line["id"]]
        assert line["kind"] == "hubspot-file" and line["name"] == f.filename
        assert line["size"] == f.size
        assert line["sha256"] == sb.files.sha256(f)              # the bytes the source holds
        assert line["path"] == f"files/{line['sha256'][:2]}/{line['sha256']}"
        assert sha256_of(out / line["path"]) == line["sha256"]   # the bytes on disk
        assert line["links"] == _links(f)
    # Links come from the notes themselves: each attached note names its file.
    notes = [json.loads(x) for x in (out / "objects" / "notes.ndjson").read_text().splitlines()]
    attached = {n["id"]: n["properties"]["hs_attachment_ids"] for n in notes
                if n["properties"].get("hs_attachment_ids")}
    assert attached == {_note_id(f.index): f.id for f in sb.files.all()}


def test_limits_skip_files_and_list_them(sb, tmp_path):
    config = files_config(tmp_path, sb, "hubspot",
                          files='{ max_size = "2 kB", include = ["*.pdf", "*.txt"] }')
    out = tmp_path / "export"
    result = run(config, sb, "export", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    files = json.loads((out / "manifest.json").read_text())["files"]
    every = sb.files.hubspot_all()
    kept = {f.id for f in every if f.extension in ("pdf", "txt") and f.size <= 2000}
    assert {line["id"] for line in index(out)} == kept
    skipped = {s["id"]: s["reason"] for s in files["skipped"]}
    assert set(skipped) == {f.id for f in every} - kept and skipped   # none silently dropped
    report = json.loads(result.stdout)["files"]   # the run's report lists them too
    assert {s["id"] for s in report["skipped"]} == set(skipped)
    assert report["count"] == len(kept) and report["downloaded"] == len(kept)
    for f in every:
        if f.id in skipped and f.extension not in ("pdf", "txt"):
            assert "include" in skipped[f.id]
        elif f.id in skipped:
            assert "max_size" in skipped[f.id]


def test_missing_file_makes_the_export_incomplete_and_names_it(tmp_path):
    with Sandbox(records=300, seed=3, faults=FaultConfig.parse("missing_files:every=3")) as sb:
        gone = [f for f in sb.files.hubspot_all() if f.missing]
        assert gone, "the fault must hit at least one file at this seed"
        removed = next(f for f in sb.files.all() if not f.missing)
        sb.files.remove(removed.id)   # deleted in HubSpot, still named by its note
        config = files_config(tmp_path, sb, "hubspot")
        out = tmp_path / "export"
        result = run(config, sb, "export", "--out", str(out), "--json")
    assert result.returncode == 3, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    failed = {f["id"]: f for f in manifest["files"]["failed"]}
    assert set(failed) == {f.id for f in gone} | {removed.id}
    for f in gone:
        assert any(f.filename in p for p in manifest["problems"])
        assert f.filename in result.stdout + result.stderr
    assert any(removed.id in p for p in manifest["problems"])
    assert failed[removed.id]["links"] == [{"object": "notes", "id": _note_id(removed.index)}]
    # The files that could be had are all there.
    assert len(index(out)) == len(sb.files.hubspot_all()) - len(gone)


def test_changed_file_is_detected_and_drill_verifies_files_and_links(sb, tmp_path):
    config = files_config(tmp_path, sb, "hubspot")
    assert run(config, sb, "locations", "init").returncode == 0
    first = run(config, sb, "backup", "--json")
    assert first.returncode == 0, first.stderr
    drill = run(config, sb, "drill", "--json")
    assert drill.returncode == 0, drill.stderr
    report = json.loads(drill.stdout)
    files = report["files"]
    every = sb.files.hubspot_all()
    assert files["ok"] and files["files"] == len(every) == files["verified"]
    assert files["links_checked"] == sum(len(_links(f)) for f in every)
    assert files["links_unresolved"] == 0
    # The mirror lists every file with its note.
    from vaultkeeper.db.mirror_files import files_with_links

    rows = files_with_links(tmp_path / ".vaultkeeper" / "mirror" / "mirror.db")
    assert {(r[1], r[3], r[4]) for r in rows} == {
        (f.id, link["object"], link["id"]) for f in every for link in _links(f)}

    target = sb.files.all()[1]
    before = sb.files.sha256(target)
    changed = sb.files.change(target.id)   # new bytes and a new modified stamp at the source
    sb.clear_log()
    second = run(config, sb, "backup", "--json")
    assert second.returncode == 0, second.stderr
    # Only the changed file was downloaded again; the others came from the last snapshot.
    downloads = [r.path for r in sb.request_log if r.path.startswith("/hubfs-signed/")]
    assert downloads == [f"/hubfs-signed/{target.id}"]
    assert run(config, sb, "drill", "--json").returncode == 0
    mirror = tmp_path / ".vaultkeeper" / "mirror" / "mirror.db"
    with sqlite3.connect(mirror) as conn:
        found = dict(conn.execute("SELECT id, sha256 FROM _files").fetchall())
    assert found[target.id] == sb.files.sha256(changed) != before
    with sqlite3.connect(mirror) as conn:   # the drilled snapshot's manifest
        manifest = json.loads(conn.execute(
            "SELECT value FROM _mirror_info WHERE key = 'manifest'").fetchone()[0])
    assert manifest["files"]["downloaded"] == 1
    assert manifest["files"]["reused"] == len(every) - 1
    others = [f for f in every if f.id != target.id]
    assert all(found[f.id] == sb.files.sha256(f) for f in others)


def test_drill_fails_when_a_file_changes_in_the_snapshot(sb, tmp_path):
    config = files_config(tmp_path, sb, "hubspot")
    assert run(config, sb, "locations", "init").returncode == 0
    export = tmp_path / "export"
    assert run(config, sb, "export", "--out", str(export)).returncode == 0
    victim = index(export)[2]
    blob = export / victim["path"]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.chmod(0o600)
    blob.write_bytes(bytes(data))   # the manifest and the index still say the old hash
    snapshot(tmp_path, tmp_path / "loc" / "nas", export)
    result = run(config, sb, "drill", "--json")
    assert result.returncode == 4, result.stderr
    assert victim["name"] in result.stderr
    report = json.loads(result.stdout)
    assert report["result"] == "failed"
    assert any(victim["name"] in f["object"] and "bytes changed" in f["problem"]
               for f in report["failures"])
