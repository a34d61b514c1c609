"""The package from a sandbox export: counts, Frictionless validity, relations, sample, files."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import frictionless
from vk_backup import vk

from vaultkeeper.services.emergency.verify import verify_package


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_counts_equal_the_export_manifest(package, sandbox_export):
    out, result = package
    manifest = json.loads((sandbox_export[1] / "manifest.json").read_text())
    for name, entry in manifest["objects"].items():
        assert len(rows(out / "data" / "objects" / f"{name}.csv")) == entry["count"], name
        assert result.counts[name] == entry["count"]
    for stem, entry in manifest["relations"].items():
        assert len(rows(out / "data" / "relations" / f"{stem}.csv")) == entry["count"], stem
    assert (out / "export-manifest.json").read_bytes() == \
        (sandbox_export[1] / "manifest.json").read_bytes()


def test_frictionless_validates_the_package_and_the_sample(package):
    out, result = package
    assert result.valid, result.validation_errors
    for descriptor in (out / "datapackage.json", out / "sample" / "datapackage.json"):
        report = frictionless.validate(str(descriptor))
        assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]
    pkg = json.loads((out / "datapackage.json").read_text())
    contacts = next(r for r in pkg["resources"] if r["name"] == "contacts")
    assert contacts["schema"]["primaryKey"] == ["id"]
    fields = {f["name"]: f for f in contacts["schema"]["fields"]}
    assert fields["email"]["title"] == "Email"
    assert fields["createdate"]["type"] == "datetime"
    assert fields["hs_analytics_num_page_views"]["type"] == "number"
    # date_of_birth is free text in the sandbox: declared text, never a false "date".
    assert fields["date_of_birth"]["type"] == "string"
    rel = next(r for r in pkg["resources"] if r["name"] == "deals__contacts")
    assert {fk["reference"]["resource"] for fk in rel["schema"]["foreignKeys"]} == {
        "deals", "contacts"}


def test_every_relation_key_resolves(package):
    out, _ = package
    ids = {p.stem: {r["id"] for r in rows(p)} for p in (out / "data" / "objects").glob("*.csv")}
    checked = 0
    for path in (out / "data" / "relations").glob("*.csv"):
        a, b = path.stem.split("__")
        for row in rows(path):
            assert row["from_id"] in ids[a] and row["to_id"] in ids[b], (path.name, row)
            checked += 1
    assert checked > 1000
    person = {r["legacy_id"] for r in rows(out / "canonical" / "person.csv")}
    orgs = {r["legacy_id"] for r in rows(out / "canonical" / "organisation.csv")}
    for row in rows(out / "canonical" / "donation.csv"):
        assert not row["person_id"] or row["person_id"] in person
        assert not row["organisation_id"] or row["organisation_id"] in orgs


def test_sample_is_about_ten_percent_and_closed_under_relations(package):
    out, result = package
    sample = out / "sample" / "data"
    ids = {p.stem: {r["id"] for r in rows(p)} for p in (sample / "objects").glob("*.csv")}
    assert 0.06 < len(ids["contacts"]) / result.counts["contacts"] < 0.14
    related = 0
    for path in (sample / "relations").glob("*.csv"):
        a, b = path.stem.split("__")
        for row in rows(path):
            assert row["from_id"] in ids[a] and row["to_id"] in ids[b], (path.name, row)
            related += 1
    assert related > 50
    # every sampled deal and note is there because of a sampled contact
    assert ids["deals"] and ids["notes"]
    trial = rows(out / "sample" / "import" / "hubspot" / "contacts.csv")
    assert {r["Legacy Record ID"] for r in trial} <= ids["contacts"]


def test_nothing_is_silently_dropped(package):
    out, _ = package
    contacts = rows(out / "data" / "objects" / "contacts.csv")
    extra_header = rows(out / "canonical" / "person.extra.csv")[0].keys()
    mapped = {"firstname", "lastname", "salutation", "email", "phone", "mobilephone", "address",
              "city", "state", "zip", "country", "date_of_birth", "jobtitle", "hs_email_optout",
              "createdate", "lastmodifieddate", "id"}
    filled = {k for r in contacts for k, v in r.items() if v}
    assert filled - mapped <= set(extra_header)
    assert "membership_number" in extra_header and "gift_aid_declared" in extra_header


def test_hubspot_import_files_carry_association_columns(package):
    out, _ = package
    companies = {r["Legacy Record ID"]: r for r in rows(out / "import" / "hubspot" /
                                                        "companies.csv")}
    contacts = rows(out / "import" / "hubspot" / "contacts.csv")
    linked = [c for c in contacts if c["Associated Company Legacy ID"] in companies]
    assert len(linked) > 100
    for c in linked:
        assert c["Company Domain Name"] == companies[c["Associated Company Legacy ID"]][
            "Company Domain Name"]
    donations = rows(out / "import" / "hubspot" / "donations.csv")
    held = rows(out / "import" / "hubspot" / "inactive" / "contacts.csv")
    emails = {c["Legacy Record ID"]: c["Email"] for c in contacts + held}
    with_person = [d for d in donations if d["Associated Contact Legacy ID"]]
    assert with_person and all(d["Email"] == emails.get(d["Associated Contact Legacy ID"], "")
                               for d in with_person)
    idmap = rows(out / "import" / "id-map" / "contacts.csv")
    assert len(idmap) == 1500 and set(idmap[0]) == {"object", "legacy_id", "archived",
                                                    "import_file", "gap", "new_id"}
    # archived contacts are held back from the import file, not lost
    assert len(contacts) + len(held) == 1500 and held
    invalid = {r["legacy_id"] for r in rows(out / "quality" / "emails.csv")
               if r["status"] == "invalid"}
    assert invalid and all(not c["Email"] for c in contacts if c["Legacy Record ID"] in invalid)


def test_runbook_orders_processes_and_gives_counts(package):
    out, result = package
    text = (out / "RUNBOOK.md").read_text()
    assert text.index("Membership administration") < text.index("Events and registrations") \
        < text.index("Newsletters and consent")
    active = result.entities["person"]["active"]
    assert f"`import/hubspot/contacts.csv` — **{active}** rows" in text
    assert text.index("import/hubspot/companies.csv") < text.index("import/hubspot/contacts.csv")
    assert "Contacts and decisions" in text
    html = (out / "runbook.html").read_text()
    assert "<table>" in html and "http" not in html.split("<body>")[0]


def test_verify_passes_then_names_a_tampered_csv(package, tmp_path):
    out, _ = package
    assert verify_package(out).ok
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    target = copy / "data" / "objects" / "companies.csv"
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace(",", ";", 1), encoding="utf-8")
    config = tmp_path / "none.toml"
    result = vk(config, "emergency", "verify", str(copy))
    assert result.returncode == 4, result.stderr
    assert "data/objects/companies.csv" in result.stderr
    report = verify_package(copy)
    assert not report.ok and report.checks["checksums"] == "failed"


def test_sha256sums_and_signature_check_with_standard_tools(package):
    out, _ = package
    done = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=out,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    if shutil.which("openssl"):
        done = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                               "signing-key.pub", "-rawin", "-in", "package.json", "-sigfile",
                               "package.json.sig"], cwd=out, capture_output=True, text=True)
        assert done.returncode == 0 and "Success" in done.stdout, done.stderr


def test_resigned_inventory_cannot_hide_a_change(package, tmp_path):
    """Rewriting SHA256SUMS after a change is caught by the signed package.json."""
    out, _ = package
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "canonical" / "person.csv").write_text("legacy_id\n", encoding="utf-8")
    from vaultkeeper.services.emergency.package import write_checksums

    write_checksums(copy)
    report = verify_package(copy, frictionless=False)
    assert report.checks["checksums"] == "ok"
    assert any("canonical/person.csv: differs from the signed" in p for p in report.problems)


def test_files_are_private(package):
    out, _ = package
    assert out.stat().st_mode & 0o077 == 0
    assert all(p.stat().st_mode & 0o077 == 0 for p in out.rglob("*"))


def test_hubspot_import_files_carry_email_opt_out_and_currency(package):
    """The canonical model has e-mail opt-out and the deal currency: the HubSpot import files
    carry them (``Unsubscribed from all email`` as true/false, ``Currency`` as written)."""
    out, _ = package
    people = {r["legacy_id"]: r for r in rows(out / "canonical" / "person.csv")}
    contacts = rows(out / "import" / "hubspot" / "contacts.csv") + rows(
        out / "import" / "hubspot" / "inactive" / "contacts.csv")
    opted = [c for c in contacts if c["Unsubscribed from all email"]]
    assert {c["Unsubscribed from all email"] for c in opted} == {"true", "false"}
    for c in contacts:
        canonical = people[c["Legacy Record ID"]]["email_opt_out"]
        assert c["Unsubscribed from all email"] == (
            canonical if canonical in ("true", "false") else "")
    gifts = {r["legacy_id"]: r for r in rows(out / "canonical" / "donation.csv")}
    deals = [r for p in sorted((out / "import" / "hubspot").rglob("donations*.csv"))
             for r in rows(p)]
    with_currency = [d for d in deals if d["Currency"]]
    assert len({d["Currency"] for d in with_currency}) > 1
    for d in deals:
        assert d["Currency"] == gifts.get(d["Legacy Record ID"], {}).get(
            "currency", d["Currency"])
    assert sum(1 for d in deals if d["Legacy Record ID"] in gifts
               and d["Currency"] == gifts[d["Legacy Record ID"]]["currency"]) > 0
