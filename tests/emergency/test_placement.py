"""Every record placed, every relation kept: for each target, every record of a sandbox export
is in exactly one import file or in the counted gap list, and the links resolve."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from vk_backup import make_config, vk

from vaultkeeper.config import load_settings
from vaultkeeper.sandbox import register
from vaultkeeper.services.emergency import build_package
from vaultkeeper.services.emergency.verify import verify_package


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """flavour → (config, export) of 300-contact sandbox exports made by the real CLI."""
    out = {}
    for flavour in ("hubspot", "salesforce"):
        root = tmp_path_factory.mktemp(f"placement-{flavour}")
        config = make_config(root, records=300, extra='[emergency]\ndefault_region = "GB"\n')
        text = config.read_text(encoding="utf-8").replace(
            'connector = "sandbox"\n', f'connector = "sandbox"\nflavour = "{flavour}"\n')
        config.write_text(text, encoding="utf-8")
        result = vk(config, "export", "--out", str(root / "export"))
        assert result.returncode == 0, result.stderr
        out[flavour] = (config, root / "export")
    return out


CASES = [("hubspot", "generic"), ("hubspot", "hubspot"), ("hubspot", "salesforce"),
         ("salesforce", "salesforce"), ("salesforce", "generic")]


@pytest.fixture(scope="module")
def packages(exports, tmp_path_factory):
    """(flavour, target) → (package folder, result)."""
    built = {}
    for flavour, target in CASES:
        config, export = exports[flavour]
        out = tmp_path_factory.mktemp(f"pkg-{flavour}-{target}") / "pkg"
        built[(flavour, target)] = (out, build_package(export, out, load_settings(config),
                                                       target=target, validate=False))
    return built


def _primary(files: dict[str, dict]) -> dict[str, dict]:
    return {p: s for p, s in files.items() if s["role"] == "primary"}


@pytest.mark.parametrize("case", CASES, ids=["-".join(c) for c in CASES])
def test_every_record_in_exactly_one_file_or_a_counted_gap(packages, case):
    out, result = packages[case]
    placement = result.as_json()["placement"]
    pkg = json.loads((out / "package.json").read_text())
    assert pkg["placement"] == placement
    files = placement["import_files"]
    seen: Counter[tuple[str, str]] = Counter()
    for path, spec in _primary(files).items():
        for row in rows(out / path):
            seen[(spec["object"], row[spec["legacy_column"]])] += 1
    assert seen and max(seen.values()) == 1, [k for k, n in seen.items() if n > 1][:3]
    gaps = Counter()
    for name, count in result.counts.items():
        ids = [r[next(iter(r))] for r in rows(out / pkg["objects"][name]["file"])]
        assert len(ids) == count
        idmap = rows(out / "import" / "id-map" / f"{pkg['objects'][name]['resource']}.csv")
        assert [r["legacy_id"] for r in idmap] == ids
        for r in idmap:
            assert bool(r["import_file"]) != bool(r["gap"]), (name, r)
            if r["import_file"]:
                assert seen[(name, r["legacy_id"])] == 1, (name, r)
            else:
                gaps[(name, r["gap"])] += 1
        info = placement["objects"].get(name, {"records": 0, "files": {}, "gaps": {}})
        assert info["records"] == count
        assert sum(info["files"].values()) + sum(info["gaps"].values()) == count
    assert sum(n for (_o, _g), n in gaps.items()) == placement["gap_records"]
    assert {(g["object"], g["reason"]): g["records"] for g in placement["gaps"]} == dict(gaps)
    assert sum(seen.values()) + placement["gap_records"] == sum(result.counts.values())
    runbook = (out / "RUNBOOK.md").read_text()
    assert "## Where every record goes" in runbook
    for g in placement["gaps"]:
        assert g["reason"] in runbook
    report = verify_package(out, frictionless=False)
    assert report.ok, report.problems
    assert report.checks["placement"] == "ok"


@pytest.mark.parametrize("case", CASES, ids=["-".join(c) for c in CASES])
def test_links_resolve_to_rows_of_the_related_files(packages, case):
    out, result = packages[case]
    files = result.as_json()["placement"]["import_files"]
    ids_of: dict[str, set[str]] = {}
    for path, spec in _primary(files).items():
        ids_of.setdefault(spec["object"], set()).update(
            r[spec["legacy_column"]] for r in rows(out / path))
    checked = 0
    for path, spec in files.items():
        for column, target in spec["links"].items():
            for r in rows(out / path):
                if r[column]:
                    assert r[column] in ids_of[target], (path, column, r[column])
                    checked += 1
    assert checked > 50


@pytest.mark.parametrize("case", CASES, ids=["-".join(c) for c in CASES])
def test_every_relation_is_in_a_column_or_an_associations_file(packages, case):
    out, result = packages[case]
    files = result.as_json()["placement"]["import_files"]
    held: set[tuple[str, str, str]] = set()
    for path, spec in files.items():
        if spec["role"] == "associations":
            held |= {(spec["relation"], r["from_legacy_id"], r["to_legacy_id"])
                     for r in rows(out / path)}
        for column, stem in spec.get("relation_columns", {}).items():
            held |= {(stem, r[spec["legacy_column"]], r[column]) for r in rows(out / path)
                     if r[column]}
    total = 0
    pkg = json.loads((out / "package.json").read_text())
    for stem, entry in pkg["relations"].items():
        for r in rows(out / entry["file"]):
            total += 1
            assert (stem, r["from_id"], r["to_id"]) in held, (stem, r)
    assert total > 100


def test_deals_of_every_pipeline_are_placed(packages):
    out, result = packages[("hubspot", "hubspot")]
    files = result.as_json()["placement"]["import_files"]
    deal_files = [p for p, s in _primary(files).items() if s["object"] == "deals"]
    pipelines = Counter(r["Pipeline"] for p in deal_files for r in rows(out / p))
    assert {"Donations", "events", "memberships"} <= set(pipelines), pipelines
    assert result.as_json()["placement"]["objects"]["deals"]["gaps"] == {}


def test_distinct_column_names_in_every_import_file(packages):
    for (_flavour, _target), (out, result) in packages.items():
        for path in result.as_json()["placement"]["import_files"]:
            with (out / path).open(encoding="utf-8", newline="") as fh:
                header = next(csv.reader(fh))
            lowered = [h.lower() for h in header]
            assert len(lowered) == len(set(lowered)), (path, header)


def test_verify_fails_when_a_record_is_neither_placed_nor_listed(packages, tmp_path):
    import shutil

    src, _result = packages[("hubspot", "generic")]
    out = tmp_path / "pkg"
    shutil.copytree(src, out)
    idmap = out / "import" / "id-map" / "contacts.csv"
    lines = idmap.read_text(encoding="utf-8").splitlines(keepends=True)
    head = next(csv.reader([lines[1]]))
    lines[1] = ",".join([*head[:3], "", "", *head[5:]]) + "\r\n"
    idmap.write_text("".join(lines), encoding="utf-8")
    report = verify_package(out, frictionless=False)
    assert report.checks["placement"] == "failed"
    assert any("neither placed in an import file nor listed as a gap" in p and head[1] in p
               for p in report.problems), report.problems
    cli = vk(Path("/nonexistent.toml"), "emergency", "verify", str(out), "--json")
    assert cli.returncode == 4
    assert json.loads(cli.stdout)["checks"]["placement"] == "failed"


# ------------------------------------------------------------------ a Dutch vendor dump
@pytest.fixture(scope="module")
def dutch_package(tmp_path_factory):
    root = tmp_path_factory.mktemp("dutch-package")
    reg = register.generate(600, seed=21)
    register.write_dump(root / "delivery", reg)
    config = root / "vaultkeeper.toml"
    config.write_text(f'[source]\nconnector = "csv"\npath = "{root / "delivery"}"\n\n[paths]\n'
                      f'state_dir = "{root / "state"}"\n\n[emergency]\n'
                      'default_region = "NL"\n', encoding="utf-8")
    assert vk(config, "export", "--out", str(root / "export")).returncode == 0
    out = root / "pkg"
    result = build_package(root / "export", out, load_settings(config), target="hubspot",
                           validate=True)
    return reg, out, result


def test_dutch_dump_gets_canonical_model_import_files_and_duplicates(dutch_package):
    reg, out, result = dutch_package
    assert result.valid, result.validation_errors
    data = result.as_json()
    assert data["mapping"]["source"] == "inferred"
    assert data["mapping"]["entities"]["person"]["fields"]["first_name"]["confidence"] >= 0.8
    persons = rows(out / "canonical" / "person.csv")
    assert len(persons) == len(reg.rows)
    first = persons[0]
    assert first["legacy_id"] == register.member_id(0)
    assert first["last_name"] == register.full_last(reg.rows[0])
    donations = rows(out / "canonical" / "donation.csv")
    assert donations and all(d["person_id"].startswith("2") for d in donations)
    assert all("," not in d["amount"] for d in donations)
    placed = data["placement"]["objects"]["leden"]["files"]
    assert sum(placed.values()) == len(reg.rows)        # every member in an import file
    assert set(placed) <= {"import/hubspot/contacts.csv", "import/hubspot/inactive/contacts.csv"}
    contacts = rows(out / "import" / "hubspot" / "contacts.csv")
    assert {c["Legacy Record ID"] for c in contacts} <= {register.member_id(i)
                                                         for i in range(len(reg.rows))}
    gifts = rows(out / "import" / "hubspot" / "donations.csv")
    assert gifts and all(g["Associated Contact Legacy ID"] for g in gifts)
    assert data["placement"]["gap_records"] == 0
    dup = rows(out / "quality" / "duplicates.csv")
    found = {frozenset((d["legacy_id_a"], d["legacy_id_b"])) for d in dup}
    truth = {frozenset(register.member_id(i) for i in pair) for pair in reg.truth}
    assert len(truth) >= 30
    hits = len(found & truth)
    assert hits / len(truth) >= 0.9, (hits, len(truth))
    assert hits / len(found) >= 0.9, (hits, len(found))
    runbook = (out / "RUNBOOK.md").read_text()
    assert "Inferred" in runbook and "Voornaam" in runbook
    assert "no canonical mapping" not in " ".join(result.warnings)


def test_gaps_and_associations_are_listed_and_verified(exports, tmp_path):
    """A mapping without activities leaves notes in a counted gap; without the person's
    organisation column every contact→company link goes to an associations file."""
    from vaultkeeper.policies import load_policies

    config, export = exports["hubspot"]
    policies = tmp_path / "policies" / "mappings"
    policies.mkdir(parents=True)
    text = (Path(__file__).resolve().parents[2] / "policies" / "mappings" /
            "hubspot.toml").read_text(encoding="utf-8")
    text = text.split("[activity]")[0].replace(
        'organisation_id = "@rel:contacts__companies"\n', "")
    (policies / "hubspot.toml").write_text(text, encoding="utf-8")
    out = tmp_path / "pkg"
    result = build_package(export, out, load_settings(config), target="hubspot",
                           validate=False, policies=load_policies(tmp_path / "policies"))
    placement = result.as_json()["placement"]
    notes = result.counts["notes"]
    assert notes and placement["objects"]["notes"]["gaps"] == {
        next(iter(placement["objects"]["notes"]["gaps"])): notes}
    reason = next(g["reason"] for g in placement["gaps"] if g["object"] == "notes")
    assert "notes" in reason and "data/objects/notes.csv" in reason
    assert result.as_json()["gap_records"] == notes
    assoc = out / "import" / "hubspot" / "associations" / "contacts__companies.csv"
    pkg = json.loads((out / "package.json").read_text())
    pairs = {(r["from_id"], r["to_id"]) for r in rows(
        out / pkg["relations"]["contacts__companies"]["file"])}
    assert {(r["from_legacy_id"], r["to_legacy_id"]) for r in rows(assoc)} == pairs
    runbook = (out / "RUNBOOK.md").read_text()
    assert reason in runbook and "associations/contacts__companies.csv" in runbook
    report = verify_package(out, frictionless=False)
    assert report.ok, report.problems
