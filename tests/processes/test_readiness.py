"""Readiness per process on a mirror built from a real sandbox export (the drill contract)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from vk_backup import make_config, vk
from vk_mirror import build_mirror, record_backup, record_drill
from vk_testing import export_sandbox, hubspot

from vaultkeeper.config import load_settings
from vaultkeeper.policies import default_policy_texts, load_policies
from vaultkeeper.sandbox import FaultConfig, Sandbox
from vaultkeeper.services.export import run_export
from vaultkeeper.services.processes import check_processes, run_acceptance_checks

PROCESSES = ("membership", "donations", "events", "finance", "newsletters", "volunteers")


@pytest.fixture(scope="module")
def drilled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """A mirror loaded from a real HubSpot-protocol export of the sandbox (300 contacts)."""
    root = tmp_path_factory.mktemp("export")
    export_sandbox(root / "export", records=300, seed=3)
    counts = build_mirror(root / "export", root / "mirror.db")
    return root / "mirror.db", counts


@pytest.fixture
def setup(tmp_path: Path, drilled: tuple[Path, dict[str, int]]):
    """A configuration whose state holds a good backup and a verified drill of that mirror."""
    config = make_config(tmp_path)
    settings = load_settings(config)
    mirror = settings.state_dir / "mirror" / "mirror.db"
    mirror.parent.mkdir(parents=True)
    shutil.copy(drilled[0], mirror)
    return config, settings, mirror, drilled[1]


def by_name(results):
    return {r.process.name: r for r in results}


def test_ready_when_backed_up_fresh_and_drilled(setup) -> None:
    _config, settings, mirror, counts = setup
    record_backup(settings.state_dir, counts)
    record_drill(settings.state_dir, mirror)
    results = check_processes(settings)
    assert [r.process.name for r in results][:2] == ["membership", "donations"]
    for r in results:
        assert r.colour == "green", (r.process.name, r.reasons)
        assert r.checks and all(c.passed for c in r.checks)
    donations = by_name(results)["donations"]
    values = {c.name: c.value for c in donations.checks}
    assert values["donations exist"] > 0 and values["direct debits present"] > 0


def test_removed_data_turns_the_process_red_with_a_reason(setup) -> None:
    config, settings, mirror, counts = setup
    record_backup(settings.state_dir, counts)
    record_drill(settings.state_dir, mirror)
    ok = vk(config, "processes", "check", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["status"] == "green"
    with sqlite3.connect(mirror) as db:   # the volunteers are gone from the CRM
        db.execute("update contacts set is_volunteer = null")
    result = vk(config, "processes", "check", "--json")
    assert result.returncode == 4, result.stderr
    report = {p["name"]: p for p in json.loads(result.stdout)["processes"]}
    assert report["volunteers"]["status"] == "red" and not report["volunteers"]["ready"]
    assert report["volunteers"]["reasons"] == [
        "check 'volunteers recorded': got 0, expected > 0"]
    assert all(report[n]["status"] == "green" for n in PROCESSES if n != "volunteers")
    table = vk(config, "processes", "check")
    assert table.returncode == 4
    assert "volunteers recorded" in table.stdout


def test_nothing_yet_says_what_to_run(setup) -> None:
    config, _settings, mirror, _counts = setup
    mirror.unlink()
    result = vk(config, "processes", "check", "--json")
    assert result.returncode == 4, result.stderr
    for p in json.loads(result.stdout)["processes"]:
        assert p["status"] == "red"
        assert "no backup yet — run `vaultkeeper backup`" in p["reasons"]
        assert "no drill yet — run `vaultkeeper drill`" in p["reasons"]


@pytest.mark.parametrize(("change", "red", "reason"), [
    ("stale", {"membership", "donations", "events", "finance"},
     "last good backup 2 d ago, older than the RPO of 1 d"),
    ("slow restore", {"donations"}, "measured restore 36 h, exceeds the RTO of 1 d"),
    ("failed drill", set(PROCESSES), "ended failed"),
    ("missing field", {"newsletters"}, "missing from the mirror: contacts.newsletter_opt_in"),
    ("mirror gone", set(PROCESSES), "does not exist — run `vaultkeeper drill`"),
    ("object not backed up", {"events"}, "notes not in the last backup"),
])
def test_each_failure_names_its_reason(setup, change: str, red: set[str], reason: str) -> None:
    _config, settings, mirror, counts = setup
    age = timedelta(days=2) if change == "stale" else timedelta(hours=1)
    if change == "object not backed up":
        counts = {k: v for k, v in counts.items() if k != "notes"}
    record_backup(settings.state_dir, counts, age=age)
    record_drill(settings.state_dir, mirror,
                 result="failed" if change == "failed drill" else "verified",
                 total_s=1.5 * 86400 if change == "slow restore" else 30.0)
    if change == "missing field":
        with sqlite3.connect(mirror) as db:
            db.execute("alter table contacts drop column newsletter_opt_in")
    if change == "mirror gone":
        mirror.unlink()
    results = by_name(check_processes(settings))
    assert {n for n, r in results.items() if r.colour == "red"} == red
    for name in red:
        assert any(reason in line for line in results[name].reasons), results[name].reasons


def test_partial_backup_and_empty_object_are_amber(setup) -> None:
    _config, settings, mirror, counts = setup
    record_backup(settings.state_dir, counts | {"notes": 0}, status="partial",
                  problems=["location disk: unreachable"])
    record_drill(settings.state_dir, mirror)
    results = by_name(check_processes(settings))
    assert results["events"].colour == "amber"
    assert results["events"].reasons == [
        "notes backed up with 0 records (run 1)",
        "the last backup (run 1) was partial: location disk: unreachable"]
    assert results["volunteers"].colour == "amber"   # partial run, objects fine


def test_checks_cannot_write_to_the_mirror(setup) -> None:
    _config, settings, mirror, _counts = setup
    text = default_policy_texts()["processes"] + '''
[[process.check]]
name = "sneaky"
sql = "with doomed as (select 1) delete from contacts"
expect = "= 0"
'''
    (settings.policies_dir).mkdir(exist_ok=True)
    (settings.policies_dir / "processes.toml").write_text(text)
    volunteers = next(p for p in load_policies(settings.policies_dir).processes
                      if p.name == "volunteers")
    before = sqlite3.connect(mirror).execute("select count(*) from contacts").fetchone()[0]
    results = run_acceptance_checks(mirror, volunteers)
    sneaky = next(r for r in results if r.name == "sneaky")
    assert not sneaky.passed and "readonly" in (sneaky.error or "")
    assert sqlite3.connect(mirror).execute("select count(*) from contacts").fetchone()[0] \
        == before


def test_a_broken_query_fails_only_its_check(setup) -> None:
    _config, _settings, mirror, _counts = setup
    membership = load_policies(None).processes[0]
    results = run_acceptance_checks(mirror, membership)
    assert all(r.passed for r in results)
    with sqlite3.connect(mirror) as db:
        db.execute("alter table contacts rename column membership_status to status_of_member")
    first, second = run_acceptance_checks(mirror, membership)
    assert not first.passed and "no such column: membership_status" in first.reason
    assert second.passed


def test_processes_list(setup) -> None:
    config, *_ = setup
    result = vk(config, "processes", "list", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [p["name"] for p in data["processes"]] == [
        "membership", "donations", "events", "finance", "newsletters", "volunteers"]
    assert data["export_order"][:3] == ["contacts", "companies", "deals"]
    assert data["processes"][0]["owner"] and data["processes"][0]["mtd_s"] == 7 * 86400
    table = vk(config, "processes", "list")
    assert "membership" in table.stdout and "Export order" in table.stdout


def test_measured_restore_is_the_drills_rto_not_its_whole_duration() -> None:
    """The drill report says "restore + load 2.181 s"; processes check must say the same figure,
    not the drill's total (which also counts `restic check` and the reconciliation)."""
    from vaultkeeper.services.processes import measured_rto

    assert measured_rto({"restore_s": 1.0, "load_s": 1.181, "total_s": 4.7}) == pytest.approx(2.181)
    assert measured_rto({"total_s": 4.7}) == pytest.approx(4.7)
    assert measured_rto({}) is None


