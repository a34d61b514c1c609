"""`restore` puts files back, over HTTP against the sandbox, with the real CLI and restic: a note
(HubSpot) / Task (Salesforce) archived together with its attachment comes back with the file,
linked to the restored record, with the same bytes — read back through the official SDKs
(hubspot-api-client, simple-salesforce) as independent witnesses; a second restore uploads
nothing; an upload the CRM refuses makes the restore partial (exit 3), names the file, and the
same command later puts it back."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hubspot
import pytest
import requests
from simple_salesforce import Salesforce
from vk_restore import SEED, run, run_json, write_config

from vaultkeeper.connectors import make_writer
from vaultkeeper.connectors.file_writer import SnapshotFile, file_writer
from vaultkeeper.connectors.writer import CrmWriter
from vaultkeeper.db import open_state_db
from vaultkeeper.db import restores as journal
from vaultkeeper.sandbox import FaultConfig, Sandbox, sf_schema
from vaultkeeper.services.restore.files import _put

RECORDS = 300
NOTES = {"hubspot": "notes", "salesforce": "Task"}
_TEMPLATES: dict[str, tuple[Path, str]] = {}


def _config(root: Path, vendor: str, sb: Sandbox) -> Path:
    config = write_config(root, vendor, sb)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("max_retries = 12\n", "max_retries = 3\nfiles = {}\n", 1),
                      encoding="utf-8")
    return config


def _template(vendor: str, factory: pytest.TempPathFactory) -> tuple[Path, str]:
    if vendor not in _TEMPLATES:
        root = factory.mktemp(f"files-restore-{vendor}")
        with Sandbox(records=RECORDS, seed=SEED) as sb:
            config = _config(root, vendor, sb)
            assert run(config, "locations", "init").returncode == 0
            backup = run_json(config, "backup")
            assert backup["status"] == "ok", backup
            assert backup["files"]["count"] > 5, backup["files"]
        _TEMPLATES[vendor] = (root, backup["snapshot_id"])
    return _TEMPLATES[vendor]


class FilesWorld:
    """A copy of the backed-up tree, a fresh sandbox as it was then, a writer on it."""

    def __init__(self, vendor: str, root: Path, sb: Sandbox, snapshot: str) -> None:
        self.vendor, self.root, self.sb, self.snapshot = vendor, root, sb, snapshot
        self.config = _config(root, vendor, sb)
        self.writer: CrmWriter = make_writer(vendor, sb.url, sb.token, ca_file=sb.ca_file)


@pytest.fixture(params=["hubspot", "salesforce"])
def vendor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _world(vendor: str, factory: pytest.TempPathFactory, tmp_path: Path,
           faults: str = "none") -> FilesWorld:
    template, snapshot = _template(vendor, factory)
    root = tmp_path / "w"
    shutil.copytree(template, root, symlinks=True)
    sb = Sandbox(records=RECORDS, seed=SEED, faults=FaultConfig.parse(faults)).start()
    return FilesWorld(vendor, root, sb, snapshot)


@pytest.fixture
def world(vendor: str, tmp_path_factory: pytest.TempPathFactory,
          tmp_path: Path) -> Iterator[FilesWorld]:
    w = _world(vendor, tmp_path_factory, tmp_path)
    yield w
    w.writer.close()
    w.sb.stop()


# -- the sandbox's record ids of a file's owner ------------------------------------------------
def _owner(vendor: str, f: Any) -> str:
    if vendor == "hubspot":
        return str(40000000001 + f.index)
    return sf_schema.sf_id("00T", f.index)


def _pick(w: FilesWorld, n: int, *, legacy: bool | None = None,
          max_size: int = 400_000) -> list[Any]:
    """``n`` files (small enough to keep the test quick), their owners live now."""
    files = [f for f in w.sb.files.all() if 0 < f.size <= max_size
             and (legacy is None or f.legacy_attachment == legacy)]
    owners = w.writer.fetch(NOTES[w.vendor], [_owner(w.vendor, f) for f in files])
    live = [f for f in files if _owner(w.vendor, f) in owners
            and not owners[_owner(w.vendor, f)].archived]
    assert len(live) >= n
    return live[:n]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- witnesses: the official SDKs -----------------------------------------------------------
def _session(sb: Sandbox) -> requests.Session:
    session = requests.Session()
    session.verify = str(sb.ca_file)
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {sb.token}"
    return session


def _hubspot_files_of(sb: Sandbox, note_id: str) -> dict[str, str]:
    """File id → SHA-256 of the files a note names, through hubspot-api-client."""
    client = hubspot.Client.create(access_token=sb.token, host=sb.url, base_url=sb.url,
                                   ssl_ca_cert=str(sb.ca_file))
    note = client.crm.objects.notes.basic_api.get_by_id(note_id,
                                                         properties=["hs_attachment_ids"])
    out = {}
    for file_id in (note.properties.get("hs_attachment_ids") or "").split(";"):
        if file_id:
            url = client.files.files_api.get_signed_url(file_id).url
            out[file_id] = _sha(_session(sb).get(url, timeout=60).content)
    return out


def _salesforce_files_of(sb: Sandbox, record_id: str) -> list[str]:
    """SHA-256 of every file on a record (ContentVersion via ContentDocumentLink, and
    Attachments), through simple-salesforce."""
    session = _session(sb)
    sf = Salesforce(instance_url=sb.url, session_id=sb.token, version="59.0", session=session)
    shas = []
    links = sf.query("SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId "
                     f"IN ('{record_id}')")["records"]
    docs = ",".join(f"'{r['ContentDocumentId']}'" for r in links)
    if docs:
        for v in sf.query("SELECT Id FROM ContentVersion WHERE ContentDocumentId IN "
                          f"({docs}) AND IsLatest = true")["records"]:
            body = session.get(f"{sb.url}/services/data/v59.0/sobjects/ContentVersion/"
                               f"{v['Id']}/VersionData", timeout=60)
            shas.append(_sha(body.content))
    for a in sf.query(f"SELECT Id FROM Attachment WHERE ParentId IN ('{record_id}')")[
            "records"]:
        body = session.get(f"{sb.url}/services/data/v59.0/sobjects/Attachment/{a['Id']}/Body",
                           timeout=60)
        shas.append(_sha(body.content))
    return shas


def _restore(w: FilesWorld, owners: list[str], *extra: str,
             ok: tuple[int, ...] = (0,)) -> dict[str, Any]:
    return run_json(w.config, "restore", "--snapshot", w.snapshot, "--object",
                    NOTES[w.vendor], "--ids", ",".join(owners), *extra, ok=ok)


def _target(w: FilesWorld, report: dict[str, Any], old: str) -> str:
    return report["id_map"].get(NOTES[w.vendor], {}).get(old, old)


# -- the tests ------------------------------------------------------------------------------
def test_archived_record_with_its_file_comes_back(world: FilesWorld) -> None:
    w = world
    kept, lost = _pick(w, 2, legacy=None if w.vendor == "hubspot" else False)
    extra = _pick(w, 1, legacy=True)[0] if w.vendor == "salesforce" else None
    want = {f.id: (w.sb.files.sha256(f), f.size) for f in (kept, lost, extra) if f}
    victims = [f for f in (kept, lost, extra) if f]
    owners = [_owner(w.vendor, f) for f in victims]
    assert w.writer.archive(NOTES[w.vendor], owners).ok
    w.sb.files.remove(lost.id)                    # the attachment went with the note
    if extra is not None:
        w.sb.files.remove(extra.id)               # a legacy Attachment too
    gone = [f for f in victims if f is not kept]

    plan = _restore(w, owners, "--dry-run")
    assert plan["status"] == "planned"
    assert w.sb.files.uploads.uploads == 0        # a dry run writes nothing
    files = plan["files"]
    assert files["to_upload"] == len(gone) and files["bytes"] == sum(f.size for f in gone)
    assert sorted(i["name"] for i in files["items"] if i["state"] == "planned") == \
        sorted(f.filename for f in gone)
    assert all(i["size"] > 0 and i["action"] == "upload" for i in files["items"])

    report = _restore(w, owners)
    assert report["exit_code"] == 0, (report["error"], report["files"], report["mismatches"])
    files = report["files"]
    assert files["uploaded"] == len(gone) and files["failed"] == 0
    assert files["present"] == len(victims) - len(gone)
    assert w.sb.files.uploads.uploads == len(gone)
    assert report["mismatches"] == []
    for f in victims:
        record = _target(w, report, _owner(w.vendor, f))
        if w.vendor == "hubspot":
            named = _hubspot_files_of(w.sb, record)
            assert list(named.values()) == [want[f.id][0]], f.id   # linked, same bytes
            if f is lost:
                new = next(i["new_id"] for i in files["items"] if i["file_id"] == f.id)
                assert list(named) == [new] and new != f.id
            else:
                assert list(named) == [f.id]                        # the live file, re-linked
        else:
            assert _salesforce_files_of(w.sb, record) == [want[f.id][0]], f.id

    again = _restore(w, owners)
    assert again["exit_code"] == 0, again["error"]
    assert again["files"]["uploaded"] == 0 and again["files"]["to_upload"] == 0
    assert again["files"]["present"] == len(victims)
    assert w.sb.files.uploads.uploads == len(gone)   # nothing uploaded twice


def test_refused_upload_is_partial_names_the_file_and_comes_back_later(
        vendor: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    w = _world(vendor, tmp_path_factory, tmp_path, faults="upload_limit:bytes=50000")
    try:
        small = next(f for f in w.sb.files.all() if 0 < f.size < 40_000
                     and not f.legacy_attachment)
        big = next(f for f in w.sb.files.all() if 60_000 < f.size < 400_000
                   and not f.legacy_attachment)
        owners = [_owner(vendor, f) for f in (small, big)]
        assert w.writer.archive(NOTES[vendor], owners).ok
        for f in (small, big):
            w.sb.files.remove(f.id)

        report = _restore(w, owners, ok=(3,))
        assert report["exit_code"] == 3 and report["status"] == "partial"
        files = report["files"]
        assert files["uploaded"] == 1 and files["failed"] == 1
        failed = next(i for i in files["items"] if i["state"] == "failed")
        assert failed["name"] == big.filename and "limit" in failed["reason"], failed
        # the records themselves are restored; the small file is back
        done = {r["id"]: r["outcome"] for r in report["records"]}
        assert set(done.values()) <= {"Created", "Undeleted"}
        assert w.sb.files.uploads.uploads == 1
        human = run(w.config, "restore", "--snapshot", w.snapshot, "--object", NOTES[vendor],
                    "--ids", ",".join(owners), "--dry-run")
        assert human.returncode == 0, human.stderr
        assert big.filename in human.stdout and "would upload" in human.stdout

        w.sb.files.uploads.limit = 0   # the CRM accepts it now: the same command again
        again = _restore(w, owners)
        assert again["exit_code"] == 0, (again["error"], again["files"])
        assert again["files"]["uploaded"] == 1 and again["files"]["present"] == 1
        assert w.sb.files.uploads.uploads == 2
        record = _target(w, report, _owner(vendor, big))
        got = (list(_hubspot_files_of(w.sb, record).values()) if vendor == "hubspot"
               else _salesforce_files_of(w.sb, record))
        assert got == [w.sb.files.sha256(big)]
    finally:
        w.writer.close()
        w.sb.stop()


def test_changed_file_is_kept_unless_asked(world: FilesWorld) -> None:
    w = world
    f = _pick(w, 1, legacy=None if w.vendor == "hubspot" else False)[0]
    before = w.sb.files.sha256(f)
    owner = _owner(w.vendor, f)
    w.sb.files.change(f.id)                       # new bytes at the source since the snapshot
    assert w.writer.archive(NOTES[w.vendor], [owner]).ok

    report = _restore(w, [owner])
    assert report["exit_code"] == 0, report["error"]
    assert report["files"]["kept"] == 1 and report["files"]["uploaded"] == 0
    assert "--replace-changed-files" in report["files"]["items"][0]["reason"]

    back = _restore(w, [owner], "--replace-changed-files")
    assert back["exit_code"] == 0, (back["error"], back["files"])
    assert back["files"]["uploaded"] == 1
    record = _target(w, back, owner) if w.vendor == "salesforce" else _target(w, report, owner)
    got = (list(_hubspot_files_of(w.sb, record).values()) if w.vendor == "hubspot"
           else _salesforce_files_of(w.sb, record))
    assert got == [before]                        # the snapshot's version is back

    json.dumps(back)   # one JSON object


def test_bytes_that_do_not_match_the_index_are_not_uploaded(tmp_path: Path) -> None:
    """The SHA-256 is checked before anything leaves: a blob whose bytes differ from the index
    fails, named, and the CRM receives nothing; the right bytes go up and are journaled."""
    with Sandbox(records=50, seed=SEED) as sb:
        writer = make_writer("salesforce", sb.url, sb.token, ca_file=sb.ca_file)
        try:
            db = open_state_db(tmp_path / "state")
            journal.ensure(db)
            run_id = journal.start_run(db, {"target": "source", "snapshot_id": "x"})
            blob = tmp_path / "blob"
            blob.write_bytes(b"the contract, as signed" * 100)
            good = hashlib.sha256(blob.read_bytes()).hexdigest()
            task = sf_schema.sf_id("00T", 1)
            item = {"kind": "Attachment", "file_id": "00P000000000001", "name": "c.txt",
                    "size": 2300, "records": [f"Task {task}"], "new_id": None, "reason": "",
                    "action": "upload"}
            bad = SnapshotFile("Attachment", item["file_id"], "c.txt", 2300, "0" * 64, "",
                               None, "", blob)
            fw = file_writer(writer)
            out = _put(db, run_id, fw, bad, [("Task", task)], dict(item), "", None)
            assert out["state"] == "failed" and "SHA-256" in out["reason"]
            assert sb.files.uploads.uploads == 0
            right = SnapshotFile("Attachment", item["file_id"], "c.txt", 2300, good, "",
                                 None, "", blob)
            out = _put(db, run_id, fw, right, [("Task", task)], dict(item), "", None)
            assert out["state"] == "done" and out["new_id"]
            assert sb.files.uploads.uploads == 1
            rows = journal.files(db, run_id)
            assert [(r["file_id"], r["state"], r["new_id"]) for r in rows] == [
                (item["file_id"], "done", out["new_id"])]
            assert fw.state(right, [("Task", task)], None).state == "present"
        finally:
            writer.close()


def test_hubspot_file_property_comes_back_in_the_property(
        tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    """A contact whose file property (fieldType "file") named a file that is gone: the
    re-created contact's property names the uploaded file, same bytes (SDK witness)."""
    from vaultkeeper.sandbox.hs_schema import ID_BASES

    w = _world("hubspot", tmp_path_factory, tmp_path)
    try:
        files = [f for f in w.sb.files.property_files("contacts") if 0 < f.size < 400_000]
        live = w.writer.fetch("contacts", [str(ID_BASES["contacts"] + f.index) for f in files],
                              properties=["email"])
        good = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
        # a contact the CRM takes back as it was (some seeded e-mails it would refuse)
        files = [f for f in files if (rec := live.get(str(ID_BASES["contacts"] + f.index)))
                 and not rec.archived and good.fullmatch(str(rec.properties.get("email")))]
        assert files, "the seed must give some contacts a signed membership form"
        f = files[0]
        contact = str(ID_BASES["contacts"] + f.index)
        want = w.sb.files.sha256(f)
        assert w.writer.archive("contacts", [contact]).ok
        w.sb.files.remove(f.id)

        report = run_json(w.config, "restore", "--snapshot", w.snapshot, "--object",
                          "contacts", "--ids", contact, ok=(0, 3, 4))
        assert report["exit_code"] == 0, (report["error"], report["files"],
                                          report["mismatches"], report["records"])
        assert report["files"]["uploaded"] == 1, report["files"]
        new_file = report["files"]["items"][0]["new_id"]
        new_contact = report["id_map"]["contacts"][contact]
        client = hubspot.Client.create(access_token=w.sb.token, host=w.sb.url,
                                       base_url=w.sb.url, ssl_ca_cert=str(w.sb.ca_file))
        got = client.crm.contacts.basic_api.get_by_id(
            new_contact, properties=["signed_membership_form"])
        assert got.properties["signed_membership_form"] == new_file != f.id
        url = client.files.files_api.get_signed_url(new_file).url
        assert _sha(_session(w.sb).get(url, timeout=60).content) == want

        again = run_json(w.config, "restore", "--snapshot", w.snapshot, "--object",
                         "contacts", "--ids", contact)
        assert again["exit_code"] == 0 and again["files"]["uploaded"] == 0, again["files"]
        assert w.sb.files.uploads.uploads == 1
    finally:
        w.writer.close()
        w.sb.stop()
