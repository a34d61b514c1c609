"""HubSpot files referenced from file properties (fieldType "file"), over HTTP against the sandbox
with the real CLI and restic: each arrives with its hash and a link naming the record and the
property; the official SDK (hubspot-api-client) reading the same file is the witness; a changed
one is detected; a missing one makes the export incomplete and is named; the mirror, the drill
and the package carry the property through the existing link machinery."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import ssl
from typing import Any

import httpx
import hubspot
import pytest
from vk_files import files_config, index, run, sha256_of

from vaultkeeper.sandbox import FaultConfig, Sandbox
from vaultkeeper.sandbox.hs_schema import ID_BASES

PROPS = {"contacts": "signed_membership_form", "companies": "signed_agreement"}
OBJECTS = '["notes", "contacts", "companies"]'


@pytest.fixture(scope="module")
def sb():
    with Sandbox(records=300, seed=3, faults=FaultConfig.parse("none")) as sandbox:
        yield sandbox


def _record_id(f: Any) -> str:
    return str(ID_BASES[f.owner] + f.index)


def _with_objects(config):
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('objects = ["notes", "contacts"]', f"objects = {OBJECTS}"),
                      encoding="utf-8")
    return config


def test_property_files_arrive_with_hash_and_record_property_link(sb, tmp_path):
    config = _with_objects(files_config(tmp_path, sb, "hubspot"))
    out = tmp_path / "export"
    result = run(config, sb, "export", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    owned = sb.files.property_files()
    assert {f.owner for f in owned} == {"contacts", "companies"} and len(owned) >= 10
    lines = {line["id"]: line for line in index(out)}
    for f in owned:
        line = lines[f.id]
        assert line["sha256"] == sb.files.sha256(f) == sha256_of(out / line["path"])
        assert line["size"] == f.size and line["name"] == f.filename
        assert line["links"] == [{"object": f.owner, "id": _record_id(f),
                                  "property": PROPS[f.owner]}]
    # The links come from the records themselves: each record's property names its file.
    for obj, prop in PROPS.items():
        records = [json.loads(x) for x in (out / "objects" / f"{obj}.ndjson").read_text()
                   .splitlines()]
        named = {r["id"]: r["properties"][prop] for r in records if r["properties"].get(prop)}
        assert named == {_record_id(f): f.id for f in owned if f.owner == obj}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["files"]["count"] == len(sb.files.hubspot_all()) == len(lines)
    assert manifest["files"]["failed"] == [] and manifest["files"]["skipped"] == []

    # Witness: HubSpot's own SDK reads the property, the file and its bytes the same way.
    client = hubspot.Client.create(access_token=sb.token, host=sb.url, base_url=sb.url,
                                   ssl_ca_cert=str(sb.ca_file))
    f = next(x for x in owned if x.owner == "contacts" and x.size > 0)
    contact = client.crm.contacts.basic_api.get_by_id(_record_id(f),
                                                      properties=[PROPS["contacts"]])
    assert contact.properties[PROPS["contacts"]] == f.id
    meta = client.files.files_api.get_by_id(f.id)
    assert meta.size == lines[f.id]["size"]
    signed = client.files.files_api.get_signed_url(f.id)
    body = httpx.get(signed.url, headers={"Authorization": f"Bearer {sb.token}"},
                     verify=ssl.create_default_context(cafile=str(sb.ca_file)))
    assert body.status_code == 200, body.text
    assert hashlib.sha256(body.content).hexdigest() == lines[f.id]["sha256"]


def test_changed_property_file_detected_and_carried_by_mirror_drill_package(sb, tmp_path):
    config = _with_objects(files_config(tmp_path, sb, "hubspot"))
    assert run(config, sb, "locations", "init").returncode == 0
    assert run(config, sb, "backup", "--json").returncode == 0
    target = next(f for f in sb.files.property_files("companies"))
    before = sb.files.sha256(target)
    changed = sb.files.change(target.id)
    sb.clear_log()
    second = run(config, sb, "backup", "--json")
    assert second.returncode == 0, second.stderr
    downloads = [r.path for r in sb.request_log if r.path.startswith("/hubfs-signed/")]
    assert downloads == [f"/hubfs-signed/{target.id}"]   # only the changed one again
    drill = run(config, sb, "drill", "--json")
    assert drill.returncode == 0, drill.stderr
    files = json.loads(drill.stdout)["files"]
    every = sb.files.hubspot_all()
    assert files["verified"] == len(every) and files["links_unresolved"] == 0
    assert files["links_checked"] == len(every)   # one link each: a note or a record's property
    mirror = tmp_path / ".vaultkeeper" / "mirror" / "mirror.db"
    with sqlite3.connect(mirror) as conn:
        sha = conn.execute("SELECT sha256 FROM _files WHERE id = ?", (target.id,)).fetchone()[0]
        links = conn.execute("SELECT object, record_id, property FROM _file_links "
                             "WHERE property != '' ORDER BY file_id").fetchall()
    assert sha == sb.files.sha256(changed) != before
    assert links == [(f.owner, _record_id(f), PROPS[f.owner])
                     for f in sorted(sb.files.property_files(), key=lambda x: x.id)]

    package = tmp_path / "package"
    assert run(config, sb, "emergency", "--out", str(package), "--json").returncode == 0
    rows = (package / "files" / "file_links.csv").read_text(encoding="utf-8").splitlines()
    row = next(r for r in rows if f",{target.id}," in r)
    assert row.endswith(f",companies,{_record_id(target)},yes,signed_agreement")


def test_missing_property_file_makes_export_incomplete_naming_it(tmp_path):
    with Sandbox(records=300, seed=3, faults=FaultConfig.parse("none")) as sb:
        gone = sb.files.property_files("contacts")[0]
        sb.files.remove(gone.id)   # deleted in HubSpot; the contact's property still names it
        config = _with_objects(files_config(tmp_path, sb, "hubspot"))
        out = tmp_path / "export"
        result = run(config, sb, "export", "--out", str(out), "--json")
        kept = len(sb.files.hubspot_all())
    assert result.returncode == 3, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    failed = manifest["files"]["failed"]
    assert [f["id"] for f in failed] == [gone.id]
    assert failed[0]["links"] == [{"object": "contacts", "id": _record_id(gone),
                                   "property": "signed_membership_form"}]
    assert any(gone.id in p for p in manifest["problems"])
    assert gone.id in result.stdout
    assert len(index(out)) == kept


def test_a_value_that_is_no_file_id_is_listed_as_skipped(tmp_path):
    with Sandbox(records=300, seed=3, faults=FaultConfig.parse("none")) as sb:
        contact = str(ID_BASES["contacts"] + 1)
        http = httpx.Client(base_url=sb.url, headers={"Authorization": f"Bearer {sb.token}"},
                            verify=ssl.create_default_context(cafile=str(sb.ca_file)))
        url = "https://example.org/forms/old-upload.pdf"
        answer = http.patch(f"/crm/v3/objects/contacts/{contact}",
                            json={"properties": {"signed_membership_form": url}})
        assert answer.status_code == 200, answer.text
        config = _with_objects(files_config(tmp_path, sb, "hubspot"))
        out = tmp_path / "export"
        result = run(config, sb, "export", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    skipped = json.loads((out / "manifest.json").read_text())["files"]["skipped"]
    assert [(s["id"], s["links"]) for s in skipped] == [
        (url, [{"object": "contacts", "id": contact, "property": "signed_membership_form"}])]
    assert "no HubSpot file id" in skipped[0]["reason"]
