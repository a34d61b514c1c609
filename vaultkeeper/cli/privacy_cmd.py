"""``vaultkeeper privacy forget|status|report``: the erasure register and the record of
processing (docs/privacy.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vaultkeeper.cli import render
from vaultkeeper.cli.render import JsonOption
from vaultkeeper.cli.settings import load
from vaultkeeper.errors import UsageError
from vaultkeeper.privatefs import write_private
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.privacy.register import Request, forget, read_requests_csv
from vaultkeeper.services.privacy.report import record_of_processing, render_html
from vaultkeeper.services.privacy.status import privacy_status
from vaultkeeper.services.privacy.suppress import suppress_drilled_mirror

privacy_app = typer.Typer(help="Personal data: erasure requests, age-out dates, the record of "
                               "processing.", no_args_is_help=True)


@privacy_app.command("forget")
def forget_cmd(
    email: Annotated[list[str] | None, typer.Option(
        "--email", help="The person's e-mail address (repeatable).")] = None,
    record: Annotated[list[str] | None, typer.Option(
        "--id", help="OBJECT:ID of the person's record, e.g. contacts:1501 (repeatable).")
    ] = None,
    csv_file: Annotated[Path | None, typer.Option(
        "--csv", help="CSV of requests: ref,email,id.", dir_okay=False)] = None,
    ref: Annotated[str | None, typer.Option(
        "--ref", help="The request's reference (your case number).")] = None,
    no_search: Annotated[bool, typer.Option(
        "--no-search", help="Do not restore snapshots to find the person (mirror only).")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Register an erasure request: keyed hashes of the identifiers (never the plain values),
    the date, the reference, and which snapshots still hold the person. Every later drill,
    mirror, emergency package, escrow release and restore leaves the person out."""
    if csv_file is not None:
        requests = read_requests_csv(csv_file)
    else:
        if not ref:
            raise UsageError("no request reference", "add --ref REQUEST (your case number)")
        if not email and not record:
            raise UsageError("no identifier", "give --email ADDRESS or --id OBJECT:ID")
        requests = [Request(ref, list(email or []), list(record or []))]
    ctx = CommandContext(load())
    rows = forget(ctx, requests, search_snapshots=not no_search)
    mirror = suppress_drilled_mirror(ctx)
    if json_output:
        render.print_json({"ok": True, "requests": rows, "mirror_suppressed": mirror.as_json()})
        return
    for row in rows:
        where = sorted({f"{h['location'] or 'mirror'} {h['snapshot_id'][:8]}"
                        for h in row["holdings"]})
        typer.echo(f"request {row['ref']}: registered; {row['found']} record(s) found; held in "
                   f"{len(where)} snapshot copies" + (f" ({', '.join(where[:6])})" if where
                                                      else ""))
    if mirror.records:
        typer.echo(f"drilled mirror: {mirror.summary()}")
    typer.echo("Run `vaultkeeper privacy status` for the date every copy ages out.", err=True)


@privacy_app.command("status")
def status_cmd(json_output: JsonOption = False) -> None:
    """Per erasure request: the date by which every copy holding the person has aged out of
    every location (retention keep rules, Object Lock periods, escrow)."""
    rows = privacy_status(load())
    if json_output:
        render.print_json({"ok": True, "requests": rows})
        return
    table = Table(title="Erasure requests")
    for column in ("request", "registered", "status", "all copies gone by"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["ref"], r["registered_at"][:10], r["status"],
                      (r["aged_out_by"] or "never (see below)")[:10])
    Console().print(table)
    for r in rows:
        for loc in r["locations"]:
            if loc.get("note"):
                typer.echo(f"{r['ref']}: {loc['location']}: {loc['note']}")


@privacy_app.command("report")
def report_cmd(
    html_out: Annotated[Path | None, typer.Option(
        "--html", help="Also write the HTML page here.", dir_okay=False)] = None,
    json_output: JsonOption = False,
) -> None:
    """The record of processing: personal data categories backed up, where (countries), how
    long, who holds keys, erasure requests and their status."""
    record = record_of_processing(load())
    if html_out is not None:
        write_private(html_out, render_html(record))
    if json_output:
        render.print_json({"ok": True, **record})
        return
    typer.echo(f"{len(record['categories'])} categories, {len(record['locations'])} "
               f"location(s), {len(record['erasure_requests'])} erasure request(s)")
    for loc in record["locations"]:
        typer.echo(f"  {loc['name']}: {loc['country']}, kept {loc['retention']}")
    if html_out is not None:
        typer.echo(f"HTML: {html_out}", err=True)


def register(app: typer.Typer) -> None:
    """Add the privacy sub-app."""
    app.add_typer(privacy_app, name="privacy")
