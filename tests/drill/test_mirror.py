"""The mirror on its own: contract (tables, columns, relations, FTS), idempotent re-load,
Salesforce's `Id` vs `id`, duplicate ids, and a property test of export → mirror."""

from __future__ import annotations

import sqlite3

import orjson
from hypothesis import HealthCheck, given, settings
from vk_drill import make_export, records

from vaultkeeper.db import mirror as mirrordb


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records())
def test_export_to_mirror_round_trip(tmp_path_factory, recs):
    root = tmp_path_factory.mktemp("rt")
    manifest = make_export(root / "export", {"contacts": recs})
    result = mirrordb.load_export(root / "export", root / "m" / "mirror.db")
    got = result.objects["contacts"]
    assert got.content_digest == manifest["objects"]["contacts"]["content_digest"]
    assert got.rows == got.lines == len(recs)
    assert got.archived == sum(r["archived"] for r in recs)
    count, digest = mirrordb.recompute_digest(result.path, "contacts")
    assert (count, digest) == (len(recs), got.content_digest)
    conn = sqlite3.connect(result.path)
    by_id = {rid: orjson.loads(raw) for rid, raw in conn.execute("select id, _raw from contacts")}
    assert by_id == {r["id"]: r for r in recs}
    columns = [r[1] for r in conn.execute("pragma table_info(contacts)")]
    for rec in recs:  # text columns keep "" and NULL apart
        for name in ("firstname", "email", "city"):
            if name in columns and isinstance(rec["properties"].get(name), str | None):
                stored = conn.execute(f'select "{name}" from contacts where id = ?',
                                      (rec["id"],)).fetchone()[0]
                assert stored == rec["properties"].get(name)
    conn.close()


def test_contract_tables_columns_relations_search(tmp_path):
    people = [{"id": "1", "archived": False, "createdAt": "2020", "properties": {
        "firstname": "Zoë", "lastname": "Müller", "email": "zoe@example.org", "city": "Zürich",
        "n_visits": "12", "Firstname": "dup"}},
        {"id": "2", "archived": True, "properties": {"firstname": "Li", "lastname": "李",
                                                     "email": None, "city": "", "n_visits": ""}}]
    orgs = [{"id": "9", "archived": False, "properties": {"name": "Acme Ltd", "city": "Leeds"}}]
    make_export(tmp_path / "e", {"contacts": people, "companies": orgs},
                {"contacts__companies": [{"from_id": "1", "to_id": "9", "type": "employer"},
                                         {"from_id": "2", "to_id": "404", "type": "employer"}]})
    target = tmp_path / "state" / "mirror" / "mirror.db"
    first = mirrordb.load_export(tmp_path / "e", target, info={"snapshot_id": "abc"})
    assert (target.stat().st_mode & 0o777) == 0o600
    conn = sqlite3.connect(target)
    cols = [r[1] for r in conn.execute("pragma table_info(contacts)")]
    assert cols[:6] == ["id", "_archived", "_raw", "createdAt", "updatedAt", "archivedAt"]
    # A case-insensitive collision keeps the first in schema order (the other stays in _raw).
    assert ("firstname" in cols) != ("Firstname" in cols)
    assert conn.execute("select n_visits, _archived from contacts order by id").fetchall() == [
        (12.0, 0), ("", 1)]
    indexes = {r[1] for r in conn.execute("pragma index_list(rel_contacts__companies)")}
    assert len(indexes) == 2
    hits = conn.execute("select object, record_id from search where search match 'muller'")
    assert hits.fetchall() == [("contacts", "1")]
    assert conn.execute("select record_id from search where search match 'leeds'").fetchall() \
        == [("9",)]
    assert dict(conn.execute("select key, value from _mirror_info"))["snapshot_id"] == "abc"
    conn.close()
    rel = first.relations["contacts__companies"]
    assert (rel.dangling_from, rel.dangling_to, rel.dangling_samples) == (0, 1,
                                                                           ["companies 404"])
    # Re-loading replaces the file atomically and gives the same content; no leftovers.
    again = mirrordb.load_export(tmp_path / "e", target)
    assert again.objects["contacts"].content_digest == first.objects["contacts"].content_digest
    assert sorted(p.name for p in target.parent.iterdir()) == ["mirror.db"]


def test_salesforce_id_column_and_duplicate_ids(tmp_path):
    schema = {"fields": [{"name": "Id", "type": "id"}, {"name": "Name", "type": "string"},
                         {"name": "Email", "type": "email"},
                         {"name": "MailingCity", "type": "string"},
                         {"name": "IsDeleted", "type": "boolean"},
                         {"name": "Total__c", "type": "currency"},
                         {"name": "MailingAddress", "type": "address"}]}
    rows = [{"Id": "003A", "Name": "Ann", "Email": "a@x.org", "MailingCity": "Oslo",
             "IsDeleted": False, "Total__c": 12.5, "MailingAddress": {"city": "Oslo"},
             "attributes": {"type": "Contact"}},
            {"Id": "003B", "Name": "Bo", "IsDeleted": True, "Total__c": None,
             "MailingAddress": None},
            {"Id": "003A", "Name": "Ann again", "IsDeleted": False}]
    manifest = make_export(tmp_path / "e", {"Contact": rows}, connector="salesforce",
                           schemas={"Contact": schema})
    result = mirrordb.load_export(tmp_path / "e", tmp_path / "m.db")
    got = result.objects["Contact"]
    assert got.content_digest == manifest["objects"]["Contact"]["content_digest"]
    assert (got.lines, got.rows, got.duplicates, got.duplicate_ids) == (3, 2, 1, ["003A"])
    conn = sqlite3.connect(tmp_path / "m.db")
    cols = [r[1] for r in conn.execute('pragma table_info("Contact")')]
    assert cols == ["id", "_archived", "_raw", "Name", "Email", "MailingCity", "IsDeleted",
                    "Total__c", "MailingAddress"]
    assert conn.execute('select id, Name, _archived, IsDeleted, MailingAddress from "Contact" '
                        "order by id").fetchall() == [
        ("003A", "Ann again", 0, 0, None), ("003B", "Bo", 1, 1, None)]
    assert sorted(conn.execute("select name, email, city from search").fetchall()) == [
        ("Ann again", "", ""), ("Bo", "", "")]
    conn.close()
