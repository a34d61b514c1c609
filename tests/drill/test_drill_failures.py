"""Corruption is caught and named: a damaged pack in one location, a record altered between
export and backup, a relation pointing at a record the snapshot does not hold."""

from __future__ import annotations

import json

import orjson
from vk_backup import make_config, vk, vk_json
from vk_drill import flip_bytes_in_largest_pack, rewrite_object, snapshot


def test_flipped_bytes_in_one_location_fail_that_location_only(tmp_path):
    config = make_config(tmp_path)
    assert vk(config, "locations", "init").returncode == 0
    assert vk_json(config, "backup")["status"] == "ok"
    assert vk_json(config, "drill", "--location", "nas")["result"] == "verified"
    mirror = tmp_path / ".vaultkeeper" / "mirror" / "mirror.db"
    good = mirror.stat().st_mtime_ns
    flip_bytes_in_largest_pack(tmp_path / "loc" / "disk")
    bad = vk(config, "drill", "--location", "disk", "--read-data-subset", "100%", "--json",
             "--html", str(tmp_path / "failed.html"))
    assert bad.returncode == 4, bad.stderr
    assert "location disk" in bad.stderr
    report = json.loads(bad.stdout)
    assert report["result"] == "failed"
    assert report["failures"] and all(f["location"] == "disk" for f in report["failures"])
    assert any("restic check" in f["problem"] for f in report["failures"])
    assert "location disk" in (tmp_path / "failed.html").read_text()
    # The other location still passes, and the good mirror was never replaced by a bad one.
    assert mirror.stat().st_mtime_ns == good
    ok = vk(config, "drill", "--location", "nas", "--read-data-subset", "100%")
    assert ok.returncode == 0, ok.stderr
    history = vk_json(config, "drill", "history")
    assert [(h["location"], h["result"]) for h in history] == [
        ("nas", "verified"), ("disk", "failed"), ("nas", "verified")]


def _exported(tmp_path, config):
    out = tmp_path / "export"
    result = vk(config, "export", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_record_altered_after_export_fails_naming_the_object(tmp_path):
    config = make_config(tmp_path, locations=[("nas", str(tmp_path / "loc" / "nas"))])
    assert vk(config, "locations", "init").returncode == 0
    export = _exported(tmp_path, config)
    path = export / "objects" / "contacts.ndjson"
    lines = path.read_bytes().splitlines()
    record = orjson.loads(lines[7])
    record["properties"]["firstname"] = "Mallory"
    lines[7] = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    path.write_bytes(b"".join(line + b"\n" for line in lines))  # the manifest is untouched
    snapshot(tmp_path, tmp_path / "loc" / "nas", export)
    result = vk(config, "drill", "--json")
    assert result.returncode == 4, result.stderr
    assert "contacts" in result.stderr and "location nas" in result.stderr
    report = json.loads(result.stdout)
    failed = {f["object"] for f in report["failures"]}
    assert failed == {"contacts"}
    contacts = next(o for o in report["objects"] if o["object"] == "contacts")
    assert contacts["restored"] == contacts["expected"] and not contacts["digest_ok"]


def test_missing_relation_endpoint_is_counted_and_named(tmp_path):
    config = make_config(tmp_path, locations=[("nas", str(tmp_path / "loc" / "nas"))])
    assert vk(config, "locations", "init").returncode == 0
    export = _exported(tmp_path, config)
    first = orjson.loads((export / "relations" / "contacts__companies.ndjson")
                         .read_bytes().splitlines()[0])
    gone = first["to_id"]
    lines = [line for line in (export / "objects" / "companies.ndjson").read_bytes().splitlines()
             if orjson.loads(line)["id"] != gone]
    rewrite_object(export, "companies", lines)  # companies itself is consistent, one is gone
    snapshot(tmp_path, tmp_path / "loc" / "nas", export)
    result = vk(config, "drill", "--json")
    assert result.returncode == 4, result.stderr
    report = json.loads(result.stdout)
    rel = next(r for r in report["relations"] if r["relation"] == "contacts__companies")
    expected = sum(1 for line in (export / "relations" / "contacts__companies.ndjson")
                   .read_bytes().splitlines() if orjson.loads(line)["to_id"] == gone)
    assert rel["dangling_to"] == expected and rel["dangling_from"] == 0
    assert rel["dangling_samples"] == [f"companies {gone}"]
    assert {f["object"] for f in report["failures"]} >= {"relations contacts__companies"}
    assert next(o for o in report["objects"] if o["object"] == "companies")["ok"]
    assert gone in result.stderr
