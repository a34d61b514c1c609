"""``vaultkeeper restore`` (+ ``restore history``): put records, fields and relations from a
snapshot back into the CRM or into another portal/org."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from vaultkeeper.cli import render
from vaultkeeper.cli.render import HtmlReportOption
from vaultkeeper.cli.settings import load
from vaultkeeper.db import restores as journal
from vaultkeeper.privatefs import write_private
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.restore import RestoreOptions, RestoreReport, render_html, run_restore
from vaultkeeper.services.restore.report import OUTCOMES

restore_app = typer.Typer()
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def _split(values: list[str] | None) -> tuple[str, ...]:
    return tuple(v.strip() for value in values or [] for v in value.split(",") if v.strip())


@restore_app.callback(invoke_without_command=True)
def restore(
    ctx: typer.Context,
    into: Annotated[str | None, typer.Option(
        "--into", help="A [targets.NAME] to write into (default: the configured [source] "
        "CRM).")] = None,
    snapshot: Annotated[str | None, typer.Option(
        help="Snapshot id (prefix) or 'latest' (default: the newest one a drill verified).")
    ] = None,
    location: Annotated[str | None, typer.Option(
        help="Location to read the snapshot from (default: any that has it).")] = None,
    from_mirror: Annotated[bool, typer.Option(
        "--from-mirror", help="Read the records from the drilled mirror instead.")] = False,
    objects: Annotated[list[str] | None, typer.Option(
        "--object", help="Object to restore (repeatable); alone: all its records.")] = None,
    ids: Annotated[list[str] | None, typer.Option(
        "--ids", help="Record ids (comma separated) of the one --object.")] = None,
    where: Annotated[str | None, typer.Option(
        help="SQL condition on the --object's mirror table, e.g. \"city = 'Leeds'\".")] = None,
    deleted_since: Annotated[str | None, typer.Option(
        "--deleted-since", help="Records live in this snapshot (id) or in the newest snapshot "
        "at or before this date, that are absent or archived in the CRM now.")] = None,
    fields: Annotated[list[str] | None, typer.Option(
        "--fields", help="Field-level rollback: put back only these properties "
        "(comma separated).")] = None,
    with_parents: Annotated[int, typer.Option(
        "--with-parents", help="Also restore N levels of parents (a contact's company).",
        min=0)] = 0,
    with_children: Annotated[int, typer.Option(
        "--with-children", help="Also restore N levels of children (its deals, notes).",
        min=0)] = 0,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show the plan and stop: nothing is written.")] = False,
    max_records: Annotated[int, typer.Option(
        "--max-records", help="Refuse plans writing more records than this without --yes.",
        min=0)] = 1000,
    yes: Annotated[bool, typer.Option("--yes", help="Go ahead above --max-records.")] = False,
    replace_changed_files: Annotated[bool, typer.Option(
        "--replace-changed-files", help="Upload the snapshot's version of a file the CRM "
        "changed since (default: keep the CRM's).")] = False,
    resume: Annotated[int | None, typer.Option(
        "--resume", help="Resume an unfinished run (the same command again does too).")
    ] = None,
    json_output: JsonOption = False,
    html: HtmlReportOption = None,
) -> None:
    """Plan first (skip unchanged, update changed, undelete from the recycle bin, re-create
    missing records with new ids, re-link their relations), then write with a journal that
    survives a crash, read everything back and report per record.

    Exit 0 all restored; 2 refused (--max-records); 3 some records or files failed (the report
    gives the vendor's reason); 4 the CRM does not hold what was written; 6 the CRM failed; 7 the
    locations failed.
    """
    if ctx.invoked_subcommand is not None:
        return
    opts = RestoreOptions(
        into=into, snapshot=snapshot, location=location, from_mirror=from_mirror,
        objects=_split(objects), ids=_split(ids), where=where, deleted_since=deleted_since,
        fields=_split(fields), with_parents=with_parents, with_children=with_children,
        dry_run=dry_run, max_records=max_records, yes=yes, resume=resume,
        replace_changed_files=replace_changed_files)
    report = run_restore(load(), opts, progress=_progress(json_output))
    data = report.as_json()
    if html is not None:
        write_private(html, render_html(data))
    if json_output:
        render.print_json(data)
    else:
        print_report(report)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def _progress(json_output: bool) -> Any:
    if json_output or not sys.stderr.isatty():
        return None

    def show(obj: str, what: str, n: int) -> None:
        if obj == "files":   # (files, file name, bytes)
            render.err_console.print(f"file {what}: {n} bytes", highlight=False)
            return
        render.err_console.print(f"{what} {obj}: {n} record(s)", highlight=False)

    return show


def print_report(report: RestoreReport) -> None:
    """The plan and outcomes per object (fits 80 columns), then failures and mismatches."""
    console = Console(width=80) if not sys.stdout.isatty() else Console()
    title = (f"Restore #{report.run_id} into {report.target} from "
             f"{report.snapshot_id[:8]} — {report.status}")
    table = Table(title=title, title_justify="left")
    table.add_column("object")
    for column in ("skip", "update", "undel.", "create", "done", "failed"):
        table.add_column(column, justify="right")
    for obj, plan in report.plan.items():
        got = report.outcomes.get(obj, {})
        done = sum(got.get(o, 0) for o in OUTCOMES if o not in ("Skipped", "Failed"))
        table.add_row(obj, str(plan.get("skip", 0)), str(plan.get("update", 0)),
                      str(plan.get("undelete", 0)), str(plan.get("create", 0)),
                      "-" if report.dry_run else str(done),
                      "-" if report.dry_run else str(got.get("Failed", 0)))
    console.print(table)
    if report.links.get("planned"):
        console.print(f"relations: {report.links['linked']} linked, {report.links['failed']} "
                      f"failed of {report.links['planned']}", highlight=False)
    files = report.files
    if files.get("files"):
        put = (f"{files['to_upload']} to upload" if report.dry_run
               else f"{files['uploaded']} uploaded")
        console.print(f"files: {files['files']} on the restored records: {files['present']} "
                      f"in place, {put} ({files['bytes']} bytes), {files['kept']} changed "
                      f"in the CRM (kept), {files['failed']} failed", highlight=False)
        for item in files.get("items", [])[:50]:
            past = {"upload": "uploaded", "replace": "replaced"}.get(item["action"], "")
            what = {"planned": f"would {item['action']}", "done": past, "kept": "kept",
                    "failed": "Failed"}.get(item["state"], item["state"])
            new = f" → {item['new_id']}" if item.get("new_id") else ""
            reason = f": {item['reason']}" if item.get("reason") else ""
            console.print(f"{what}: file {item['name']} ({item['kind']} "
                          f"{item['file_id']}, {item['size']} bytes){new}{reason}",
                          highlight=False, soft_wrap=True)
    for record in report.failed()[:50]:
        console.print(f"Failed: {record['object']} {record['id']}: {record['reason']}",
                      highlight=False, soft_wrap=True)
    for m in report.mismatches[:50]:
        console.print(f"Not as in the snapshot: {m['object']} {m['id']} → {m['target_id']}: "
                      f"{m['field']}", highlight=False, soft_wrap=True)
    for warning in report.warnings:
        render.err_console.print(f"Note: {warning}", highlight=False)
    console.print(report.summary(), highlight=False)
    if report.error:
        render.err_console.print(f"Error: {report.error}", highlight=False)


@restore_app.command("history")
def history(json_output: JsonOption = False,
            limit: Annotated[int, typer.Option(help="How many runs to show.")] = 20) -> None:
    """Past restore runs, newest first (unfinished ones can be resumed)."""
    rows = journal.history(CommandContext(load()).db, limit=limit)
    if json_output:
        render.print_json({"runs": rows})
        return
    table = Table(title="Restores")
    for column in ("id", "started", "target", "snapshot", "status", "exit"):
        table.add_column(column)
    for r in rows:
        table.add_row(str(r["id"]), str(r["started_at"])[:19], str(r["target"]),
                      str(r["snapshot_id"] or "")[:8], str(r["status"]),
                      "" if r["exit_code"] is None else str(r["exit_code"]))
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``restore``."""
    app.add_typer(restore_app, name="restore")
