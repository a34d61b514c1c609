"""Content digests: order-independent, duplicate-sensitive, key-order-insensitive."""

from hypothesis import given
from hypothesis import strategies as st

from vaultkeeper.digest import ContentDigest, canonical_json

records = st.lists(
    st.dictionaries(st.text(max_size=8), st.one_of(st.none(), st.text(max_size=12),
                                                  st.integers(-10**9, 10**9), st.booleans()),
                    max_size=5),
    max_size=30,
)


def digest_of(items):
    d = ContentDigest()
    for item in items:
        d.add(item)
    return d.hexdigest()


@given(records, st.randoms())
def test_digest_ignores_record_order(items, rnd):
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert digest_of(items) == digest_of(shuffled)


def test_digest_changes_with_content_and_duplicates():
    base = [{"id": "1", "name": "Zoë"}, {"id": "2", "name": "Ångström"}]
    assert digest_of(base) != digest_of([{"id": "1", "name": "Zoe"}, base[1]])
    # A sum, not XOR: a duplicated record must not cancel out.
    assert digest_of([*base, base[0], base[0]]) != digest_of(base)
    assert digest_of([*base, base[0]]) != digest_of(base)


def test_canonical_json_sorts_keys_and_keeps_unicode():
    assert canonical_json({"b": 1, "a": "Zoë"}) == '{"a":"Zoë","b":1}'.encode()
    assert digest_of([{"a": 1, "b": 2}]) == digest_of([{"b": 2, "a": 1}])


def test_empty_digest_is_zero_and_counts():
    d = ContentDigest()
    assert d.hexdigest() == "0" * 64 and d.count == 0
    d.add({"x": 1})
    assert d.count == 1 and d.hexdigest() != "0" * 64
