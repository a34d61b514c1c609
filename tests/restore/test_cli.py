"""The restore command's surface: the safety cap, one JSON object on failure, the 80-column
table, the HTML page, hierarchy and SQL selection, the drilled mirror as source, history, and
[targets.NAME] configuration errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import html5lib
import pytest
from vk_restore import World, make_world, run, run_json
from vk_restore_check import related_contacts

from vaultkeeper.config import load_settings
from vaultkeeper.errors import ConfigError


@pytest.fixture
def hub(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path):  # type: ignore[no-untyped-def]
    w = make_world("hubspot", tmp_path_factory, tmp_path)
    yield w
    w.writer.close()
    w.sandbox.stop()


def test_cap_json_table_html_history(hub: World, tmp_path: Path) -> None:
    mirror = hub.root / ".vaultkeeper" / "mirror" / "mirror.db"
    victims = related_contacts(mirror, "contacts", 40)
    assert hub.writer.archive("contacts", victims).ok
    hub.sandbox.clear_log()

    capped = run(hub.config, "restore", "--deleted-since", hub.snapshot_id, "--max-records",
                 "10", "--json")
    assert capped.returncode == 2
    data = json.loads(capped.stdout)            # exactly one object
    assert data["status"] == "refused" and "--yes" in data["error"]
    assert data["plan"]["contacts"]["create"] == 40
    assert hub.sandbox.write_requests() == []

    unknown = run(hub.config, "restore", "--into", "nowhere", "--object", "contacts", "--json")
    assert unknown.returncode == 2
    failure = json.loads(unknown.stdout)
    assert failure["ok"] is False and "[targets.nowhere]" in failure["fix"]

    table = run(hub.config, "restore", "--deleted-since", hub.snapshot_id, "--dry-run")
    assert table.returncode == 0, table.stderr
    assert "contacts" in table.stdout and "40" in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 80

    page = tmp_path / "restore.html"
    done = run(hub.config, "restore", "--deleted-since", hub.snapshot_id, "--html", str(page))
    assert done.returncode == 0, done.stderr
    text = page.read_text(encoding="utf-8")
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)
    assert "<script" not in text and "http" not in text.split("</style>")[1]
    assert text.count("Created") >= 40
    assert oct(page.stat().st_mode & 0o777) == "0o600"

    runs = run_json(hub.config, "restore", "history")["runs"]
    assert [r["status"] for r in runs[:3]] == ["done", "dry-run", "refused"]


def test_hierarchy_where_and_drilled_mirror(hub: World) -> None:
    mirror = hub.root / ".vaultkeeper" / "mirror" / "mirror.db"
    from vaultkeeper.db.selection import MirrorReader

    reader = MirrorReader(mirror)
    try:
        company = next(t for _f, t, _k in reader.all_relations("contacts__companies"))
        kids = {f for f, t, _k in reader.all_relations("contacts__companies") if t == company}
        deals = {f for f, t, _k in reader.all_relations("deals__companies") if t == company}
    finally:
        reader.close()
    assert hub.writer.archive("companies", [company]).ok
    plan = run_json(hub.config, "restore", "--object", "companies", "--ids", company,
                    "--with-children", "1", "--dry-run", "--from-mirror")
    assert plan["plan"]["companies"]["create"] == 1
    assert sum(plan["plan"]["contacts"].values()) == len(kids)
    assert sum(plan["plan"].get("deals", {}).values()) == len(deals)
    # the children are live and unchanged: only the company is written
    assert plan["plan"]["contacts"]["skip"] == len(kids)

    where = run_json(hub.config, "restore", "--object", "contacts", "--where",
                     "country = 'Denmark'", "--dry-run")
    assert 0 < where["plan"]["contacts"]["skip"] < 582

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    dated = run_json(hub.config, "restore", "--deleted-since", tomorrow, "--object",
                     "companies", "--dry-run")
    assert dated["snapshot_id"] == hub.snapshot_id
    assert dated["plan"]["companies"] == {"skip": 0, "update": 0, "undelete": 0, "create": 1}
    early = run(hub.config, "restore", "--deleted-since", "2001-01-01", "--dry-run", "--json")
    assert early.returncode == 7 and "at or before" in json.loads(early.stdout)["error"]

    bad = run(hub.config, "restore", "--object", "contacts", "--where", "nosuchcolumn = 1",
              "--dry-run", "--json")
    assert bad.returncode == 2 and "--where" in json.loads(bad.stdout)["error"]


def test_targets_config(tmp_path: Path) -> None:
    config = tmp_path / "vaultkeeper.toml"
    config.write_text('[source]\nconnector = "sandbox"\n\n[targets.test-portal]\n'
                      'connector = "hubspot"\ntoken = { env = "TP_TOKEN" }\n', encoding="utf-8")
    target = load_settings(config, env={}).targets["test-portal"]
    assert target.connector == "hubspot" and target.base_url == "https://api.hubapi.com"
    assert target.token is not None and "TP_TOKEN" in target.token.describe()
    config.write_text('[source]\nconnector = "sandbox"\n\n[targets.x]\nconnector = "hubspot"\n'
                      'token = "pat-na1-inline"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as inline:
        load_settings(config, env={})
    assert "pat-na1-inline" not in str(inline.value) and "targets.x" in str(inline.value)
    config.write_text('[source]\nconnector = "sandbox"\n\n[targets.x]\nbase_url = '
                      '"https://example.org"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="connector"):
        load_settings(config, env={})
