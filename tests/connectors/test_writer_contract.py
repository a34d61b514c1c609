"""The contract every CRM writer honours, run over HTTPS against the sandbox for both vendors."""

from __future__ import annotations

import math
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from vk_testing import hubspot, salesforce

from vaultkeeper.connectors import make_writer
from vaultkeeper.connectors.writer import (
    CrmWriter,
    LinkSpec,
    NewRecord,
    RecordUpdate,
    WriterUnsupported,
)
from vaultkeeper.models import Relation
from vaultkeeper.sandbox import FaultConfig, Sandbox


@dataclass
class Vendor:
    kind: str
    obj: str
    parent: str
    link_kind: str
    phone: str
    email: str
    required: dict[str, str]
    read_only: dict[str, str]
    bad: list[tuple[dict[str, str], str, str]] = field(default_factory=list)
    """(properties, expected error code, text in the vendor's message)"""

    def new(self, n: int, **extra: str) -> dict[str, str]:
        props = {**self.required, self.email: f"writer{n}@example.org", self.phone: f"+44 {n}"}
        props.update(extra)
        return props


VENDORS = {
    "hubspot": Vendor("hubspot", "contacts", "companies", "", "phone", "email",
                      {"firstname": "Ada"}, {"createdate": "2020-01-01T00:00:00.000Z",
                                             "hs_object_id": "1"},
                      [({"email": "not-an-email"}, "INVALID_EMAIL", "not-an-email"),
                       ({"email": "writer3@example.org"}, "CONFLICT",
                        "Contact already exists. Existing ID: ")]),
    "salesforce": Vendor("salesforce", "Contact", "Account", "AccountId", "Phone", "Email",
                         {"LastName": "Lovelace"}, {"Name": "Ada Lovelace",
                                                     "CreatedDate": "2020-01-01T00:00:00Z"},
                         [({"LastName": "", "FirstName": "No"}, "REQUIRED_FIELD_MISSING",
                           "LastName"),
                          ({"Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS", "not-an-email")]),
}
LIMITS = {"hubspot": 100, "salesforce": 200}


@pytest.fixture(params=sorted(VENDORS))
def vendor(request: pytest.FixtureRequest) -> Vendor:
    return VENDORS[request.param]


def _writer(sb: Sandbox, kind: str) -> CrmWriter:
    return make_writer(kind, sb.url, sb.token, ca_file=sb.ca_file, max_retries=12)


@pytest.fixture
def target(vendor: Vendor) -> Iterator[tuple[Sandbox, CrmWriter]]:
    with Sandbox(records=200, seed=5) as sb, _writer(sb, vendor.kind) as writer:
        yield sb, writer


def _writes(sb: Sandbox) -> list[Any]:
    return [r for r in sb.write_requests() if r.status < 300]


def test_create_then_fetch_round_trip(vendor: Vendor, target: tuple[Sandbox, CrmWriter]) -> None:
    sb, writer = target
    n = 250
    sb.clear_log()
    result = writer.create(vendor.obj, [NewRecord(f"k{i}", vendor.new(i)) for i in range(n)])
    assert result.ok, result.failed[:3]
    assert [o.key for o in result.outcomes] == [f"k{i}" for i in range(n)]
    ids = [o.id for o in result.outcomes]
    assert len(set(ids)) == n and all(ids)
    live = writer.fetch(vendor.obj, [str(i) for i in ids], [vendor.email, vendor.phone])
    assert {live[str(ids[i])].properties[vendor.email] for i in range(n)} == \
        {f"writer{i}@example.org" for i in range(n)}
    assert live[str(ids[7])].properties[vendor.phone] == "+44 7"
    assert not any(r.archived for r in live.values())
    writes = _writes(sb)
    assert len(writes) == math.ceil(n / LIMITS[vendor.kind])
    assert max(w.records for w in writes) <= LIMITS[vendor.kind]
    assert sorted(i for w in writes for i in w.ids) == sorted(str(i) for i in ids)


def test_update_writes_only_the_given_fields(vendor: Vendor,
                                             target: tuple[Sandbox, CrmWriter]) -> None:
    sb, writer = target
    ids = sb.live_ids(vendor.obj, 30)
    before = writer.fetch(vendor.obj, ids, [vendor.email, vendor.phone])
    sb.clear_log()
    result = writer.update(vendor.obj, [RecordUpdate(i, {vendor.phone: "+1 555"})
                                        for i in ids[:10]])
    assert result.ok and {o.status for o in result.outcomes} == {"updated"}
    after = writer.fetch(vendor.obj, ids, [vendor.email, vendor.phone])
    for i in ids[:10]:
        assert after[i].properties[vendor.phone] == "+1 555"
        assert after[i].properties[vendor.email] == before[i].properties[vendor.email]
    for i in ids[10:]:
        assert after[i].properties == before[i].properties
    assert sorted(x for w in _writes(sb) for x in w.ids) == sorted(ids[:10])
    assert {f for w in _writes(sb) for f in w.fields} == {vendor.phone}  # nothing else sent


def test_read_only_properties_are_left_out(vendor: Vendor,
                                           target: tuple[Sandbox, CrmWriter]) -> None:
    _, writer = target
    fields = writer.writable_fields(vendor.obj)
    assert set(vendor.read_only) <= fields.read_only
    assert vendor.phone in fields.createable and vendor.phone in fields.updateable
    result = writer.create(vendor.obj, [NewRecord("x", {**vendor.new(1), **vendor.read_only})])
    assert result.ok, result.failed
    assert fields.dropped({**vendor.new(1), **vendor.read_only}) == sorted(vendor.read_only)


def test_partial_failure_carries_each_vendor_reason(vendor: Vendor,
                                                    target: tuple[Sandbox, CrmWriter]) -> None:
    sb, writer = target
    records = [NewRecord(f"ok{i}", vendor.new(i)) for i in range(40)]
    for n, (props, _, _) in enumerate(vendor.bad):
        records.insert(7 + 11 * n, NewRecord(f"bad{n}", {**vendor.new(100 + n), **props}))
    result = writer.create(vendor.obj, records)
    by_key = result.by_key()
    assert [o.key for o in result.failed] == [f"bad{n}" for n in range(len(vendor.bad))]
    for n, (_, code, text) in enumerate(vendor.bad):
        failure = by_key[f"bad{n}"]
        assert failure.code == code and text in failure.error, failure
    created = [o.id for o in result.outcomes if o.ok]
    assert len(created) == 40
    assert len(writer.fetch(vendor.obj, [str(i) for i in created])) == 40
    assert max(r.records for r in sb.write_requests()) <= LIMITS[vendor.kind]


def test_archive_then_restore_where_the_vendor_allows(vendor: Vendor,
                                                      target: tuple[Sandbox, CrmWriter]) -> None:
    _, writer = target
    ids = [str(o.id) for o in writer.create(vendor.obj, [NewRecord(str(i), vendor.new(i))
                                                         for i in range(3)]).outcomes]
    archived = writer.archive(vendor.obj, ids)
    assert {o.status for o in archived.outcomes} == {"archived"}
    state = writer.fetch(vendor.obj, ids, [vendor.phone])
    assert set(state) == set(ids) and all(r.archived for r in state.values())
    if not writer.capabilities.undelete:
        with pytest.raises(WriterUnsupported, match="un-archive"):
            writer.restore(vendor.obj, ids)
        return
    restored = writer.restore(vendor.obj, [*ids, ids[0]])
    assert [o.status for o in restored.outcomes] == ["undeleted"] * 3 + ["failed"]
    assert "recycle bin" in restored.outcomes[-1].error
    state = writer.fetch(vendor.obj, ids, [vendor.phone])
    assert not any(r.archived for r in state.values())
    assert state[ids[1]].properties[vendor.phone] == "+44 1"


def test_relink_shows_up_in_a_fresh_export(vendor: Vendor,
                                           target: tuple[Sandbox, CrmWriter]) -> None:
    sb, writer = target
    parents = sb.live_ids(vendor.parent, 2)
    made = writer.create(vendor.obj, [
        NewRecord("inline", vendor.new(1), [LinkSpec(vendor.obj, "", vendor.parent,
                                                     parents[0], vendor.link_kind)]),
        NewRecord("later", vendor.new(2))])
    inline, later = (str(o.id) for o in made.outcomes)
    linked = writer.link([LinkSpec(vendor.obj, later, vendor.parent, parents[1],
                                   vendor.link_kind),
                          LinkSpec(vendor.obj, "0" * 18 if vendor.kind == "salesforce"
                                   else "999999999", vendor.parent, parents[1],
                                   vendor.link_kind)])
    assert [o.status for o in linked.outcomes] == ["linked", "failed"]
    assert linked.outcomes[1].error
    reader = (hubspot(sb, objects=(vendor.obj, vendor.parent)) if vendor.kind == "hubspot"
              else salesforce(sb, objects=(vendor.obj, vendor.parent)))
    with reader:
        spec = next(s for s in reader.discover() if s.name == vendor.obj)
        pairs = {(r.from_id, r.to_id) for r in reader.read(spec)
                 if isinstance(r, Relation) and r.to_object == vendor.parent}
    assert (inline, parents[0]) in pairs and (later, parents[1]) in pairs


def test_vendor_refuses_oversized_batches_with_its_own_body(vendor: Vendor) -> None:
    with Sandbox(records=10, seed=5) as sb, httpx.Client(
            base_url=sb.url, verify=ssl.create_default_context(cafile=str(sb.ca_file)),
            headers={"Authorization": f"Bearer {sb.token}"}) as http:
        limit = LIMITS[vendor.kind]
        if vendor.kind == "hubspot":
            r = http.post("/crm/v3/objects/contacts/batch/create", json={"inputs": [
                {"properties": {"firstname": str(i)}} for i in range(limit + 1)]})
            assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"
        else:
            r = http.post("/services/data/v59.0/composite/sobjects", json={"records": [
                {"attributes": {"type": "Contact"}, "LastName": str(i)}
                for i in range(limit + 1)]})
            assert r.status_code == 400 and r.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
        assert sb.dataset.stores["contacts"].count == 10


def test_429_storm_on_writes_reaches_the_same_end_state(vendor: Vendor) -> None:
    faults = FaultConfig.parse("write_429:every=3:burst=2:retry_after=0")
    states = []
    for config in (FaultConfig.none(), faults):
        with Sandbox(records=50, seed=5, faults=config) as sb, _writer(sb, vendor.kind) as w:
            made = w.create(vendor.obj, [NewRecord(str(i), vendor.new(i)) for i in range(250)])
            assert made.ok
            ids = [str(o.id) for o in made.outcomes]
            assert w.update(vendor.obj, [RecordUpdate(i, {vendor.phone: "0"})
                                         for i in ids[::2]]).ok
            assert w.archive(vendor.obj, ids[:5]).ok
            state = w.fetch(vendor.obj, ids, [vendor.email, vendor.phone])
            states.append(sorted((r.properties[vendor.email], r.properties[vendor.phone],
                                  r.archived) for r in state.values()))
            if config.enabled:
                assert sb.stats()["faults"]["write_rate_limit"] >= 5
                assert w.request_stats()["retries"] >= 5
    assert states[0] == states[1] and len(states[0]) == 250


def test_dropped_property_fault_is_silent(vendor: Vendor) -> None:
    faults = FaultConfig.parse(f"drop_property={vendor.phone}")
    with Sandbox(records=20, seed=5, faults=faults) as sb, _writer(sb, vendor.kind) as w:
        ids = sb.live_ids(vendor.obj, 2)
        before = w.fetch(vendor.obj, ids, [vendor.phone])
        result = w.update(vendor.obj, [RecordUpdate(i, {vendor.phone: "+9 999"}) for i in ids])
        assert result.ok  # the target says yes …
        after = w.fetch(vendor.obj, ids, [vendor.phone])
        assert all(after[i].properties[vendor.phone] == before[i].properties[vendor.phone]
                   for i in ids)  # … and keeps the old value


def test_fetch_sees_archived_records_and_skips_unknown_ids(vendor: Vendor,
                                                          target: tuple[Sandbox, CrmWriter]
                                                          ) -> None:
    sb, writer = target
    ids = sb.live_ids(vendor.obj, 4)
    sb.archive(vendor.obj, ids[:2])
    unknown = "0035g000ZZZZZZZAAA" if vendor.kind == "salesforce" else "987654321"
    state = writer.fetch(vendor.obj, [*ids, unknown])
    assert set(state) == set(ids)
    assert [state[i].archived for i in ids] == [True, True, False, False]


def test_legacy_id_property_and_lookup(vendor: Vendor,
                                       target: tuple[Sandbox, CrmWriter]) -> None:
    sb, writer = target
    if not writer.capabilities.legacy_id_property:
        with pytest.raises(WriterUnsupported):
            writer.ensure_legacy_id_property(vendor.obj)
        prop = "HubSpot_Id__c"  # an existing external-id field carries the old id instead
    else:
        prop = writer.ensure_legacy_id_property(vendor.obj)
        sb.clear_log()
        assert writer.ensure_legacy_id_property(vendor.obj) == prop
        assert not sb.write_requests()  # the second call only looked
    made = writer.create(vendor.obj, [NewRecord(f"old{i}", {**vendor.new(i), prop: f"old{i}"})
                                      for i in range(5)])
    assert made.ok
    found = writer.find_by_property(vendor.obj, prop, ["old1", "old3", "missing"])
    by_key = made.by_key()
    assert found == {"old1": by_key["old1"].id, "old3": by_key["old3"].id}


def test_repeated_ids_keep_input_order_and_the_last_value_wins(
        vendor: Vendor, target: tuple[Sandbox, CrmWriter]) -> None:
    sb, writer = target
    ids = sb.live_ids(vendor.obj, 3)
    updates = [RecordUpdate(ids[0], {vendor.phone: "first"}, key="a"),
               RecordUpdate(ids[1], {vendor.phone: "only"}, key="b"),
               RecordUpdate(ids[0], {vendor.phone: "second"}, key="c"),
               RecordUpdate(ids[0], {vendor.phone: "third"}, key="d")]
    result = writer.update(vendor.obj, updates)
    assert [o.key for o in result.outcomes] == ["a", "b", "c", "d"] and result.ok
    state = writer.fetch(vendor.obj, ids[:2], [vendor.phone])
    assert state[ids[0]].properties[vendor.phone] == "third"
    assert state[ids[1]].properties[vendor.phone] == "only"


def test_open_writer_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from vaultkeeper.config import Secret, SourceSettings
    from vaultkeeper.connectors import open_writer
    from vaultkeeper.errors import ConfigError

    with open_writer(SourceSettings(connector="sandbox", flavour="salesforce", records=5)) as w:
        assert w.name == "salesforce"
        assert w.create("Account", [NewRecord("a", {"Name": "Acme"})]).ok
    with Sandbox(records=5, seed=1) as sb:
        monkeypatch.setenv("VK_TEST_CRM_TOKEN", sb.token)
        settings = SourceSettings(connector="hubspot", base_url=sb.url, ca_file=sb.ca_file,
                                  token=Secret("env", "VK_TEST_CRM_TOKEN"))
        with open_writer(settings) as w:
            assert w.name == "hubspot"
            assert w.create("companies", [NewRecord("c", {"name": "Acme"})]).ok
    with pytest.raises(ConfigError, match="cannot be written to"), \
            open_writer(SourceSettings(connector="csv")):
        pass
