"""``vaultkeeper locations init|check``: create the repositories, report each location's health."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vaultkeeper.cli import render
from vaultkeeper.cli.settings import load
from vaultkeeper.errors import ExitCode
from vaultkeeper.services.locations import check_locations, has_problems, init_locations

locations_app = typer.Typer(help="Backup locations: create the repositories, check them.",
                            no_args_is_help=True)


@locations_app.command("init")
def init(json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
         ) -> None:
    """Create the restic repository at every location (idempotent).

    The first location gets a plain `restic init`; every other one copies its chunker
    parameters (`init --copy-chunker-params`) so deduplication survives `restic copy`.
    Absent offline locations are skipped. Exit 3 if some location could not be initialised.
    """
    results = init_locations(load())
    if json_output:
        render.print_json({"locations": results})
    else:
        for r in results:
            typer.echo(f"{r['location']}: {r['result']} {r['detail']}".rstrip(), err=True)
    if any(r["result"] == "failed" for r in results):
        raise typer.Exit(int(ExitCode.PARTIAL))


@locations_app.command("check")
def check(json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
          ) -> None:
    """Per location: present, reachable, credentials, repository initialised and the password
    opens it; for S3 buckets versioning and Object Lock. Exit 3 if any location has a problem."""
    rows = check_locations(load())
    if json_output:
        render.print_json({"locations": rows})
    else:
        table = Table(title="Locations")
        table.add_column("location")
        table.add_column("url", overflow="fold")
        for column in ("reachable", "repository", "object lock"):
            table.add_column(column)
        for r in rows:
            table.add_row(r["location"], r["url"], render.yes_no(r["reachable"]),
                          r["repository"] or "-", r["object_lock"] or "-")
        Console().print(table)
        for r in rows:    # problems are sentences: a line each, not a squeezed column
            for problem in r["problems"]:
                render.err_console.print(f"[yellow]{r['location']}:[/] {escape(problem)}",
                                         highlight=False)
    if has_problems(rows):
        raise typer.Exit(int(ExitCode.PARTIAL))


def register(app: typer.Typer) -> None:
    """Add the locations sub-app."""
    app.add_typer(locations_app, name="locations")
