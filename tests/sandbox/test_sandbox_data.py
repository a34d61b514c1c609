"""The generated data: determinism, shape, dirt, relations, and the small parsers."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultkeeper.sandbox import FaultConfig
from vaultkeeper.sandbox import hs_schema as hs
from vaultkeeper.sandbox import sf_schema as sf
from vaultkeeper.sandbox.data import Dataset, iso_ms
from vaultkeeper.sandbox.faults import FaultState
from vaultkeeper.sandbox.gen_hubspot import person_of, properties_of
from vaultkeeper.sandbox.pools import PLACES
from vaultkeeper.sandbox.soql import SoqlError, parse

OBJECTS = ("contacts", "companies", "deals", "notes")


def test_sizes_follow_records() -> None:
    ds = Dataset(1000, 1)
    counts = {n: s.count for n, s in ds.stores.items()}
    assert counts["contacts"] == 1000
    assert counts["companies"] == 200
    assert counts["deals"] == counts["notes"] == 500
    assert all(counts[n] == 0 for n in ("tickets", "calls", "emails", "meetings", "tasks"))
    assert Dataset(1, 1).stores["companies"].count == 1  # at least one company


def test_archived_share_is_about_three_percent() -> None:
    ds = Dataset(20000, 5)
    for name in OBJECTS:
        store = ds.stores[name]
        assert 0.02 < store.archived_count / store.count < 0.045
        assert store.live_count + store.archived_count == store.count


def test_a_million_records_do_not_build_records_up_front() -> None:
    ds = Dataset(1_000_000, 7)
    assert ds.stores["contacts"].live_count > 950_000
    # The last record is generated on demand like any other.
    assert properties_of(ds, "contacts", 999_999)["hs_object_id"] == str(1001 + 999_999)


@pytest.mark.parametrize("obj", OBJECTS)
def test_generated_properties_match_definitions(obj: str) -> None:
    ds = Dataset(300, 2)
    for i in (0, 1, 150, 299 if obj == "contacts" else ds.stores[obj].count - 1):
        props = properties_of(ds, obj, i)
        assert tuple(props) == hs.property_names(obj)
        assert all(v is None or isinstance(v, str) for v in props.values())
        assert props["hs_object_id"] == str(hs.ID_BASES[obj] + i)


def test_cheap_contact_prefix_equals_full_record() -> None:
    ds = Dataset(2000, 12)
    for i in range(0, 2000, 7):
        cheap = properties_of(ds, "contacts", i, ("email", "firstname"))
        full = properties_of(ds, "contacts", i)
        assert cheap == {k: full[k] for k in cheap}
        assert set(cheap) == set(hs.default_properties("contacts"))


def test_property_counts() -> None:
    assert 60 <= len(hs.property_names("contacts")) <= 120
    for obj in hs.OBJECT_TYPES:
        names = hs.property_names(obj)
        assert {"createdate", "hs_object_id", hs.modified_property(obj)} <= set(names)
        assert len(set(names)) == len(names)


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = Dataset(500, 9), Dataset(500, 9), Dataset(500, 10)
    for obj in OBJECTS:
        assert [properties_of(a, obj, i) for i in range(50)] == \
            [properties_of(b, obj, i) for i in range(50)]
    assert [properties_of(a, "contacts", i)["email"] for i in range(50)] != \
        [properties_of(c, "contacts", i)["email"] for i in range(50)]
    assert a.stores["contacts"].flags == b.stores["contacts"].flags
    assert a.expected() == b.expected()


def test_dirt_is_present() -> None:
    ds = Dataset(3000, 4)
    contacts = [properties_of(ds, "contacts", i) for i in range(3000)]
    names = " ".join(f"{c['firstname'] or ''} {c['lastname'] or ''}" for c in contacts)
    for sample in ("Zoë", "Ångström", "van der Berg", "Müller", "Łukasz", "李"):
        assert sample in names
    emails = [c["email"] for c in contacts if c["email"]]
    valid = re.compile(r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$")
    invalid = [e for e in emails if not valid.match(e)]
    assert 0.02 < len(invalid) / len(contacts) < 0.15
    assert sum(c["email"] is None for c in contacts) > 50
    phones = {re.sub(r"\d", "9", c["phone"]) for c in contacts if c["phone"]}
    assert len(phones) >= 5  # several phone formats
    dates = [c["date_joined_text"] for c in contacts if c["date_joined_text"]]
    assert any("/" in d for d in dates) and any(re.match(r"\d{4}-\d\d-\d\d$", d) for d in dates)
    assert any(re.search(r"[A-Za-z]", d) for d in dates)  # "3rd April 2019", "Apr 2019"
    # Near-duplicates: the same person typed twice with case/spacing/accent differences.
    keys: dict[str, list[str]] = {}
    for c in contacts:
        first, last = (c["firstname"] or "").strip(), (c["lastname"] or "").strip()
        if first and last:
            keys.setdefault(f"{first.lower()} {last.lower()}", []).append(f"{first}|{last}")
    assert any(len(set(v)) > 1 for v in keys.values())


def test_postcodes_vary_within_a_place_and_near_duplicates_share_theirs() -> None:
    """A million contacts in twenty postcodes made every full postcode a crowd (and the
    duplicate search's blocks with it): postcodes vary within each place, keep the place's
    region and shape, and a contact typed in again keeps its person's postcode."""
    n = 8000
    ds = Dataset(n, 1)
    places = {p[0].lower(): p[2] for p in PLACES}
    zips: dict[str, int] = {}
    persons: dict[int, set[str]] = {}
    for i in range(n):
        c = properties_of(ds, "contacts", i)
        if not c["zip"]:
            continue
        zips[c["zip"].replace(" ", "")] = zips.get(c["zip"].replace(" ", ""), 0) + 1
        persons.setdefault(person_of(ds, i), set()).add(c["zip"].replace(" ", ""))
        if c["city"]:
            area = places[c["city"].lower()]
            assert c["zip"][:2] == area[:2]
            shape = re.sub(r"[A-Z]", "A", re.sub(r"\d", "9", area))
            assert re.sub(r"[A-Z]", "A", re.sub(r"\d", "9", c["zip"])) in (
                shape, shape.replace(" ", ""))
    assert len(zips) > n // 4            # not twenty
    assert max(zips.values()) < n // 100  # no crowd behind one postcode
    assert all(len(z) == 1 for z in persons.values())   # the same person, the same postcode
    assert sum(person_of(ds, i) != i for i in range(n)) > n // 100


def test_relations_are_symmetric_and_counted_once() -> None:
    ds = Dataset(1200, 6)
    expected = ds.expected()["relations"]
    for name in ("contacts__companies", "deals__contacts", "deals__companies",
                 "notes__contacts"):
        link = ds.links[name]
        forward = {(i, link.target(i)) for i in range(link.src.count) if link.target(i) >= 0}
        backward = {(i, j) for j in range(link.dst.count) for i in link.sources(j)}
        assert forward == backward
        assert len(forward) == expected["hubspot"][name]
        assert all(not link.src.is_archived(i) and not link.dst.is_archived(j)
                   for i, j in forward)
    hub = ds.links["contacts__companies"].sources(0)
    assert len(hub) > 25  # the umbrella organisation has many members
    assert expected["salesforce"]["Contact__Account"] == expected["hubspot"]["contacts__companies"]


def test_rank_and_select_agree_with_brute_force() -> None:
    store = Dataset(20000, 8).stores["contacts"]
    live = [i for i in range(store.count) if not store.is_archived(i)]
    archived = [i for i in range(store.count) if store.is_archived(i)]
    for rank in (0, 1, 4095, 4096, 9000, len(live) - 1):
        assert store.select(rank, False) == live[rank]
    for rank in (0, len(archived) // 2, len(archived) - 1):
        assert store.select(rank, True) == archived[rank]
    assert store.select(len(live), False) == -1
    for i in (0, 1, 4096, 13333, store.count):
        assert store.rank(i, False) == sum(1 for x in live if x < i)
        assert store.rank(i, True) == sum(1 for x in archived if x < i)


@given(st.integers(min_value=-10**12, max_value=4 * 10**12))
def test_iso_ms_matches_datetime(ms: int) -> None:
    expected = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert iso_ms(ms) == f"{expected}.{ms % 1000:03d}Z"


def test_salesforce_ids() -> None:
    assert sf.full_id("001D000000IqhSL") == "001D000000IqhSLIAZ"  # Salesforce's own example
    ids = [sf.sf_id("003", i) for i in range(0, 300_000, 997)]
    assert ids == sorted(ids) and all(len(x) == 18 for x in ids)
    assert [sf.id_index("003", x) for x in ids] == list(range(0, 300_000, 997))
    assert sf.id_index("001", ids[0]) is None


@settings(max_examples=50)
@given(st.integers(min_value=0, max_value=10**9))
def test_salesforce_id_round_trip(i: int) -> None:
    value = sf.sf_id("006", i)
    assert sf.id_index("006", value) == i
    assert sf.id_index("006", value[:15]) == i


def test_soql_parser() -> None:
    q = parse("select Id, Account.Name FROM contact WHERE (IsDeleted = false AND Id > "
              "'0035g0000004C93AAE') OR LastModifiedDate >= 2024-01-01T00:00:00Z "
              "ORDER BY Id DESC NULLS LAST LIMIT 10 OFFSET 5")
    assert q.fields == ["Id", "Account.Name"] and q.sobject == "contact"
    assert q.limit == 10 and q.offset == 5 and q.order == [("Id", True, True)]
    assert parse("SELECT COUNT() FROM Account").count
    assert parse("SELECT Name FROM Account WHERE Name LIKE 'St%' AND Type IN ('A', 'B')")
    for bad in ("SELECT FROM Account", "SELECT Id FORM Account", "SELECT Id FROM Account WHERE",
                "SELECT Id FROM Account LIMIT x", "", "SELECT Id, FROM Account"):
        with pytest.raises(SoqlError) as err:
            parse(bad)
        assert err.value.code == "MALFORMED_QUERY"


def test_fault_config_parsing() -> None:
    assert not FaultConfig.parse("none").enabled
    assert set(FaultConfig.parse("all").enabled) == {"rate_limit", "server_error", "slow",
                                                     "drop", "malformed"}
    cfg = FaultConfig.parse("429:every=50:burst=3, slow:ms=200,5xx,daily_limit:after=9")
    assert cfg.param("rate_limit", "every") == 50 and cfg.param("rate_limit", "burst") == 3
    assert cfg.param("slow", "ms") == 200 and cfg.on("server_error") and cfg.on("daily_limit")
    assert FaultConfig.parse("rate_limit,server_error").enabled.keys() == {"rate_limit",
                                                                          "server_error"}
    assert FaultConfig.parse(str(cfg)) == cfg
    with pytest.raises(ValueError, match=r"valid faults: .*429.*5xx.*slow.*drop.*malformed"):
        FaultConfig.parse("429,explode")
    for bad in ("429:every=1", "429:every=5:burst=5", "slow:ms=-1", "slow:speed=2",
                "429:every=x", "all:every=3"):
        with pytest.raises(ValueError):
            FaultConfig.parse(bad)


def test_fault_decisions_are_a_function_of_the_request_number() -> None:
    def run() -> list[tuple[object, ...]]:
        state = FaultState(FaultConfig.parse("all,daily_limit:after=400,short"))
        out = []
        for k in range(500):
            d = state.decide(cursor=k % 3 != 0)
            out.append((d.drop, d.error, d.status, d.retry_after, d.slow_ms, d.short))
        return out
    first = run()
    assert first == run()
    kinds = {x[1] for x in first} | {x[0] for x in first}
    assert {"rate_limit", "server_error", "daily_limit", "before", "mid"} <= kinds
    # A retry (the next request number) is never refused by the same burst forever.
    state = FaultState(FaultConfig.parse("429,5xx,drop"))
    streak = longest = 0
    for _ in range(1000):
        d = state.decide(cursor=True)
        streak = streak + 1 if (d.error or d.drop) else 0
        longest = max(longest, streak)
    assert longest <= 3
