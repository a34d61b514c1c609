"""`emergency rehearse` into empty HubSpot and Salesforce sandboxes (the vendors' write APIs),
with the official SDKs as independent witnesses of what the target holds afterwards."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import hubspot
import requests
from simple_salesforce import Salesforce
from vk_backup import vk

from vaultkeeper.sandbox import Sandbox
from vaultkeeper.services.rehearse import vendor
from vaultkeeper.services.rehearse.model import TargetMapping, mapping_toml


def _rows(package: Path, entity: str) -> list[dict[str, str]]:
    with (package / "canonical" / f"{entity}.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _named_target(config: Path, kind: str, sb: Sandbox) -> Path:
    """A copy of the config with [rehearsal.crm] pointing at a running sandbox."""
    token = config.parent / "secrets" / f"{kind}-target.token"
    token.write_text(sb.token + "\n", encoding="utf-8")
    token.chmod(0o600)
    copy = config.parent / f"vaultkeeper-{kind}.toml"
    copy.write_text(config.read_text(encoding="utf-8") + (
        f'\n[rehearsal.crm]\nkind = "{kind}"\nurl = "{sb.url}"\n'
        f'token = {{ file = "{token}" }}\nca_file = "{sb.ca_file}"\n'), encoding="utf-8")
    return copy


def test_rehearsal_into_an_empty_hubspot_portal(rehearsal_package, vendor_packages):
    config, _generic = rehearsal_package
    package = vendor_packages["hubspot"]
    with Sandbox(records=0, seed=1) as sb:
        client = hubspot.Client.create(access_token=sb.token, host=sb.url, base_url=sb.url,
                                       ssl_ca_cert=str(sb.ca_file))
        assert client.crm.contacts.basic_api.get_page(limit=10).results == []   # empty
        result = vk(_named_target(config, "hubspot", sb), "emergency", "rehearse",
                    str(package), "--into", "crm", "--json", timeout=600)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        data = json.loads(result.stdout)
        assert data["ok"] and data["lost"] == []
        assert data["via"] == "import"          # HubSpot's CSV imports API, the package's files
        assert data["relations_linked"] == data["relations_expected"] > 0
        # The package's own import files hold every record and every carried column.
        files = data["import_files"]
        assert files["person"]["file"] == "import/hubspot/contacts.csv"
        assert all(f["missing_row_count"] == 0 and not f["missing_columns"]
                   for f in files.values())
        for entity in ("person", "organisation", "membership", "donation", "activity"):
            got = data["objects"][entity]
            assert got["records"] == got["imported"] == len(_rows(package, entity)) > 0
        # The official SDK sees the contacts, with the legacy ids and the associations.
        people = _rows(package, "person")
        seen, after = [], None
        while True:
            page = client.crm.contacts.basic_api.get_page(
                limit=100, after=after,
                properties=["vaultkeeper_legacy_id", "city", "hs_email_optout"],
                associations=["companies"])
            seen += page.results
            if not page.paging:
                break
            after = page.paging.next.after
        assert sorted(c.properties["vaultkeeper_legacy_id"] for c in seen) == sorted(
            r["legacy_id"] for r in people)
        linked = sum(1 for c in seen if c.associations and c.associations.get("companies"))
        assert linked == sum(1 for r in people if r["organisation_id"])
        by_legacy = {c.properties["vaultkeeper_legacy_id"]: c for c in seen}
        assert all(by_legacy[r["legacy_id"]].properties["city"] == r["city"]
                   for r in people if r["city"])
        # contacts.csv carries e-mail opt-out: HubSpot holds each contact's as the package has it.
        opted = [r for r in people if r["email_opt_out"] in ("true", "false")]
        assert {r["email_opt_out"] for r in opted} == {"true", "false"}
        assert all(by_legacy[r["legacy_id"]].properties["hs_email_optout"] == r["email_opt_out"]
                   for r in opted)
        # What the mapping deliberately leaves out is listed with its reason, not failed.
        skipped = data["objects"]["person"]["not_imported"]
        assert "email_opt_out" not in skipped
        assert "set by HubSpot" in skipped["created_at"]["why"]
        deals = data["objects"]["donation"]
        assert "currency" not in deals["not_imported"] and deals["ok"]


def test_rehearsal_into_an_empty_salesforce_org(rehearsal_package, vendor_packages):
    config, _generic = rehearsal_package
    package = vendor_packages["salesforce"]
    result = vk(config, "emergency", "rehearse", str(package), "--into", "sandbox:salesforce",
                "--json", timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["ok"] and data["target"]["sandbox"] is True
    assert set(data["import_files"]) == {"person", "organisation", "membership", "donation",
                                         "activity"}
    assert data["relations_linked"] == data["relations_expected"] > 0
    donations = _rows(package, "donation")
    assert data["objects"]["donation"]["imported"] == len(donations)
    assert data["objects"]["donation"]["relations_linked"] == {
        "person_id": sum(1 for r in donations if r["person_id"]),
        "organisation_id": sum(1 for r in donations if r["organisation_id"])}


def test_salesforce_witness_and_a_dropped_field(rehearsal_package, tmp_path):
    """A named target on a sandbox the test owns: simple-salesforce counts what arrived; then
    a mapping without Contact city and Opportunity→Account fails with exit 4 naming both."""
    config, package = rehearsal_package
    fields = {e: dict(f) for e, f in vendor.default_mapping("salesforce").items()}
    del fields["person"]["city"]
    del fields["donation"]["organisation_id"]
    mapping = tmp_path / "sf.toml"
    mapping.write_text(mapping_toml(TargetMapping("salesforce", fields)), encoding="utf-8")
    with Sandbox(records=0, seed=1) as sb:
        result = vk(_named_target(config, "salesforce", sb), "emergency", "rehearse",
                    str(package), "--into", "crm", "--mapping", str(mapping), "--json",
                    timeout=600)
        assert result.returncode == 4, result.stderr[-2000:]
        data = json.loads(result.stdout)
        lost = {(e, x["field"]) for e, o in data["objects"].items() for x in o["lost"]}
        assert lost == {("person", "city"), ("donation", "organisation_id")}
        assert any("person (contacts): field person.city lost" in line for line in data["lost"])
        session = requests.Session()
        session.verify = str(sb.ca_file)
        session.trust_env = False
        sf = Salesforce(instance_url=sb.url, session_id=sb.token, version="59.0",
                        session=session)
        people = _rows(package, "person")
        assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == len(people)
        with_city = sf.query_all("SELECT Id FROM Contact WHERE MailingCity != null")
        assert with_city["totalSize"] == 0          # the dropped field really is not there
        opp = sf.query_all("SELECT Id FROM Opportunity WHERE AccountId != null")
        assert opp["totalSize"] == 0
        assert sf.query("SELECT COUNT() FROM Opportunity")["totalSize"] == len(
            _rows(package, "donation"))


def test_hubspot_mapping_without_a_relation_fails_naming_it(rehearsal_package, tmp_path):
    config, package = rehearsal_package
    fields = {e: dict(f) for e, f in vendor.default_mapping("hubspot").items()}
    del fields["person"]["organisation_id"]
    mapping = tmp_path / "hs.toml"
    mapping.write_text(mapping_toml(TargetMapping("hubspot", fields)), encoding="utf-8")
    result = vk(config, "emergency", "rehearse", str(package), "--into", "sandbox:hubspot",
                "--mapping", str(mapping), timeout=600)
    assert result.returncode == 4
    assert "relation person.organisation_id → organisation lost" in result.stderr
    assert "the mapping drops it" in result.stderr


def test_a_field_the_import_files_do_not_carry_fails(rehearsal_package, vendor_packages,
                                                      tmp_path):
    """The rehearsal carries the creation date in a custom property, but contacts.csv has no
    column for it: an administrator's import would lose it, so the rehearsal fails."""
    config, _generic = rehearsal_package
    fields = {e: dict(f) for e, f in vendor.default_mapping("hubspot").items()}
    fields["person"]["created_at"] = "prop:vk_created_at"
    mapping = tmp_path / "hs.toml"
    mapping.write_text(mapping_toml(TargetMapping("hubspot", fields)), encoding="utf-8")
    result = vk(config, "emergency", "rehearse", str(vendor_packages["hubspot"]), "--into",
                "sandbox:hubspot", "--via", "api", "--mapping", str(mapping), "--json",
                timeout=600)
    assert result.returncode == 4, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert all(o["ok"] for o in data["objects"].values())    # the CRM itself kept it …
    assert data["import_files"]["person"]["missing_columns"] == ["created_at"]
    assert data["lost"] == ["import/hubspot/contacts.csv: no column for "
                            "person.created_at, which the rehearsal carried: an import of "
                            "the package would lose it"]


