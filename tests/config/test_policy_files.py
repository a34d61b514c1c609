"""Policies: the defaults load, partial directories fall back, bad files are named precisely."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from vaultkeeper.policies import BUILT_IN, POLICY_NAMES, default_policy_texts, load_policies


def test_default_policies_load() -> None:
    p = load_policies(None)
    assert p.sources == dict.fromkeys(POLICY_NAMES, BUILT_IN)
    assert p.retention.mass_deletion_threshold == pytest.approx(0.20)
    assert p.retention.forget_args()[:4] == ["--keep-last", "3", "--keep-hourly", "24"]
    names = [proc.name for proc in p.processes]
    assert names[:4] == ["membership", "donations", "events", "newsletters"]
    donations = p.processes[1]
    assert donations.rpo == timedelta(days=1) and donations.priority == 1
    assert "deals" in donations.objects
    assert len(p.processes) == 6 and all(proc.checks for proc in p.processes)
    kinds = {s.kind for s in p.risk.signals}
    assert {"revenue", "insolvency_notice", "status_incidents", "export_error_rate"} <= kinds
    assert p.risk.level_for(0).name == "green"
    assert p.risk.level_for(30).backup_factor == 2
    assert p.risk.level_for(100).name == "red"
    assert p.risk.signal("insolvency_notice").trigger == "red"
    assert p.mappings.objects[0].fields["email"] == "Email"


def test_partial_policy_dir_falls_back_per_file(tmp_path: Path) -> None:
    (tmp_path / "retention.toml").write_text("[keep]\ndaily = 30\n")
    p = load_policies(tmp_path)
    assert p.retention.forget_args() == ["--keep-daily", "30"]
    assert p.sources["retention"] == str(tmp_path / "retention.toml")
    assert p.sources["risk"] == BUILT_IN


def _edit(name: str, old: str, new: str) -> tuple[str, str]:
    text = default_policy_texts()[name]
    assert old in text, old
    return name, text.replace(old, new, 1)


CASES = [
    (_edit("retention", "\ndaily = 14", "\ndayly = 14"), "[keep] dayly", "unknown key",
     "did you mean daily?"),
    (_edit("retention", "mass_deletion_threshold = 0.20", "mass_deletion_threshold = 20"),
     "mass_deletion_threshold", "must be above 0 and at most 1 (got 20)",
     "mass_deletion_threshold = 0.2"),
    (("retention", "[keep]\nlast = 0\ndaily = 0\n"),
     "[keep]", "every rule is 0", "daily = 14"),
    (_edit("processes", 'rto = "2d"', 'rto = "two days"'), '[[process]] #1 "membership" rto',
     "must be a duration such as 30m, 4h, 1d or 2w", 'rto = "1d"'),
    (_edit("processes", "priority = 1", "priority = 0"), '[[process]] #1 "membership" priority',
     "must be at least 1", "priority = 1"),
    (_edit("processes", 'name = "donations"', 'name = "membership"'),
     '[[process]] #2 "membership" name', "duplicate name", "unique name"),
    (_edit("processes", 'title = "Newsletters and consent"\n', ""),
     '[[process]] #4 "newsletters" title', "missing", 'title = "Donations"'),
    (("processes", '[process]\nname = "donations"\n'), "process",
     "must be an array of tables", "write one [[process]] block"),
    (_edit("risk", "weight = 2.0", 'weight = "high"'), "[signals.revenue] weight",
     "must be a number (got a string)", "weight = 1.0"),
    (_edit("risk", "weight = 2.0", 'weight = "2,5"'), "[signals.revenue] weight",
     "must be a number (got a string)", "weight = 1.0"),
    (_edit("risk", "[signals.equity]", "[signals.equitty]"), "[signals.equitty]",
     "unknown signal", "did you mean [signals.equity]?"),
    (_edit("risk", "[signals.growth]", "[signals.vibes]"), "[signals.vibes]",
     "unknown signal", "signals are: revenue, net_result"),
    (_edit("risk", 'trigger = "red"', 'trigger = "rde"'), "[signals.insolvency_notice] trigger",
     '"rde" is not a level', 'did you mean "red"?'),
    (_edit("risk", "min_score = 40", "min_score = 20"), '[[level]] #3 "red" min_score',
     "must be above the previous level's (20)", "lowest min_score up"),
    (_edit("risk", 'drill = "every monday at 06:00"', 'drill = "weekly"'),
     '[[level]] #2 "amber" schedule drill', '"weekly" is not a schedule',
     'drill = "every day at 02:00"'),
    (_edit("risk", '"drill", "emergency"]', '"drill", "emergncy"]'), '[[level]] #3 "red" immediate',
     '"emergncy" is not a job', 'did you mean "emergency"?'),
    (_edit("risk", "half_life_days = 21", "half_life = 21"),
     "[signals.status_incidents] half_life", "unknown key", "did you mean half_life_days?"),
    (_edit("processes", 'mtd = "1w"', 'mtd = "1d"'), '[[process]] #1 "membership" mtd',
     "shorter than the rto", "make mtd at least as long as rto"),
    (_edit("processes", 'expect = "> 0"', 'expect = "positive"'),
     '[[process]] #1 "membership" [[process.check]] #1 expect', '"positive" is not a condition',
     'expect = "> 0"'),
    (_edit("processes", "sql = \"select count(*) from contacts where _archived = 0 and "
           "membership_status", "sql = \"delete from contacts where _archived = 0 and "
           "membership_status"), '[[process]] #1 "membership" [[process.check]] #1 sql',
     "must be one SELECT statement", "select count(*)"),
    (_edit("processes", 'fields = { deals = ["event_name"', 'fields = { tickets = ["event_name"'),
     '[[process]] #3 "events" fields', "names object tickets, which is not in this process",
     "add tickets to objects"),
    (_edit("processes", 'objects = ["contacts", "deals", "notes"]',
           'objects = ["contacts", "deals", "notez"]'), '[[process]] #3 "events" objects',
     "names object notez, which the sandbox source cannot have", "did you mean notes?"),
    (_edit("processes", 'objects = ["contacts", "deals", "notes"]',
           'objects = ["contacts", "deals", "volunteer_shifts"]'),
     '[[process]] #3 "events" objects',
     "names object volunteer_shifts, which the sandbox source cannot have",
     "the sandbox (hubspot flavour) has calls, communications, companies"),
    (_edit("mappings", 'email = "Email"', "email = 3"), "[objects.contacts.fields] email",
     "must be a non-empty string (got an integer)", 'email = "Column name"'),
]


@pytest.mark.parametrize(("edit", "key", "message", "fix"), CASES,
                         ids=[f"{c[0][0]}-{c[1]}" for c in CASES])
def test_bad_policy_file(vk, config_error, tmp_path: Path, edit: tuple[str, str], key: str,
                         message: str, fix: str) -> None:
    assert vk("init", "--demo").returncode == 0
    name, text = edit
    path = tmp_path / "policies" / f"{name}.toml"
    path.write_text(text)
    config_error(vk("config", "check"), file=str(path), key=key, message=message, fix=fix)


def test_policy_syntax_error(vk, config_error, tmp_path: Path) -> None:
    assert vk("init", "--demo").returncode == 0
    path = tmp_path / "policies" / "mappings.toml"
    path.write_text("[objects.contacts\n")
    config_error(vk("config", "check"), file=str(path), key="line 1, column 18",
                 message="invalid TOML", fix="correct the syntax at line 1")


def test_misnamed_policy_file(vk, config_error, tmp_path: Path) -> None:
    assert vk("init", "--demo").returncode == 0
    extra = tmp_path / "policies" / "retension.toml"
    extra.write_text("")
    config_error(vk("config", "check"), file=str(extra), key=None,
                 message="not a policy file vaultkeeper knows", fix="rename it to retention.toml")


def test_process_needing_an_excluded_object_warns(vk, tmp_path: Path) -> None:
    assert vk("init", "--demo").returncode == 0
    config = tmp_path / "vaultkeeper.toml"
    config.write_text(config.read_text().replace('"notes", ', ""))
    result = vk("config", "check")
    assert result.returncode == 0, result.stderr
    assert "Warning: process events needs notes, which is not listed in [source] objects" \
        in result.stderr


def test_builtin_processes_on_salesforce_only_warn(vk, tmp_path: Path) -> None:
    assert vk("init", "--demo").returncode == 0
    config = tmp_path / "vaultkeeper.toml"
    text = config.read_text().replace('flavour = "hubspot"', 'flavour = "salesforce"')
    config.write_text(text.replace("\nobjects = [", "\n# objects = ["))
    for path in (tmp_path / "policies").glob("processes.toml"):
        path.unlink()
    result = vk("config", "check")
    assert result.returncode == 0, result.stderr
    assert "built-in process membership needs contacts" in result.stderr
