"""`vaultkeeper diff` shows files added, removed, changed (SHA-256) and relinked between two
real backups of the sandbox, for HubSpot and Salesforce, in --json and in the table."""

from __future__ import annotations

import base64
import json

import pytest
from vk_files import files_config, run

from vaultkeeper.connectors import make_writer
from vaultkeeper.connectors.writer import RecordUpdate
from vaultkeeper.sandbox import FaultConfig, Sandbox, sf_schema


def _backup(config, sb) -> tuple[str, int]:
    result = run(config, sb, "backup", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    return str(report["snapshot_id"]), int(report["files"]["count"])


def _hs_note(index_: int) -> str:
    return str(40000000001 + index_)


@pytest.mark.parametrize("vendor", ["hubspot", "salesforce"])
def test_diff_shows_files_added_removed_changed_relinked(vendor, tmp_path):
    with Sandbox(records=300, seed=3, faults=FaultConfig.parse("none")) as sb:
        config = files_config(tmp_path, sb, vendor)
        assert run(config, sb, "locations", "init").returncode == 0
        first, n = _backup(config, sb)
        every = sb.files.all()
        writer = make_writer(vendor, sb.url, sb.token, ca_file=sb.ca_file)
        http = writer.http   # type: ignore[attr-defined]
        if vendor == "hubspot":
            changed, removed, relinked, host = every[0], every[1], every[2], every[3]
            sb.files.change(changed.id)
            sb.files.remove(removed.id)   # and its note no longer names it
            assert writer.update("notes", [
                RecordUpdate(_hs_note(removed.index), {"hs_attachment_ids": ""}),
                RecordUpdate(_hs_note(host.index),
                             {"hs_attachment_ids": f"{host.id};{relinked.id}"})]).ok
            response = http.request("POST", "/files/v3/files", body=lambda: {"files": {
                "file": ("new-mandate.pdf", b"%PDF new", "application/pdf"),
                "folderPath": (None, "/x"), "options": (None, '{"access": "PRIVATE"}')}})
            added_id = str(response.json()["id"])
            added_name = "new-mandate.pdf"
            relinked_id, changed_id, removed_id = relinked.id, changed.id, removed.id
            new_link = f"notes {_hs_note(host.index)}"
        else:
            versions = [f for f in every if not f.legacy_attachment]
            legacy = [f for f in every if f.legacy_attachment]
            changed, relinked, removed = versions[0], versions[1], legacy[0]
            sb.files.change(changed.id)
            sb.files.remove(removed.id)
            task = sf_schema.sf_id("00T", versions[2].index)
            doc = sf_schema.sf_id("069", relinked.index)
            root = "/services/data/v59.0/sobjects"
            assert http.request("POST", f"{root}/ContentDocumentLink", json={
                "ContentDocumentId": doc, "LinkedEntityId": task,
                "ShareType": "V"}).status_code == 201
            answer = http.request("POST", f"{root}/Attachment", json={
                "ParentId": task, "Name": "new-mandate.pdf",
                "Body": base64.b64encode(b"%PDF new").decode()})
            added_id, added_name = str(answer.json()["id"]), "new-mandate.pdf"
            from vaultkeeper.sandbox.file_routes import attachment_id, version_id
            changed_id = version_id(sb.files.get(changed.index))   # the new version
            relinked_id = version_id(relinked)
            removed_id = attachment_id(removed)
            new_link = f"Task {task}"
        writer.close()
        second, after = _backup(config, sb)
        assert after == n   # one removed, one added

        result = run(config, sb, "diff", first[:10], second[:10], "--json")
        assert result.returncode == 0, result.stderr
        files = json.loads(result.stdout)["files"]
        assert (files["before"], files["after"]) == (n, n)
        assert (files["added"], files["removed"], files["changed"], files["relinked"]) == \
            (1, 1, 1, 1), files["items"]
        assert files["unchanged"] == n - 3
        by = {i["change"]: i for i in files["items"]}
        assert (by["added"]["id"], by["added"]["name"]) == (added_id, added_name)
        assert by["removed"]["id"] == removed_id
        assert by["changed"]["id"] == changed_id
        assert by["changed"]["sha256_before"] != by["changed"]["sha256_after"]
        assert by["changed"]["sha256_after"] == sb.files.sha256(sb.files.get(changed.index))
        assert by["relinked"]["id"] == relinked_id
        assert by["relinked"]["links_added"] == [new_link]
        assert by["relinked"]["sha256_before"] == by["relinked"]["sha256_after"]

        table = run(config, sb, "diff", first[:10], second[:10])
        assert table.returncode == 0, table.stderr
        assert "(files)" in table.stdout and "new-mandate.pdf" in table.stdout
        assert "file removed:" in table.stdout and "file changed:" in table.stdout
