"""``vaultkeeper risk record|collect|show|signals``: vendor risk signals, score, trend, chart."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from vaultkeeper.cli import render
from vaultkeeper.cli.render import JsonOption
from vaultkeeper.cli.settings import load
from vaultkeeper.errors import ExitCode, UsageError
from vaultkeeper.policies import SIGNAL_KINDS, load_policies
from vaultkeeper.services import risk as risksvc
from vaultkeeper.services.risk.chart import write_chart

risk_app = typer.Typer(help="Vendor risk signals, score, trend and chart.", no_args_is_help=True)
_COLOURS = {"green": "green", "amber": "yellow", "red": "red"}


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date", "write it as YYYY-MM-DD") \
            from None


def _level(name: str) -> str:
    return f"[{_COLOURS.get(name, 'magenta')}]{name}[/]"


# Negative numbers (net_result -250000) are values, not options.
@risk_app.command("record", context_settings={"ignore_unknown_options": True})
def record(
    signal: Annotated[str, typer.Argument(help="The signal, e.g. revenue, headcount, "
                                               "insolvency_notice (`vaultkeeper risk signals` "
                                               "lists them).")],
    value: Annotated[str, typer.Argument(help="A number (revenue 4200000, growth -3%), yes/no "
                                              "(database_copy_delivered no) or a date "
                                              "(last_escrow_deposit 2024-11-30).")],
    on: Annotated[str | None, typer.Option("--date", help="The date the value is about, "
                                                          "YYYY-MM-DD (default: today).")] = None,
    source: Annotated[str, typer.Option(help="Where it comes from: \"annual report 2024\", "
                                             "a URL.")] = "",
    note: Annotated[str, typer.Option(help="Anything a reader should know.")] = "",
    json_output: JsonOption = False,
) -> None:
    """Record one value of a vendor risk signal by hand (stored in the state database)."""
    settings = load()
    obs, warnings = risksvc.record(settings, signal, value, on=_date(on, "--date"),
                                   source=source, note=note)
    now = risksvc.report(settings)
    if json_output:
        render.print_json({"signal": obs.signal, "value": risksvc.format_value(obs.value),
                           "date": obs.date.isoformat(), "source": obs.source, "note": obs.note,
                           "score": round(now.assessment.score, 2),
                           "level": now.assessment.level, "warnings": warnings})
    else:
        Console().print(f"recorded {obs.signal} = {risksvc.format_value(obs.value)} on "
                        f"{obs.date}; risk score now {now.assessment.score:.1f}, level "
                        f"{_level(now.assessment.level)}", highlight=False)
    for warning in warnings:
        render.err_console.print(f"[yellow]Warning:[/] {warning}", highlight=False)


@risk_app.command("collect")
def collect(json_output: JsonOption = False) -> None:
    """Read the vendor's status page and release feed ([risk] in vaultkeeper.toml) and our own
    export health, and record what they say.

    A source that cannot be read gives a warning and keeps its previous value. Exit 0, or 3
    when a configured source could not be read (the others were recorded).
    """
    result = risksvc.collect(load())
    if json_output:
        render.print_json(result.as_json())
    else:
        table = Table(title="Collected risk signals")
        for column in ("signal", "value", "source", "note"):
            table.add_column(column)
        for o in result.recorded:
            table.add_row(o.signal, risksvc.format_value(o.value), o.source, o.note)
        Console().print(table)
    for warning in result.warnings:
        render.err_console.print(f"[yellow]Warning:[/] {warning}", highlight=False)
    if result.failed:
        raise typer.Exit(int(ExitCode.PARTIAL))


@risk_app.command("show")
def show(
    json_output: JsonOption = False,
    chart: Annotated[Path | None, typer.Option(
        "--chart", help="Also draw score and key signals over time into this .png or .svg.",
        dir_okay=False)] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Score as of this date, YYYY-MM-DD (default: today).")] = None,
) -> None:
    """The risk score, its level, which signals contributed and by how much, the trend over
    30 days, and the actions the level takes."""
    settings = load()
    report = risksvc.report(settings, as_of=_date(as_of, "--as-of"))
    if chart is not None:
        a = report.assessment
        write_chart(chart, load_policies(settings.policies_dir).risk,
                    [(h.as_of, h.score) for h in report.history],
                    risksvc.signal_series(report.history),
                    title=f"Vendor risk: score {a.score:.1f}, level {a.level}, on {a.as_of}",
                    events=risksvc.trigger_events(report.history))
    if json_output:
        render.print_json(report.as_json() | {"chart": str(chart) if chart else None})
        return
    a, t = report.assessment, report.trend
    console = Console()
    console.print(f"Risk score [bold]{a.score:.1f}[/] of 100 — level {_level(a.level)} "
                  f"(as of {a.as_of}); {t.direction} over {t.days} days "
                  f"({t.delta:+.1f} from {t.previous_score:.1f}, {t.previous_level}); "
                  f"signals known for {a.coverage:.0%} of the weight", highlight=False)
    for trigger in a.triggers:
        console.print(f"[red]hard trigger:[/] {trigger}", highlight=False)
    if report.level.description:
        console.print(report.level.description, highlight=False)
    table = Table(title="What contributed")
    table.add_column("signal", no_wrap=True)
    table.add_column("value", no_wrap=True)
    table.add_column("date", no_wrap=True)
    table.add_column("reading")
    for column in ("sev.", "fade", "points"):
        table.add_column(column, justify="right", no_wrap=True)
    for c in a.contributions:
        table.add_row(c.signal, c.value, str(c.date), c.reading, f"{c.severity:.2f}",
                      f"{c.fading:.2f}", f"{c.points:.1f}")
    console.print(table)
    if report.actions:
        console.print(f"Actions at {a.level}: " + "; ".join(x.description
                                                           for x in report.actions),
                      highlight=False)
    if chart is not None:
        console.print(f"chart written to {chart}", highlight=False)
    for warning in report.warnings:
        render.err_console.print(f"[yellow]Warning:[/] {warning}", highlight=False)


@risk_app.command("signals")
def signals(json_output: JsonOption = False) -> None:
    """Every signal vaultkeeper knows, how it is read, and its weight in policies/risk.toml."""
    policy = load_policies(load().policies_dir).risk
    rows: list[dict[str, Any]] = []
    for kind in SIGNAL_KINDS.values():
        sig = policy.signal(kind.name)
        rows.append({"signal": kind.name, "value": kind.value, "unit": kind.unit,
                     "collected": kind.collected, "measure": sig.measure if sig else
                     kind.measure, "good": sig.good if sig else kind.good,
                     "bad": sig.bad if sig else kind.bad, "weight": sig.weight if sig else 0,
                     "trigger": sig.trigger if sig else None, "description": kind.description})
    if json_output:
        render.print_json(rows)
        return
    table = Table(title="Risk signals")
    for column in ("signal", "how", "unit", "measure", "good → bad", "weight", "trigger"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["signal"], "collected" if r["collected"] else "recorded", r["unit"],
                      r["measure"], "" if r["measure"] == "flag" else f"{r['good']:g} → "
                      f"{r['bad']:g}", f"{r['weight']:g}", r["trigger"] or "")
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add the ``risk`` group."""
    app.add_typer(risk_app, name="risk")
