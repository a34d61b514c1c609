"""`emergency rehearse` into a real Tryton 8.2 server (SQLite) started by the test."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx
import pytest
import tryton_server
from vk_backup import vk

from vaultkeeper.config import load_settings
from vaultkeeper.services.emergency import build_package


def _rehearse(config: Path, package: Path, server: tryton_server.TrytonServer,
              *extra: str) -> tuple[int, dict, str]:
    env = {"TRYTONPASSFILE": str(server.password_file)}
    url = f"tryton:{server.url}/{server.database}"
    result = vk(config, "emergency", "rehearse", str(package), "--into", url, "--json", *extra,
                env=env, timeout=900)
    return result.returncode, json.loads(result.stdout), result.stderr


def _rows(package: Path, entity: str) -> list[dict[str, str]]:
    with (package / "canonical" / f"{entity}.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


class _Witness:
    """Reads Tryton directly over JSON-RPC, independently of vaultkeeper's client."""

    def __init__(self, server: tryton_server.TrytonServer) -> None:
        self.url = f"{server.url}/{server.database}/rpc/"
        r = httpx.post(self.url, json={"id": 1, "method": "common.db.login", "params": [
            "admin", {"password": tryton_server.ADMIN_PASSWORD}]}, timeout=60).json()
        uid, session = r["result"][0], r["result"][1]
        import base64
        token = base64.b64encode(f"admin:{uid}:{session}".encode()).decode()
        self.headers = {"Authorization": f"Session {token}"}

    def call(self, method: str, *params: object) -> object:
        r = httpx.post(self.url, json={"id": 1, "method": method, "params": [*params, {}]},
                       headers=self.headers, timeout=120).json()
        assert "error" not in r or not r["error"], r
        return r["result"]


# On a bare machine the first test also installs Tryton from PyPI and builds the template
# database (minutes); later runs copy the cached template.
@pytest.mark.timeout(1800)
def test_rehearsal_into_tryton_brings_everything_back(rehearsal_package, tryton, tmp_path):
    config, package = rehearsal_package
    code, data, stderr = _rehearse(config, package, tryton)
    assert code == 0, (data.get("lost"), stderr[-2000:])
    assert data["ok"] is True and data["lost"] == []
    for entity in ("person", "organisation", "membership", "donation", "activity"):
        rows = _rows(package, entity)
        got = data["objects"][entity]
        assert got["records"] == got["imported"] == len(rows) > 0, entity
    # The relations of the package really are links in Tryton.
    people = _rows(package, "person")
    with_org = sum(1 for r in people if r["organisation_id"])
    assert data["objects"]["person"]["relations_linked"]["organisation_id"] == with_org > 0
    assert data["relations_linked"] == data["relations_expected"] > with_org

    # Independent witness: Tryton itself holds the parties, relations and opportunities.
    w = _Witness(tryton)
    assert w.call("model.party.party.search_count", [["code", "like", "person:%"]]) == len(people)
    orgs = _rows(package, "organisation")
    assert w.call("model.party.party.search_count",
                  [["code", "like", "organisation:%"]]) == len(orgs)
    rels = w.call("model.party.relation.all.search_read",
                  [["type.name", "like", "works for%"]], 0, None, None, ["from_.code", "to.code"])
    pairs = {(r["from_."]["code"], r["to."]["code"]) for r in rels}
    assert pairs == {(f"person:{r['legacy_id']}", f"organisation:{r['organisation_id']}")
                     for r in people if r["organisation_id"]}
    donations = _rows(package, "donation")
    sample = next(r for r in donations if r["person_id"] and r["amount"])
    opp = w.call("model.sale.opportunity.search_read",
                 [["reference", "=", f"donation:{sample['legacy_id']}"]], 0, None, None,
                 ["amount", "party.code"])
    assert len(opp) == 1 and opp[0]["party."]["code"] == f"person:{sample['person_id']}"
    assert float(opp[0]["amount"]["decimal"]) == float(sample["amount"])
    emails = w.call("model.party.contact_mechanism.search_count", [["type", "=", "email"]])
    assert emails == sum(1 for r in people if r["email"])

    # The report, and the state database: `processes check` shows it per process, and the
    # next package's runbook gains the result and date.
    assert Path(data["report"]["markdown"]).read_text().startswith(
        "# Rehearsal of the emergency package: PASSED")
    check = vk(config, "processes", "check", "--json")
    procs = json.loads(check.stdout)["processes"]
    assert procs and all(p["rehearsal"]["state"] == "ok" for p in procs), procs
    assert all("survived the rehearsal" in p["rehearsal"]["message"] for p in procs)
    again = tmp_path / "next-package"
    export = package.parent / "export"
    build_package(export, again, load_settings(config), target="generic")
    runbook = (again / "RUNBOOK.md").read_text(encoding="utf-8")
    assert f"Last rehearsal: **PASSED on {data['date'][:10]} " in runbook   # finished, UTC
    assert "Rehearsal: ✔ membership, organisation, person survived the rehearsal" in runbook


@pytest.mark.timeout(1800)
def test_a_mapping_that_drops_a_field_and_a_relation_fails_with_exit_4(
        rehearsal_package, tryton, tmp_path):
    config, package = rehearsal_package
    from vaultkeeper.services.rehearse import tryton as target
    from vaultkeeper.services.rehearse.model import TargetMapping, mapping_toml

    fields = {e: dict(f) for e, f in target.DEFAULT_MAPPING.items()}
    del fields["person"]["city"]
    del fields["donation"]["person_id"]
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(mapping_toml(TargetMapping("tryton", fields)), encoding="utf-8")

    code, data, stderr = _rehearse(config, package, tryton, "--mapping", str(mapping))
    assert code == 4, stderr[-2000:]
    assert data["ok"] is False
    lost = {(e, x["field"]) for e, o in data["objects"].items() for x in o["lost"]}
    assert lost == {("person", "city"), ("donation", "person_id")}
    person = data["objects"]["person"]
    assert "city" in person["dropped_by_mapping"]
    assert next(x for x in person["lost"] if x["field"] == "city")["lost"] == sum(
        1 for r in _rows(package, "person") if r["city"])
    text = " ".join(data["lost"])
    assert "person (contacts): field person.city" in text
    assert "relation donation.person_id → person" in text
    # A second rehearsal into the same (now filled) database is refused: targets must be empty.
    env = {"TRYTONPASSFILE": str(tryton.password_file)}
    again = vk(config, "emergency", "rehearse", str(package), "--into",
               f"tryton:{tryton.url}/{tryton.database}", "--json", env=env, timeout=900)
    assert again.returncode == 2, again.stderr
    assert "empty database" in again.stderr
    refused = json.loads(again.stdout)          # --json: one object, also on failure
    assert refused["result"] == "error" and "empty database" in refused["fix"] + refused[
        "error"] and refused["exit_code"] == 2
    # `processes check` names the lost field for the processes that need contacts.
    procs = json.loads(vk(config, "processes", "check", "--json").stdout)["processes"]
    needs_contacts = [p for p in procs if "contacts" in p["objects"]]
    assert needs_contacts and all(p["rehearsal"]["state"] == "fail" and "person.city" in
                                  p["rehearsal"]["message"] for p in needs_contacts)
    assert all(any(f["aspect"] == "rehearsal" and f["state"] == "warn" for f in p["findings"])
               for p in needs_contacts)
