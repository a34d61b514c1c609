"""Inferring the canonical mapping of vendor CSV dumps: synonyms, values, ids, relations, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vk_backup import vk

from vaultkeeper.canonical import parse_mapping
from vaultkeeper.sandbox import register
from vaultkeeper.services.emergency.infer import infer
from vaultkeeper.services.emergency.source import open_export
from vaultkeeper.tomlcheck import read_toml


def csv_config(root: Path, delivery: Path) -> Path:
    """A configuration whose source is the csv connector reading ``delivery``."""
    config = root / "vaultkeeper.toml"
    config.write_text(f'[source]\nconnector = "csv"\npath = "{delivery}"\n\n[paths]\n'
                      f'state_dir = "{root / "state"}"\n\n[emergency]\ndefault_region = "NL"\n',
                      encoding="utf-8")
    return config


def export_delivery(root: Path, delivery: Path) -> Path:
    """Export the delivery with the real CLI; the export folder."""
    config = csv_config(root, delivery)
    out = root / "export"
    result = vk(config, "export", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def dutch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(root, export) of a Dutch cp1252 semicolon dump: leden.csv and giften.csv."""
    root = tmp_path_factory.mktemp("dutch")
    register.write_dump(root / "delivery", register.generate(300, seed=9))
    raw = (root / "delivery" / "leden.csv").read_bytes()
    assert b";" in raw.splitlines()[0]
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")          # really cp1252 (ë, é, ü … as single bytes)
    return root, export_delivery(root, root / "delivery")


def test_dutch_member_register(dutch):
    _root, export = dutch
    inf = infer(open_export(export))
    by = {g.entity: g for g in inf.entities}
    assert set(by) == {"person", "membership", "donation"}
    person = by["person"]
    assert person.object == "leden" and person.id_field == "Lidnummer"
    got = {f: g.source.describe() for f, g in person.fields.items()}
    assert got["first_name"] == "Voornaam"
    assert got["last_name"] == "Tussenvoegsel + Achternaam"
    assert got["email"] == "E-mailadres"
    assert got["city"] == "Woonplaats"
    assert got["postcode"] == "Postcode"
    assert got["phone"] == "Telefoonnummer"
    assert got["birth_date"] == "Geboortedatum"
    assert got["street"] == "Straat + Huisnummer"
    assert by["membership"].fields["number"].source.name == "Lidnummer"
    assert by["membership"].fields["start_date"].source.name == "Lid sinds"
    assert by["membership"].inactive == {"Status": ("Opgezegd", "Overleden")}
    donation = by["donation"]
    assert donation.object == "giften" and donation.id_field == "Giftnummer"
    assert donation.fields["person_id"].source.name == "Lidnummer"
    assert donation.fields["amount"].source.name == "Bedrag"
    assert [(r.from_object, r.column, r.to_object) for r in inf.relations] == [
        ("giften", "Lidnummer", "leden")]
    for g in inf.entities:
        for fg in g.fields.values():
            assert 0.5 <= fg.confidence <= 1 and fg.evidence


def test_suggested_toml_round_trips(dutch, tmp_path):
    _root, export = dutch
    inf = infer(open_export(export))
    text = inf.to_toml()
    assert "# 0.9" in text and "Voornaam" in text
    parsed = parse_mapping("csv", read_toml(tmp_path / "csv.toml", text), "csv.toml")
    assert parsed.entities == inf.mapping().entities


@pytest.mark.parametrize("header, row, expect", [
    ("Prénom,Nom,Courriel,Code postal,Ville",
     "Amélie,Dubois,amelie@orange.fr,75011,Paris",
     {"first_name": "Prénom", "last_name": "Nom", "email": "Courriel",
      "postcode": "Code postal", "city": "Ville"}),
    ("Etunimi;Sukunimi;Sähköposti;Postinumero;Postitoimipaikka",
     "Aino;Virtanen;aino.virtanen@elisa.fi;00100;Helsinki",
     {"first_name": "Etunimi", "last_name": "Sukunimi", "email": "Sähköposti",
      "postcode": "Postinumero", "city": "Postitoimipaikka"}),
    ("Vorname;Nachname;E-Mail;PLZ;Ort",
     "Jürgen;Müller;j.mueller@web.de;10115;Berlin",
     {"first_name": "Vorname", "last_name": "Nachname", "email": "E-Mail",
      "postcode": "PLZ", "city": "Ort"}),
    ("Given name,Family Name,E-mail Address,ZIP code,Town",
     "Mary,Jones,mary@example.org,SW1A 1AA,London",
     {"first_name": "Given name", "last_name": "Family Name", "email": "E-mail Address",
      "postcode": "ZIP code", "city": "Town"}),
])
def test_languages(tmp_path, header, row, expect):
    delivery = tmp_path / "delivery"
    delivery.mkdir()
    lines = [header] + [row.replace("@", f"{i}@") for i in range(20)]
    (delivery / "members.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    inf = infer(open_export(export_delivery(tmp_path, delivery)))
    person = next(g for g in inf.entities if g.entity == "person")
    got = {f: g.source.describe() for f, g in person.fields.items()}
    assert {k: got.get(k) for k in expect} == expect


def test_values_alone_find_email_and_phone(tmp_path):
    delivery = tmp_path / "delivery"
    delivery.mkdir()
    rows = ["naam;kolom2;kolom3"] + [f"Persoon {i};p{i}@example.nl;06-1234{i:04d}"
                                     for i in range(30)]
    (delivery / "relaties.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    inf = infer(open_export(export_delivery(tmp_path, delivery)))
    person = next(g for g in inf.entities if g.entity == "person")
    assert person.fields["email"].source.name == "kolom2"
    assert person.fields["phone"].source.name == "kolom3"
    assert person.fields["email"].confidence < 0.9          # values only: less sure
    assert "values only" in person.fields["email"].evidence


def test_cli_mapping_suggest(dutch, tmp_path):
    root, _export = dutch
    config = csv_config(tmp_path, root / "delivery")
    out = tmp_path / "suggested.toml"
    result = vk(config, "emergency", "mapping", "suggest", "--fresh", "--out", str(out),
                "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["file"] == str(out)
    assert data["entities"]["person"]["fields"]["first_name"]["source"] == "Voornaam"
    assert out.stat().st_mode & 0o077 == 0
    again = vk(config, "emergency", "mapping", "suggest", "--fresh", "--out", str(out),
               "--json")
    assert again.returncode == 2
    assert json.loads(again.stdout)["error"]
    default = vk(config, "emergency", "mapping", "suggest", "--fresh")
    assert default.returncode == 0, default.stderr
    written = tmp_path / "policies" / "mappings" / "csv.toml"
    assert "Tussenvoegsel" in written.read_text(encoding="utf-8")