def test_csv_import_with_a_mapping_that_drops_a_column_fails(rehearsal_package,
                                                              vendor_packages, tmp_path):
    config, _generic = rehearsal_package
    from vaultkeeper.services.rehearse import hs_import

    fields = {e: dict(f) for e, f in hs_import.DEFAULT_MAPPING.items()}
    del fields["person"]["city"]               # the City column is no longer mapped
    del fields["activity"]["donation_id"]      # nor the Associated Deal Legacy ID column
    mapping = tmp_path / "hs-import.toml"
    mapping.write_text(mapping_toml(TargetMapping("hubspot", fields)), encoding="utf-8")
    result = vk(config, "emergency", "rehearse", str(vendor_packages["hubspot"]), "--into",
                "sandbox:hubspot", "--mapping", str(mapping), "--json", timeout=600)
    assert result.returncode == 4, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["via"] == "import"
    lost = {(e, x["field"]) for e, o in data["objects"].items() for x in o["lost"]}
    people = _rows(vendor_packages["hubspot"], "person")
    notes = _rows(vendor_packages["hubspot"], "activity")
    expected = {("person", "city")} | ({("activity", "donation_id")}
                                       if any(r["donation_id"] for r in notes) else set())
    assert lost == expected
    city = next(x for x in data["objects"]["person"]["lost"] if x["field"] == "city")
    assert city["lost"] == sum(1 for r in people if r["city"])


