"""Blocking keys in key parts (one file per writing process), read back per half."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import pytest

from vaultkeeper.db import blockkeys
from vaultkeeper.db.blockkeys import SLICES, BlockScan, KeyPart, key_slice
from vaultkeeper.db.scratch import Scratch


def _rows(rng: random.Random, n: int) -> list[tuple[str, int]]:
    """Keys of ``n`` records: shared ones, some records twice under one key."""
    rows = []
    for idx in range(n):
        for _ in range(rng.randint(1, 4)):
            rows.append((f"{rng.choice('aekp')}:{rng.randint(0, 40)}", idx))
    return rows


def _expected(parts: list[tuple[list[tuple[str, int]], int]]) -> dict[str, list[int]]:
    """Blocks worked out by hand: every key's records (offsets applied), two or more."""
    members: dict[str, set[int]] = defaultdict(set)
    for rows, offset in parts:
        for key, idx in rows:
            members[key].add(idx + offset)
    return {k: sorted(v) for k, v in members.items() if len(v) >= 2}


@pytest.mark.parametrize("max_parts", [blockkeys.MAX_PARTS, 2])
def test_key_parts_give_the_blocks_one_store_would(tmp_path: Path, max_parts: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's own keys and two other processes' parts (their record numbers shifted)
    give every block with its records, each slice's keys in key order; past ``MAX_PARTS``
    a part is copied into the store's own and its file removed, with the same blocks."""
    monkeypatch.setattr(blockkeys, "MAX_PARTS", max_parts)
    monkeypatch.setattr("vaultkeeper.db.scratch.MAX_PARTS", max_parts)
    rng = random.Random(5)
    own, first, second = _rows(rng, 120), _rows(rng, 60), _rows(rng, 70)
    scratch = Scratch(tmp_path / "s.db")
    scratch.add_keys(own)
    for n, (rows, offset) in enumerate(((first, 120), (second, 180))):
        part = KeyPart(tmp_path / f"part-{n}")
        part.add(rows[:25])
        part.add(rows[25:])   # several writes to one part
        part.close()
        scratch.adopt_keys(part.path, offset)
    expected = _expected([(own, 0), (first, 120), (second, 180)])
    assert len(expected) > 50
    assert dict(scratch.blocks()) == expected
    seen = []
    for n in range(SLICES):
        keys = [k for k, _ in scratch.blocks(slices=(n,))]
        assert keys == sorted(keys) and {key_slice(k) for k in keys} <= {n}
        seen += keys
    assert sorted(seen) == sorted(expected)
    assert len(scratch.key_parts) == min(3, max_parts)
    assert (tmp_path / "part-1").exists() == (max_parts > 2)
    big = {k: v for k, v in expected.items() if len(v) >= 5}
    assert dict(scratch.blocks(min_size=5)) == big
    scratch.close()


def test_a_scan_reads_one_part_with_its_offset(tmp_path: Path) -> None:
    """A scan of one part over every slice: its blocks, record numbers shifted; a scan of
    no part has no block."""
    rows = _rows(random.Random(9), 200)
    part = KeyPart(tmp_path / "part")
    part.add(rows)
    part.close()
    scan = BlockScan([(part.path, 7)], range(SLICES))
    assert dict(scan) == _expected([(rows, 7)])
    scan.close()
    empty = BlockScan([], range(SLICES))
    assert list(empty) == []


def test_rows_waiting_per_slice_all_arrive(tmp_path: Path) -> None:
    """Rows written in multi-row statements per slice as they accumulate, the rest when the
    part is flushed or closed: every row arrives once, whatever the sizes of the writes."""
    rng = random.Random(2)
    rows = [(f"k:{rng.randint(0, 3000)}", idx) for idx in range(40_000)]
    part = KeyPart(tmp_path / "part")
    start = 0
    for size in (1, 7, 5000, 13_000, 199, 200, 21_593):
        part.add(rows[start:start + size])
        start += size
    assert start == len(rows)
    part.close()
    scan = BlockScan([(part.path, 0)], range(SLICES), min_size=1)
    assert sum(len(v) for _k, v in scan) == len({(k, i) for k, i in rows})
    scan.close()
    assert dict(BlockScan([(part.path, 0)], range(SLICES))) == _expected([(rows, 0)])


def test_features_are_read_alike_with_or_without_json_functions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Features come back the same by the JSON join and by the IN-list fallback (an SQLite
    without JSON functions: its error forced here by a malformed list)."""
    from vaultkeeper.db import scratch as scratch_mod

    store = Scratch(tmp_path / "s.db")
    store.put_features([(i, f"p{i}".encode()) for i in range(0, 3000, 3)])
    wanted = {i for i in range(0, 3000, 2)} | {5000}
    expected = {i: f"p{i}".encode() for i in wanted if i % 3 == 0 and i < 3000}
    assert store.features(wanted) == expected

    class Broken:
        @staticmethod
        def dumps(_value: object) -> bytes:
            return b"[1, 2"
    monkeypatch.setattr(scratch_mod, "orjson", Broken)
    assert store.features(wanted) == expected
    store.close()
