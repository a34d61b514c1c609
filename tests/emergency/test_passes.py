"""The lean passes: answers fetched ahead equal the per-record queries, per-column resolvers
equal ``resolve``, and the phone worker on the second core changes no byte of the package."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaultkeeper.config import load_settings
from vaultkeeper.db.scratch import Scratch
from vaultkeeper.services.emergency import build_package, passes
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
