"""``vaultkeeper processes list|check``: business processes, priorities, recovery targets,
readiness."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vaultkeeper.cli import render
from vaultkeeper.cli.render import JsonOption
from vaultkeeper.cli.settings import load
from vaultkeeper.errors import ExitCode, UsageError
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.processes import (
    RED,
    by_priority,
    check_processes,
    human,
    object_cadences,
    worst,
)
from vaultkeeper.services.processes_html import render as render_html

processes_app = typer.Typer(help="Business processes: priorities, recovery targets, readiness.",
                            no_args_is_help=True)
_COLOURS = {"green": "green", "amber": "yellow", "red": "red"}


@processes_app.command("list")
def list_processes(json_output: JsonOption = False) -> None:
    """The business processes in restore order, with owners, recovery targets (RTO, RPO,
    maximum tolerable downtime), objects and acceptance checks."""
    policies = CommandContext(load()).policies
    processes = by_priority(policies.processes)
    cadences = object_cadences(policies.processes)
    if json_output:
        render.print_json({
            "source": policies.sources["processes"],
            "processes": [{"name": p.name, "title": p.title, "owner": p.owner,
                           "priority": p.priority, "rto_s": int(p.rto.total_seconds()),
                           "rpo_s": int(p.rpo.total_seconds()),
                           "mtd_s": None if p.mtd is None else int(p.mtd.total_seconds()),
                           "objects": list(p.objects),
                           "fields": {k: list(v) for k, v in p.fields.items()},
                           "description": p.description,
                           "checks": [c.__dict__ for c in p.checks]} for p in processes],
            "export_order": list(cadences),
            "object_rpo_s": {k: int(v.total_seconds()) for k, v in cadences.items()}})
        return
    table = Table(title=f"Business processes ({policies.sources['processes']})")
    for column in ("rank", "process", "owner", "RTO", "RPO", "MTD", "objects", "checks"):
        table.add_column(column)
    for p in processes:
        table.add_row(str(p.priority), p.name, p.owner, human(p.rto),
                      human(p.rpo), human(p.mtd) if p.mtd else "-", ", ".join(p.objects),
                      str(len(p.checks)))
    Console().print(table)
    Console().print("Export order and backup cadence per object: " + ", ".join(
        f"{obj} (RPO {human(rpo)})" for obj, rpo in cadences.items()), highlight=False)


@processes_app.command("check")
def check(
    names: Annotated[list[str] | None, typer.Argument(
        help="Only these processes (default: all).", show_default=False)] = None,
    json_output: JsonOption = False,
    html: Annotated[Path | None, typer.Option(
        "--html", help="Also write a self-contained HTML report (for a board) to this file.",
        dir_okay=False)] = None,
) -> None:
    """Readiness per process: its objects are in the last good backup, that backup is within
    its RPO, the last drill verified, its fields and acceptance checks hold on the drilled
    mirror, and the measured restore time fits its RTO.

    Green: ready. Amber: ready, with a warning (a partial backup, an empty object). Red: not
    ready, with the reason. Exit 0 when no process is red, 4 when one is.
    """
    settings = load()
    results = check_processes(settings, only=names or ())
    if names:
        known = {r.process.name for r in results}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UsageError(f"no process named {', '.join(unknown)}",
                             "see `vaultkeeper processes list`")
    if html is not None:
        html.write_text(render_html(results, datetime.now(UTC)), encoding="utf-8")
    if json_output:
        render.print_json({"status": worst(results),
                           "processes": [r.as_json() for r in results]})
    else:
        table = Table(title="Process readiness")
        for column in ("rank", "process", "status", "why"):
            table.add_column(column)
        for r in results:
            colour = _COLOURS[r.colour]
            why = "\n".join(r.reasons) or "; ".join(f.message for f in r.findings
                                                     if f.aspect in ("fresh", "rto"))
            if r.rehearsal[0] != "fail":   # a failed one is already among the reasons
                why += f"\nrehearsal: {r.rehearsal[1]}"
            table.add_row(str(r.process.priority), r.process.name,
                          f"[{colour}]{r.colour}[/]", why)
        Console().print(table)
    if worst(results) == RED:
        raise typer.Exit(int(ExitCode.VERIFICATION))


def register(app: typer.Typer) -> None:
    """Add the ``processes`` group."""
    app.add_typer(processes_app, name="processes")
