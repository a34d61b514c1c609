"""The lean passes: answers fetched ahead equal the per-record queries, per-column resolvers
equal ``resolve``, and the phone worker on the second core changes no byte of the package."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaultkeeper.config import load_settings
from vaultkeeper.db.scratch import Scratch
from vaultkeeper.services.emergency import build_package, passes, split
from vaultkeeper.services.emergency.files import all_files
from vaultkeeper.services.emergency.targets import import_files, resolve, resolver, target_names


def test_prefetched_answers_equal_the_queries(tmp_path: Path) -> None:
    scratch = Scratch(tmp_path / "scratch.db")
    scratch.add_ids("contacts", ["1", "2", "3"])
    scratch.add_links("c__o", [("1", "a"), ("1", "b"), ("2", "b"), ("4", "c")])
    scratch.put_values("org_domain", [("a", "a.example"), ("b", None)])
    asked = ["1", "2", "3", "4", "9", "a", "b"]
    direct = ([scratch.has("contacts", i) for i in asked],
              [scratch.first_link("c__o", i) for i in asked],
              [scratch.first_link("c__o", i, reverse=True) for i in asked],
              [scratch.value("org_domain", i) for i in asked])
    assert direct[1][:2] == ["a", "b"] and direct[2][-2:] == ["1", "1"]   # first in file order
    scratch.prefetch("ids", "contacts", ["1", "3", "9"])
    scratch.prefetch("link", "c__o", ["1", "4", "9"])
    scratch.prefetch("rev", "c__o", ["b", "c"])
    scratch.prefetch("vals", "org_domain", ["a", "b", "zz"])
    # A prefetched answer lives in memory: a change to the file no longer shows for it …
    scratch.add_ids("contacts", ["9"])
    assert scratch.has("contacts", "9") is False
    # … while ids not fetched ahead still ask the file.
    scratch.add_ids("contacts", ["4"])
    assert scratch.has("contacts", "4") is True
    ahead = ([scratch.has("contacts", i) for i in asked if i != "4" and i != "9"],
             [scratch.first_link("c__o", i) for i in asked],
             [scratch.first_link("c__o", i, reverse=True) for i in asked],
             [scratch.value("org_domain", i) for i in asked])
    assert ahead[0] == [d for i, d in zip(asked, direct[0], strict=True) if i not in "49"]
    assert ahead[1:] == direct[1:]
    scratch.forget()
    assert scratch.has("contacts", "9") is True
    scratch.close()


def test_column_resolvers_equal_resolve() -> None:
    values = ["", "2020-01-02", "2020-01", "TRUE", "false", "x", "2020-01-02T10:00:00Z"]
    checked = 0
    for target in target_names():
        for spec in import_files(target):
            for _header, source in spec.columns:
                fn = resolver(source)
                name = source.partition("|")[0]
                for value in values:
                    row, lookup = {name: value}, {source: value}
                    assert fn(row, lookup) == resolve(row, source, lookup), (source, value)
                    checked += 1
    assert checked > 300


@pytest.fixture()
def two_builds(sandbox_export, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The same export built with the phone worker forced on, then with it off."""
    config, export = sandbox_export
    settings = load_settings(config)
    outs = {}
    monkeypatch.setattr(split, "SPLIT_MIN", 10**12)
    for name, minimum in (("worker", 0), ("serial", 10**12)):
        monkeypatch.setattr(passes, "PARALLEL_MIN", minimum)
        outs[name] = tmp_path / name
        build_package(export, outs[name], settings, target="hubspot", validate=False)
    return outs


def test_the_phone_worker_changes_no_byte(two_builds: dict[str, Path]) -> None:
    signed = {"package.json", "package.json.sig", "SHA256SUMS"}   # hold the build time
    files = [f for f in all_files(two_builds["serial"]) if f not in signed]
    assert files == [f for f in all_files(two_builds["worker"]) if f not in signed]
    assert "import/hubspot/contacts.csv" in files and "quality/phones.csv" in files
    differ = [f for f in files if _stable(two_builds["serial"] / f)
              != _stable(two_builds["worker"] / f)]
    assert differ == []


def _stable(path: Path) -> bytes:
    """A file's bytes; a descriptor without its "created" time (the only field that varies)."""
    if path.name != "datapackage.json":
        return path.read_bytes()
    doc = json.loads(path.read_bytes())
    assert doc.pop("created")
    return json.dumps(doc, sort_keys=True).encode()


