"""Tables people read at 80 columns: words instead of True/False/None, sizes with units, whole
timestamps and URLs, no meaningless phrases."""

from __future__ import annotations

import re

from vk_backup import make_config, vk

BAD = re.compile(r"\b(True|False|None)\b|pruned removed|chunker parameters of|…")


def test_everyday_tables_read_well_at_80_columns(tmp_path) -> None:
    config = make_config(tmp_path, locations=[
        ("nas", str(tmp_path / "a-rather-long-folder-name" / "for-the-office-nas" / "repo")),
        ("disk", str(tmp_path / "loc" / "disk"))])
    env = {"COLUMNS": "80", "TERM": "dumb"}
    init = vk(config, "locations", "init", env=env)
    assert init.returncode == 0, init.stderr
    outputs = {"locations init": init.stdout + init.stderr}
    for args in (("backup",), ("status",), ("locations", "check"), ("snapshots",), ("drill",)):
        done = vk(config, *args, env=env)
        assert done.returncode == 0, (args, done.stderr)
        outputs[" ".join(args)] = done.stdout
        for line in done.stdout.splitlines():
            assert len(line) <= 80, (args, line)
    for name, text in outputs.items():
        assert not BAD.search(text), (name, BAD.search(text), text)
    assert re.search(r"\d+(\.\d)? (B|kB|MB)", outputs["backup"]), outputs["backup"]
    assert "nothing to remove" in outputs["backup"]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", outputs["status"])
    assert "not scheduled" in outputs["status"]
    assert "yes" in outputs["locations check"]
    # A relation's name stays on one line of the drill table.
    relations = re.findall(r"↔ (\S+)", outputs["drill"])
    assert "contacts__companies" in relations, outputs["drill"]
    # The long URL is folded, never cut: every piece of it is somewhere in the table.
    joined = re.sub(r"[\s│┃]", "", outputs["locations check"])
    assert "a-rather-long-folder-name/for-the-office-nas/repo" in joined
