"""`privacy report` (record of processing) as JSON and HTML, and `privacy forget --csv`: the
categories come from the canonical mapping, countries from the configuration, requests with
their status; neither the report nor the state folder holds a secret or a plain identifier."""

from __future__ import annotations

import json
from pathlib import Path

import html5lib
from vk_backup import FAKE_SECRET, make_config, vk

from vaultkeeper.config import load_settings


def test_report_and_csv_requests(tmp_path: Path) -> None:
    config = make_config(tmp_path, records=20, locations=[("nas", str(tmp_path / "nas"))])
    text = config.read_text().replace('url = "' + str(tmp_path / "nas") + '"',
                                      'url = "' + str(tmp_path / "nas") + '"\ncountry = '
                                      '"Netherlands"')
    config.write_text(text)
    requests = tmp_path / "requests.csv"
    requests.write_text("ref,email,id\nAVG-1,Piet@Example.org,\nAVG-2,,contacts:77\n"
                        "AVG-2,piet.second@example.org,\n")
    done = vk(config, "privacy", "forget", "--csv", str(requests), "--no-search", "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["ref"]: r for r in json.loads(done.stdout)["requests"]}
    assert rows["AVG-1"]["identifiers"] == 1 and rows["AVG-2"]["identifiers"] == 2
    assert rows["AVG-2"]["kinds"] == ["email", "id"]
    page = tmp_path / "record.html"
    result = vk(config, "privacy", "report", "--html", str(page), "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["locations"][0]["country"] == "Netherlands"
    cats = {c["entity"]: c for c in record["categories"]}
    assert cats["person"]["object"] == "contacts" and "email" in cats["person"]["fields"]
    assert "birth_date" in cats["person"]["sensitive"]
    assert cats["donation"]["sensitive"] == ["gift_aid"]
    assert record["keys"]["repository_password"] == "file"
    assert [r["ref"] for r in record["erasure_requests"]] == ["AVG-1", "AVG-2"]
    html = page.read_text()
    html5lib.HTMLParser(strict=True).parse(html)
    assert "AVG-2" in html and "Netherlands" in html and "<script" not in html
    for blob in (result.stdout, html, done.stdout, done.stderr):
        assert FAKE_SECRET not in blob
        assert "piet" not in blob.lower() and "contacts:77" not in blob
    state = load_settings(config).state_dir
    for path in state.rglob("*"):
        if path.is_file():
            data = path.read_bytes().lower()
            assert b"piet" not in data and b"contacts:77" not in data, path
