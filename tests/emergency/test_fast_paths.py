"""The fast paths of the two streaming passes give exactly what the step-by-step code gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from vaultkeeper import registry, shapes
from vaultkeeper.exportfmt import iter_lines
from vaultkeeper.services.emergency.source import ExportObject


def _row_as_before(record: dict[str, Any]) -> dict[str, str]:
    """HubSpot's package row as it was built before the one-comprehension fast path."""
    row = {"id": shapes.cell(record.get("id"))}
    props = record.get("properties") or {}
    if "id" in props:
        for key, value in props.items():
            row[key if key != "id" else "properties.id"] = shapes.cell(value)
    else:
        row.update(shapes.cells(props))
    for key, value in record.items():
        if key in ("id", "properties"):
            continue
        row[key if key not in row else f"_{key}"] = shapes.cell(value)
    return row


_RECORDS: list[dict[str, Any]] = [
    {"id": "1", "properties": {"a": "x", "b": None, "c": ""}, "archived": False,
     "createdAt": "2020-01-01T00:00:00Z"},
    {"id": 7, "properties": {"n": 1, "f": 1.5, "t": True, "l": [1, None], "d": {"z": 1}},
     "archived": True},
    {"properties": {"a": "no id"}},                              # no id at all
    {"id": "2", "properties": None, "archived": False},          # properties null
    {"id": "3", "properties": {}, "updatedAt": None},            # no properties
    {"id": "4"},
    {"id": "5", "properties": {"id": "inner", "a": "x"}, "archived": False},   # property "id"
    {"id": "6", "properties": {"archived": "yes", "a": None}, "archived": True},  # collision
    {"id": "8", "properties": {"createdAt": "p", "_createdAt": "q"}, "createdAt": "t"},
    {"archived": False, "id": "9", "properties": {"a": "x"}, "z": {"k": [1]}},   # key order
    {"id": "10", "properties": {"a": "é, \"quoted\"\nline"}, "properties.id": "top"},
]


@pytest.mark.parametrize("record", _RECORDS)
def test_hubspot_rows_as_before(record: dict[str, Any]) -> None:
    """The fast path and the colliding path give the same keys, order and values as before."""
    flatten = registry.reader_for("hubspot").package.flatten   # type: ignore[union-attr]
    expected = _row_as_before(record)
    assert list(flatten(record).items()) == list(expected.items())


def _rows_as_before(obj: ExportObject, start: int = 0, stop: int | None = None
                    ) -> list[tuple[dict[str, str], bool]]:
    reader = obj.reader
    out = []
    for n, line in enumerate(iter_lines(obj.path), 1):
        if n <= start:
            continue
        if stop is not None and n > stop:
            break
        if not line:
            continue
        record = orjson.loads(line)
        row = reader.flatten(record)
        if obj.primary_key == "":
            row["_row"] = str(n)
        out.append((row, reader.archived(record, row, obj.archived_columns)))
    return out


@pytest.mark.parametrize("flavour, key", [("hubspot", "id"), ("csv", "")])
def test_export_rows_as_before(tmp_path: Path, flavour: str, key: str) -> None:
    """Reading the file directly (ranges skipped unparsed, newlines left to JSON) gives the
    rows ``iter_lines`` gave: blank lines passed over, line numbers counted with them."""
    path = tmp_path / "objects.ndjson"
    lines = [orjson.dumps(r) for r in _RECORDS if isinstance(r.get("properties"), dict)]
    body = b"\n".join(lines[:3]) + b"\n\n" + b"\n".join(lines[3:]) + b"\n  {\"id\": \"z\"}  "
    path.write_bytes(body)
    obj = ExportObject(name="contacts", resource="contacts", path=path, primary_key=key,
                       count=len(lines) + 1, archived=0, flavour=flavour)
    total = body.count(b"\n") + 1
    for start, stop in [(0, None), (0, 3), (3, None), (2, 5), (4, 4), (5, 2), (0, total + 3),
                        (total, None), (total + 5, None)]:
        assert list(obj.rows(start, stop)) == _rows_as_before(obj, start, stop), (start, stop)
    assert (tmp_path / "missing.ndjson").exists() is False
    obj.path = tmp_path / "missing.ndjson"
    assert list(obj.rows()) == []


def test_row_cells_as_map_get() -> None:
    """``RowCells`` gives ``list(map(row.get, keys, repeat("")))`` whatever the run of rows:
    the same keys, a key lacked then present again, new keys, empty rows, repeated keys, keys
    no row has, one or no key."""
    import random
    from itertools import repeat

    from vaultkeeper.services.emergency.files import RowCells

    never = object()
    rng = random.Random(7)
    names = [f"k{i}" for i in range(12)]
    key_lists: list[list[Any]] = [names, names[:1], [], names[:2], [*names, never, never, "k3"],
                                  [never], ["k1", "k1"]]
    for keys in key_lists:
        cells = RowCells(keys)
        same = {k: f"v{k}" for k in names[:9]}
        rows: list[dict[Any, str]] = [same, dict(same), dict(same), {}, same]
        for _ in range(400):
            if rng.random() < 0.7:
                rows.append(dict(same))
            else:
                rows.append({k: rng.choice(["", "x", "a,b", "é"]) for k in names
                             if rng.random() < 0.6})
        rows.append(dict(same, k10="back"))
        rows.append(same)
        for row in rows:
            assert cells(row) == list(map(row.get, keys, repeat(""))), (keys, row)


def test_typed_values_as_key_by_key() -> None:
    """Pass 1's typed values of a batch: by itemgetter or key by key, the same list."""
    from itertools import chain

    from vaultkeeper.services.emergency.passes import _filled

    full = [{"a": "1", "b": "", "c": "x"}, {"a": "", "b": "2", "c": "3"}]
    lacking = [*full, {"a": "4"}]
    for rows in (full, lacking, [], [{}]):
        for names in (["a", "b", "c"], ["c", "a"], ["a"], ["z"], [], ["a", "z"]):
            expected = list(filter(None, chain.from_iterable(map(row.get, names)
                                                             for row in rows)))
            assert _filled(rows, names) == expected, (rows, names)


def test_digests_computed_ahead_are_taken_only_for_unchanged_files(tmp_path: Path) -> None:
    """A digest computed ahead is reused while its file keeps its size and time; a file
    written since is hashed again."""
    from vaultkeeper.services.emergency.files import hash_files, sha256_file

    for name in ("same.csv", "grown.csv"):
        (tmp_path / name).write_text("a,b\n1,2\n")
    ahead = hash_files(tmp_path, ["same.csv", "grown.csv"])
    ahead["same.csv"]["sha256"] = "computed-ahead"   # marks the reused entry
    with (tmp_path / "grown.csv").open("a") as handle:
        handle.write("3,4\n")
    final = hash_files(tmp_path, ["same.csv", "grown.csv"], ahead)
    assert final["same.csv"]["sha256"] == "computed-ahead"
    assert final["grown.csv"]["sha256"] == sha256_file(tmp_path / "grown.csv")
    assert final["grown.csv"]["bytes"] == 12
