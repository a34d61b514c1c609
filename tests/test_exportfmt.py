"""exportfmt (the export format's reader and writer) and the command context."""

from __future__ import annotations

import hashlib
import stat
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from vk_backup import make_config
from vk_drill import make_export

from vaultkeeper.config import load_settings
from vaultkeeper.errors import ExitCode, ExportError, StorageError
from vaultkeeper.exportfmt import MANIFEST, ExportFolder, Manifest, find_export_root
from vaultkeeper.services.context import CommandContext

CONTACTS = [{"id": str(100 + i), "archived": i == 3, "properties": {"email": f"p{i}@x.org"}}
            for i in range(5)]
COMPANIES = [{"id": "9", "archived": False, "properties": {"name": "Acme"}}]


def _export(root: Path) -> dict:
    return make_export(root, {"contacts": CONTACTS, "companies": COMPANIES},
                       {"contacts__companies": [{"from_id": "100", "to_id": "9", "type": "x"}]})


def test_manifest_reads_what_the_writer_wrote(tmp_path: Path) -> None:
    written = _export(tmp_path / "export")
    manifest = Manifest.read(tmp_path / "export")
    data = (tmp_path / "export" / MANIFEST).read_bytes()
    assert manifest.sha256 == hashlib.sha256(data).hexdigest()
    assert dict(manifest.raw) == orjson.loads(data) == written
    assert stat.S_IMODE((tmp_path / "export" / MANIFEST).stat().st_mode) == 0o600
    assert manifest.complete and manifest.connector == "hubspot"
    assert manifest.order == ("contacts", "companies")
    assert manifest.counts == {"contacts": 5, "companies": 1}
    contacts = manifest.objects["contacts"]
    assert (contacts.archived, contacts.file, contacts.schema_file) == (
        1, "objects/contacts.ndjson", "schema/contacts.json")
    assert contacts.sha256 == written["objects"]["contacts"]["sha256"]
    rel = manifest.relations["contacts__companies"]
    assert (rel.from_object, rel.to_object, rel.count) == ("contacts", "companies", 1)
    with pytest.raises(AttributeError):
        manifest.status = "incomplete"  # type: ignore[misc]


def test_export_folder_iterates_records_schemas_and_checks_files(tmp_path: Path) -> None:
    _export(tmp_path / "export")
    folder = ExportFolder(tmp_path / "export")
    assert list(folder.records("contacts")) == CONTACTS
    assert folder.first_record("companies") == COMPANIES[0]
    assert folder.schema("contacts") == {"results": [{"name": "email", "type": "string"}]}
    assert folder.quarantine_path("contacts") is None
    assert folder.missing_files() == []
    folder.object_path("contacts").unlink()
    assert folder.missing_files() == ["objects/contacts.ndjson is missing"]
    assert list(folder.records("contacts")) == []


def test_a_folder_without_manifest_is_not_an_export(tmp_path: Path) -> None:
    (tmp_path / "objects").mkdir()
    with pytest.raises(ExportError, match=r"has no manifest\.json"):
        Manifest.read(tmp_path)
    assert Manifest.load(tmp_path) is None
    (tmp_path / MANIFEST).write_bytes(b"[1, 2]")
    with pytest.raises(ExportError, match="not a JSON object"):
        Manifest.load(tmp_path)


def test_a_damaged_manifest_still_parses_so_a_drill_can_report_it(tmp_path: Path) -> None:
    damaged = {"status": "complete", "objects": {"contacts": {"count": "many"}, "deals": 7},
               "relations": [], "problems": "not a list"}
    manifest = Manifest.parse(orjson.dumps(damaged))
    assert manifest.counts == {"contacts": 0, "deals": 0}
    assert manifest.objects["deals"].file == "objects/deals.ndjson"
    assert manifest.relations == {} and manifest.problems == ()
    assert dict(manifest.raw) == damaged


def test_find_export_root_takes_the_shallowest_manifest(tmp_path: Path) -> None:
    _export(tmp_path / "restore" / "state" / "staging" / "run" / "export")
    deeper = tmp_path / "restore" / "state" / "staging" / "run" / "export" / "objects" / "x"
    deeper.mkdir()
    (deeper / MANIFEST).write_text("{}")
    (tmp_path / "restore" / "notes").mkdir()
    (tmp_path / "restore" / "notes" / "sub").mkdir()
    assert find_export_root(tmp_path / "restore") == \
        tmp_path / "restore" / "state" / "staging" / "run" / "export"
    (tmp_path / "restore" / "notes" / MANIFEST).write_text("{}")      # no objects/ next to it
    assert find_export_root(tmp_path / "restore") == tmp_path / "restore" / "notes"
    assert find_export_root(tmp_path / "restore", with_objects=True) == \
        tmp_path / "restore" / "state" / "staging" / "run" / "export"
    assert find_export_root(tmp_path / "restore" / "notes" / "sub") is None


def test_context_guards_the_password_and_builds_restic_once_configured(tmp_path: Path) -> None:
    config = make_config(tmp_path, locations=[("nas", str(tmp_path / "nas")),
                                              ("usb", str(tmp_path / "gone" / "usb"))])
    text = config.read_text().replace('name = "usb"', 'name = "usb"\noffline = true')
    config.write_text(text)
    ctx = CommandContext(load_settings(config))
    restic = ctx.restic(ctx.locations()[0])
    assert restic.cache_dir == ctx.state_dir / "cache"
    assert restic.password is ctx.settings.repository_password
    assert ctx.policies is ctx.policies                   # read once
    assert [loc.name for loc in ctx.usable_locations()] == ["nas"]   # the usb disk is absent
    assert CommandContext.of(ctx) is ctx
    no_password = CommandContext(replace(load_settings(config), repository_password=None))
    with pytest.raises(StorageError, match="no repository password configured") as caught:
        no_password.restic(ctx.locations()[0])
    assert caught.value.exit_code == ExitCode.STORAGE