@pytest.mark.slow
@pytest.mark.parametrize(("records", "seed", "where"), [
    (5000, 7, "vaultkeeper sandbox serve (its defaults)"),
    (2000, 42, "vaultkeeper init --demo"),
])
def test_default_checks_pass_on_the_documented_sandbox(tmp_path: Path, records: int, seed: int,
                                                       where: str) -> None:
    """The default acceptance checks hold on the data the docs tell people to try: a check
    that fails on the demo teaches users to ignore red."""
    import inspect

    from vaultkeeper.cli import sandbox_cmd

    defaults = inspect.signature(sandbox_cmd.serve).parameters
    if "serve" in where:
        assert (defaults["records"].default, defaults["seed"].default) == (records, seed)
    with Sandbox(records=records, seed=seed, faults=FaultConfig.parse("none")) as sb:
        connector = hubspot(sb)
        try:
            run_export(connector, tmp_path / "export", objects=("contacts", "companies",
                                                                 "deals", "notes"))
        finally:
            connector.close()
    build_mirror(tmp_path / "export", tmp_path / "mirror.db")
    processes = load_policies(None).processes
    failed = [f"{r.process}: {r.name} got {r.value}, expected {r.expect}"
              for p in processes for r in run_acceptance_checks(tmp_path / "mirror.db", p)
              if not r.passed]
    assert failed == [], where


def test_html_report_opens_with_a_plain_sentence(setup, tmp_path: Path) -> None:
    """The board's page: one sentence first, then the table, numbers under their headers in a
    real browser; the CLI writes it with --html."""
    from datetime import UTC, datetime

    from vk_browser import assert_numbers_under_headers, layout

    from vaultkeeper.services.processes_html import render, verdict

    config, settings, mirror, counts = setup
    record_backup(settings.state_dir, counts)
    record_drill(settings.state_dir, mirror)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    good = check_processes(settings)
    assert verdict(good, now) == ("On 1 December 2026 all 6 business processes could be "
                                  "restored from the last backup within their recovery targets.")
    record_drill(settings.state_dir, mirror, total_s=1.5 * 86400)
    slow = check_processes(settings)
    sentence = verdict(slow, now)
    assert sentence.startswith("On 1 December 2026 1 of 6 business processes could NOT")
    assert "measured restore 36 h, exceeds the RTO of 1 d" in sentence
    page = render(slow, now)
    assert page.index('class="verdict red"') < page.index("<table>")
    cells = layout(page, tmp_path)
    assert assert_numbers_under_headers(cells) == 6
    out = tmp_path / "processes.html"
    result = vk(config, "processes", "check", "--html", str(out))
    assert result.returncode == 4 and "could NOT" in out.read_text(encoding="utf-8")