def test_reports_and_state_keep_no_crm_values(rehearsal_package, tmp_path):
    """Reports and the state database outlive the run: lost values are named by legacy id,
    refusals by the vendor's error code, never by the value (e-mails here)."""
    config, package = rehearsal_package
    fields = {e: dict(f) for e, f in vendor.default_mapping("hubspot").items()}
    del fields["person"]["email"]
    mapping = tmp_path / "no-email.toml"
    mapping.write_text(mapping_toml(TargetMapping("hubspot", fields)), encoding="utf-8")
    report = tmp_path / "report"
    result = vk(config, "emergency", "rehearse", str(package), "--into", "sandbox:hubspot",
                "--mapping", str(mapping), "--report", str(report), "--json", timeout=600)
    assert result.returncode == 4
    data = json.loads(result.stdout)
    lost = next(x for x in data["objects"]["person"]["lost"] if x["field"] == "email")
    assert lost["examples"] and all(set(x) == {"legacy_id", "back"} for x in lost["examples"])
    import sqlite_utils
    db = sqlite_utils.Database(config.parent / ".vaultkeeper" / "state.db")
    stored = db.execute("select report from rehearsals order by id desc limit 1").fetchone()[0]
    texts = [stored, (report / "rehearsal.md").read_text(encoding="utf-8"),
             (report / "rehearsal.html").read_text(encoding="utf-8"), result.stdout]
    emails = [r["email"] for r in _rows(package, "person") if r["email"]]
    assert emails and not [e for e in emails for t in texts if e in t]