@pytest.mark.parametrize("target", ["hubspot", "generic", "salesforce"])
def test_the_split_pass_changes_no_byte(sandbox_export, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    """Every object's pass 2 split over two processes (part files, spooled scratch writes,
    counters merged) gives the package one process writes, byte for byte."""
    config, export = sandbox_export
    settings = load_settings(config)
    monkeypatch.setattr(passes, "PARALLEL_MIN", 10**12)
    outs: dict[str, Path] = {}
    splits: list[str] = []
    real = split.write_split

    def counted(b, o):   # the split really ran (and its worker really wrote a share)
        splits.append(o.obj.name)
        real(b, o)
    monkeypatch.setattr(split, "write_split", counted)
    for name, minimum in (("split", 0), ("serial", 10**12)):
        monkeypatch.setattr(split, "SPLIT_MIN", minimum)
        outs[name] = tmp_path / name
        result = build_package(export, outs[name], settings, target=target, validate=False)
        assert result.duplicates > 0
    assert "contacts" in splits and "companies" in splits
    signed = {"package.json", "package.json.sig", "SHA256SUMS"}
    files = [f for f in all_files(outs["serial"]) if f not in signed]
    assert files == [f for f in all_files(outs["split"]) if f not in signed]
    assert "quality/duplicates.csv" in files and "quality/phones.csv" in files
    differ = [f for f in files if _stable(outs["serial"] / f) != _stable(outs["split"] / f)]
    assert differ == []
    manifests = [json.loads((outs[n] / "package.json").read_bytes()) for n in ("serial", "split")]
    for m in manifests:
        m.pop("created_at"), m.pop("files"), m.pop("signing")
    assert manifests[0] == manifests[1]
    # nothing of the workers' shares is left in the private work folder
    assert not list((settings.state_dir).glob("emergency-work-*"))


def test_a_failed_worker_fails_the_build(sandbox_export, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that dies mid-share fails the build with one clear error (no half package
    passed off as whole), and its plaintext leaves with the work folder."""
    config, export = sandbox_export
    settings = load_settings(config)
    monkeypatch.setattr(split, "SPLIT_MIN", 0)
    real = split.Spool.put_features

    def dying(self, items):   # only the worker's spool (spool-1) dies
        if self.path.name == "spool-1":
            raise OSError("disk full (simulated in the worker)")
        real(self, items)
    monkeypatch.setattr(split.Spool, "put_features", dying)
    from vaultkeeper.errors import VaultkeeperError
    with pytest.raises(VaultkeeperError, match=r"second process.*disk full"):
        build_package(export, tmp_path / "out", settings, target="hubspot", validate=False)
    assert not list((settings.state_dir).glob("emergency-work-*"))


_KILLED_BUILD = """
import os, sys, time
from pathlib import Path
from vaultkeeper.config import load_settings
from vaultkeeper.services.emergency import build_package, split
from vaultkeeper.services.emergency.package import PackageBuilder
split.SPLIT_MIN = 0
me, real = os.getpid(), PackageBuilder.write_rows

def write_rows(self, o, rows, pool):
    if os.getpid() != me:   # the worker: say who it is, then hang
        Path(sys.argv[3]).write_text(str(os.getpid()))
        time.sleep(600)
    real(self, o, rows, pool)

PackageBuilder.write_rows = write_rows
build_package(Path(sys.argv[2]), Path(sys.argv[4]), load_settings(Path(sys.argv[1])),
              target="hubspot", validate=False)
"""


def test_the_worker_dies_with_the_build(sandbox_export, tmp_path: Path) -> None:
    """kill -9 of the build takes its worker process with it (PR_SET_PDEATHSIG), so no
    orphan keeps writing plaintext into the work folder the next run removes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    config, export = sandbox_export
    marker = tmp_path / "worker.pid"
    build = subprocess.Popen([sys.executable, "-c", _KILLED_BUILD, str(config), str(export),
                              str(marker), str(tmp_path / "out")])
    try:
        deadline = time.monotonic() + 600
        while not marker.exists() or not marker.read_text():
            assert build.poll() is None and time.monotonic() < deadline, "no worker started"
            time.sleep(0.2)
        worker = int(marker.read_text())
        assert _alive(worker)
        os.kill(build.pid, signal.SIGKILL)
        build.wait(timeout=60)
        deadline = time.monotonic() + 120
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(worker), "the worker outlived the build"
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = next((line.split()[1] for line in status.splitlines()
                  if line.startswith("State:")), "X")
    return state not in ("Z", "X")


def test_pass_one_finds_a_late_nonconforming_value(sandbox_export, tmp_path: Path) -> None:
    """Typed values are matched a batch of records at a time: one bad value far into the
    file (past the first batches) still turns its column into text, exactly the columns a
    value-by-value check finds."""
    import shutil

    from vaultkeeper.services.emergency.source import open_export

    config, export = sandbox_export
    copy = tmp_path / "export"
    shutil.copytree(export, copy)
    path = copy / "objects" / "contacts.ndjson"
    lines = path.read_bytes().splitlines()
    at = 3 * passes.TYPED_BATCH + 7
    record = json.loads(lines[at])
    obj = open_export(copy).objects["contacts"]
    numeric = next(c.name for c in obj.columns.values() if c.candidate_type == "number"
                   and c.name in record["properties"])
    record["properties"][numeric] = "12 members"
    lines[at] = json.dumps(record).encode()
    path.write_bytes(b"\n".join(lines) + b"\n")
    expected = set()
    for row, _archived in open_export(copy).objects["contacts"].rows():
        expected |= {c.name for c in obj.columns.values()
                     if (check := passes.CONFORMS.get(c.candidate_type)) is not None
                     and (v := row.get(c.name)) and not check(v)}
    assert numeric in expected
    out = tmp_path / "pkg"
    build_package(copy, out, load_settings(config), target="hubspot", validate=False)
    report = json.loads((out / "quality" / "report.json").read_bytes())
    assert set(report["objects"]["contacts"]["typed_as_text"]) == expected


def test_plain_rows_are_written_as_the_csv_module_writes_them(tmp_path: Path) -> None:
    """CsvOut joins rows of plain fields itself: every row, plain or not (commas, quotes,
    line breaks, a lone empty field, values that are not text), has the csv module's bytes."""
    import csv
    import io
    import random

    from vaultkeeper.services.emergency.files import CsvOut

    rng = random.Random(5)
    alphabet = ["a", "Z", " ", ",", '"', "\n", "\r", "é", "€", "\t", "'", ";", "\x00", "\u2028"]
    rows: list[list[object]] = [[""], [], ["", ""], ["x"], [None, 5, 1.5, True]]
    for _ in range(5000):
        rows.append(["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4)))
                     for _ in range(rng.choice([1, 2, 3, 6]))])
    out = CsvOut(tmp_path / "a" / "rows.csv", ["h1", "h2"])
    for row in rows:
        out.write_values(row)   # type: ignore[arg-type]
    out.write({"h1": "x,y", "h3": "ignored"})
    out.write({"h2": "plain"})
    out.close()
    expected = io.StringIO(newline="")
    writer = csv.writer(expected, lineterminator="\r\n")
    writer.writerows([["h1", "h2"], *rows, ["x,y", ""], ["", "plain"]])
    assert (tmp_path / "a" / "rows.csv").read_bytes() == expected.getvalue().encode()
    assert out.rows == len(rows) + 2


def test_bulk_scratch_writes_keep_row_order_and_conflict_rules(tmp_path: Path) -> None:
    """Bulk writes go as multi-row INSERTs: past one statement's rows, duplicates are still
    ignored (ids) or replaced by the later row (values), and rows keep their order."""
    scratch = Scratch(tmp_path / "scratch.db")
    n = 1000   # five statements' worth
    scratch.add_ids("s", [str(i % 700) for i in range(n)])
    assert scratch.count_ids("s") == 700
    scratch.put_values("v", [(str(i % 300), f"v{i}") for i in range(n)])
    assert [scratch.value("v", str(i)) for i in (0, 99, 299)] == ["v900", "v999", "v899"]
    scratch.add_keys([(f"k{i % 3}", i) for i in range(n)])
    blocks = dict(scratch.blocks())
    assert blocks["k1"] == list(range(1, n, 3))
    scratch.add_links("r", [(str(i % 10), str(n - i)) for i in range(n)])
    assert [scratch.first_link("r", str(a)) for a in (0, 9)] == [str(n), str(n - 9)]
    scratch.prefetch("link", "r", ["3"])
    assert scratch.first_link("r", "3") == str(n - 3)
    scratch.put_features([(i, bytes([i % 256])) for i in range(n)])
    assert scratch.features([0, 257, 999]) == {0: b"\x00", 257: b"\x01", 999: bytes([999 % 256])}
    scratch.close()


def test_cells_flatten_as_cell_does() -> None:
    """``shapes.cells`` (text and nulls inline) equals ``cell`` per value, in order."""
    from vaultkeeper.shapes import cell, cells

    record = {"a": None, "b": "x", "c": True, "d": 1.5, "e": {"z": 1, "a": [1, None]},
              "f": None, "g": "", "h": False, "i": 0}
    assert list(cells(record).items()) == [(k, cell(v)) for k, v in record.items()]
    assert cells(record)["a"] == "" and cells(record)["c"] == "true"
