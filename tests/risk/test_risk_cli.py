"""`vaultkeeper risk record|show|signals` through the real CLI, and the chart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vk_backup import make_config, vk


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return make_config(tmp_path)


def test_record_and_show(config: Path) -> None:
    for args in (["revenue", "5000000", "--date", "2023-12-31", "--source", "annual report"],
                 ["revenue", "3800000", "--date", "2024-12-31", "--source", "annual report"],
                 ["net_result", "-400000", "--date", "2024-12-31"],
                 ["database_copy_delivered", "no", "--note", "asked twice, no answer"]):
        result = vk(config, "risk", "record", *args)
        assert result.returncode == 0, result.stderr
    assert "recorded database_copy_delivered = no on " in result.stdout
    shown = json.loads(vk(config, "risk", "show", "--json").stdout)
    by_signal = {c["signal"]: c for c in shown["contributions"]}
    assert by_signal["revenue"]["reading"] == "-24% vs 5000000"
    assert by_signal["revenue"]["severity"] == 1.0
    assert by_signal["database_copy_delivered"]["note"] == "asked twice, no answer"
    assert shown["score"] == pytest.approx(sum(c["points"] for c in shown["contributions"]),
                                           abs=0.05)
    assert shown["level"] == "green" and shown["trend"]["direction"] in ("rising", "steady")
    table = vk(config, "risk", "show")
    assert table.returncode == 0 and "What contributed" in table.stdout


def test_insolvency_is_red_at_once_and_lists_the_actions(config: Path) -> None:
    result = vk(config, "risk", "record", "insolvency_notice", "yes", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["level"] == "red"
    shown = json.loads(vk(config, "risk", "show", "--json").stdout)
    assert shown["triggers"] == ["insolvency_notice → red"]
    assert [a["job"] for a in shown["actions"] if a["kind"] == "immediate"] == [
        "backup", "drill", "emergency"]
    assert vk(config, "risk", "record", "insolvency_notice", "no").returncode == 0
    assert json.loads(vk(config, "risk", "show", "--json").stdout)["level"] == "green"


@pytest.mark.parametrize(("args", "message"), [
    (["revenu", "5"], "unknown signal 'revenu'. Fix: did you mean revenue?"),
    (["feelings", "5"], "Fix: signals are: revenue, net_result"),
    (["revenue", "4,200,000"], "without thousands separators"),
    (["insolvency_notice", "perhaps"], "insolvency_notice is yes or no"),
    (["revenue", "5", "--date", "31.12.2024"], "--date '31.12.2024' is not a date"),
    (["revenue", "5", "--date", "2999-01-01"], "is in the future"),
])
def test_record_refuses_with_one_line(config: Path, args: list[str], message: str) -> None:
    result = vk(config, "risk", "record", *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_chart(config: Path, tmp_path: Path, suffix: str) -> None:
    for signal, value, day in (("revenue", "5000000", "2023-12-31"),
                               ("revenue", "3800000", "2024-12-31"),
                               ("developer_count", "30", "2024-01-15"),
                               ("developer_count", "17", "2025-03-01"),
                               ("status_incidents", "6", "2025-05-20")):
        assert vk(config, "risk", "record", signal, value, "--date", day).returncode == 0
    chart = tmp_path / "board" / f"risk{suffix}"
    result = vk(config, "risk", "show", "--chart", str(chart), "--as-of", "2025-06-01",
                "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["chart"] == str(chart)
    data = chart.read_bytes()
    if suffix == ".png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000
    else:
        text = data.decode()
        assert "<svg" in text and "developer_count" in text and "score (0-100)" in text


def test_chart_needs_a_known_image_type(config: Path, tmp_path: Path) -> None:
    result = vk(config, "risk", "show", "--chart", str(tmp_path / "risk.pdf"))
    assert result.returncode == 2
    assert "unknown image type .pdf. Fix: name the file .png or .svg" in result.stderr


def test_signals_lists_the_catalogue(config: Path) -> None:
    rows = json.loads(vk(config, "risk", "signals", "--json").stdout)
    names = [r["signal"] for r in rows]
    assert names[:3] == ["revenue", "net_result", "equity"]
    assert {"status_incidents", "vanished_fields", "deprecation_headers"} <= set(names)
    insolvency = next(r for r in rows if r["signal"] == "insolvency_notice")
    assert insolvency["trigger"] == "red" and insolvency["measure"] == "flag"
