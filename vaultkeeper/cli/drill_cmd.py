"""``vaultkeeper drill`` (+ ``history``), ``mirror query|path`` and ``diff``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from vaultkeeper.cli import render
from vaultkeeper.cli.render import HtmlReportOption, JsonOption
from vaultkeeper.cli.settings import load
from vaultkeeper.db import drills as drilldb
from vaultkeeper.db import mirror as mirrordb
from vaultkeeper.errors import UsageError, VaultkeeperError, VerificationError
from vaultkeeper.privatefs import open_private
from vaultkeeper.services.alerts import Alerter
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.diff import diff_snapshots
from vaultkeeper.services.diff_files import files_table_rows
from vaultkeeper.services.drill import DrillObserver, DrillReport, run_drill
from vaultkeeper.services.drill_html import render as render_html
from vaultkeeper.services.jobs import drill_alert, drill_outcome, run_manual
from vaultkeeper.services.restore.drill import run_crm_drill
from vaultkeeper.services.scheduler import JobOutcome

drill_app = typer.Typer()
mirror_app = typer.Typer(help="The SQLite mirror of the last verified drill.",
                         no_args_is_help=True)


class _Progress(render.BarsView, DrillObserver):
    def __init__(self, *, enabled: bool) -> None:
        super().__init__(Progress(TextColumn("{task.description:<28}"), BarColumn(),
                                  MofNCompleteColumn(), console=render.err_console,
                                  disable=not enabled), enabled=enabled)

    def stage(self, name: str, detail: str = "") -> None:
        if self.enabled:
            self._progress.console.print(f"[bold]{name}[/] {detail}", highlight=False)

    def loading(self, obj: str, total: int) -> None:
        self._tasks[obj] = self._progress.add_task(f"load {obj}", total=total or None)

    def advance(self, obj: str, records: int) -> None:
        self._progress.advance(self._tasks[obj], records)


@drill_app.callback(invoke_without_command=True)
def drill(
    ctx: typer.Context,
    location: Annotated[str | None, typer.Option(
        help="Location to drill (default: the one drilled least recently).")] = None,
    snapshot: Annotated[str, typer.Option(
        help="latest, random, or a snapshot id (prefix).")] = "latest",
    read_data_subset: Annotated[str | None, typer.Option(
        "--read-data-subset", help="Data read by restic check: n/t, x%, a size, or 'none' "
        "(default: a rolling k/10, so every pack is read every 10 drills).")] = None,
    against_source: Annotated[bool, typer.Option(
        "--against-source", help="Also compare live record counts with the CRM now.")] = False,
    json_output: JsonOption = False,
    html: HtmlReportOption = None,
    into_crm: Annotated[str | None, typer.Option(
        "--into-crm", help="Restore the snapshot into this [targets.NAME] CRM, export it back "
        "and reconcile record by record and relation by relation.")] = None,
    sample: Annotated[int | None, typer.Option(
        "--sample", help="With --into-crm: only N records per object, closed under relations.",
        min=1)] = None,
    accept_unsigned: Annotated[bool, typer.Option(
        "--accept-unsigned", help="Also verify a snapshot without vaultkeeper's manifest "
        "signature (plain restic, or made before signatures existed).")] = False,
    foreign_signature: Annotated[bool, typer.Option(
        "--foreign-signature", help="The escrow agent's drill: accept a manifest signature "
        "made with the organisation's key, which this password cannot check.")] = False,
) -> None:
    """restic check → restore into a private folder → load the SQLite mirror → reconcile every
    object, record and relation with the export manifest → report (kept in the state database).

    Exit 0 verified; 4 verification failed (the message names the object and the location);
    1/7 the drill could not run.
    """
    if ctx.invoked_subcommand is not None:
        return
    if into_crm is not None:
        _crm_drill(into_crm, None if snapshot == "latest" else snapshot, location, sample,
                   json_output)
        return
    command = CommandContext(load())
    observer = _Progress(enabled=sys.stderr.isatty() and not json_output)

    def body(alerter: Alerter) -> JobOutcome:
        with observer:
            report = run_drill(command, location=location, snapshot=snapshot,
                               read_data_subset=read_data_subset, alert=drill_alert(alerter),
                               against_source=against_source, observer=observer,
                               accept_unsigned=accept_unsigned,
                               foreign_signature=foreign_signature)
        return drill_outcome(alerter, report)

    try:
        # Counted like a scheduled drill: job history, next run, alerts it opens or closes.
        report: DrillReport = run_manual(command, "drill", body).data
    except VaultkeeperError:
        if html is not None:
            _write_html(html, _last_report(command))
        raise
    data = report.as_json()
    if html is not None:
        _write_html(html, data)
    if json_output:
        render.print_json(data)
    else:
        _print_report(report)
    if report.result != "verified":
        raise VerificationError(report.summary(), report.failures[0].fix)


def _crm_drill(target: str, snapshot: str | None, location: str | None, sample: int | None,
               json_output: bool) -> None:
    report = run_crm_drill(load(), target, snapshot=snapshot, location=location, sample=sample)
    if json_output:
        render.print_json(report.as_json())
    else:
        console = Console()
        table = render.object_table(
            ("object", "expected", "found", "missing", "fields differing"),
            title=f"Drill {report.drill_id} into CRM {target}: snapshot {report.short_id} — "
                  f"{report.result}", title_justify="left")
        for o in report.objects:
            table.add_row(o["object"], str(o["expected"]), str(o["found"]), str(o["missing"]),
                          str(sum(o["fields_differing"].values())))
        console.print(table)
        console.print(f"relations: {report.relations.get('expected', 0)} expected, "
                      f"{report.relations.get('missing', 0)} missing", highlight=False)
        for failure in report.failures:
            render.err_console.print(f"Failed: {failure['object']}: {failure['problem']}",
                                     highlight=False)
        if report.error:
            render.err_console.print(f"Error: {report.error}", highlight=False)
        console.print(report.summary(), highlight=False)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def _last_report(command: CommandContext) -> dict[str, Any] | None:
    db = command.db
    rows = drilldb.history(db, limit=1)
    row = drilldb.get(db, rows[0]["id"]) if rows else None
    return row["report"] if row else None


def _write_html(path: Path, data: dict[str, Any] | None) -> None:
    if data is None:
        return
    with open_private(path, "w") as handle:
        handle.write(render_html(data))


def _print_report(report: DrillReport) -> None:
    console = Console()
    d = report.durations
    age = "-" if report.age_s is None else f"{report.age_s / 3600:.1f} h"
    console.print(f"Drill {report.drill_id}: location [bold]{report.location}[/], snapshot "
                  f"{report.short_id} ({report.snapshot_time[:19]}, age {age}) — "
                  f"[{'green' if report.result == 'verified' else 'red'}]{report.result}[/]",
                  highlight=False)
    table = render.object_table(
        ("object", "manifest", "restored", "archived", "digest", "schema", "ok"))
    mark = {True: "✔", False: "✘"}
    for o in report.objects:
        table.add_row(o["object"], str(o["expected"]), str(o["restored"]), str(o["archived"]),
                      mark[o["digest_ok"]], mark[o["schema_ok"]], mark[o["ok"]])
    for r in report.relations:
        dangling = r["dangling_from"] + r["dangling_to"]
        table.add_row(f"↔ {r['relation']}", str(r["expected"]), str(r["restored"]),
                      f"{dangling} missing" if dangling else "", mark[r["digest_ok"]], "",
                      mark[r["ok"]])
    console.print(table)
    console.print("check {c} s (subset {s}) · restore {r} s · load {lo} s · reconcile {rc} s · "
                  "total {t} s · RTO {rto} s".format(
                      c=d.get("check_s", "-"), s=report.read_data_subset,
                      r=d.get("restore_s", "-"), lo=d.get("load_s", "-"),
                      rc=d.get("reconcile_s", "-"), t=d.get("total_s", "-"),
                      rto=d.get("rto_s", "-")), highlight=False)
    for row in report.against_source or []:
        console.print(f"source {row['object']}: {row['snapshot_live']} live in the snapshot, "
                      f"{row['source_live']} now", highlight=False)
    for warning in report.warnings:
        render.err_console.print(f"[yellow]Note:[/] {warning}", highlight=False)
    for failure in report.failures:
        render.err_console.print(f"[red]Failed:[/] {failure.line()} — {failure.fix}",
                                 highlight=False)


@drill_app.command("history")
def history(
    json_output: JsonOption = False,
    limit: Annotated[int, typer.Option(help="How many drills to show.")] = 20,
) -> None:
    """Past drills, newest first: location, snapshot, result and durations."""
    rows = drilldb.history(CommandContext(load()).db, limit=limit)
    if json_output:
        render.print_json(rows)
        return
    table = Table(title="Drills")
    for column in ("id", "started", "location", "snapshot", "result", "records", "restore s",
                   "load s", "total s"):
        table.add_column(column)
    for r in rows:
        table.add_row(str(r["id"]), str(r["started_at"])[:19], r["location"],
                      r["short_id"] or "", r["result"], str(r["records"] or ""),
                      str(r["restore_s"] or ""), str(r["load_s"] or ""), str(r["total_s"] or ""))
    Console().print(table)


def _mirror_file() -> Path:
    path = mirrordb.mirror_path(load().state_dir)
    if not path.exists():
        raise UsageError(f"there is no mirror yet ({path})",
                         "run `vaultkeeper drill`; a verified drill writes the mirror")
    return path


@mirror_app.command("path")
def mirror_path() -> None:
    """Print the mirror's file path (open it with sqlite3, Datasette, a spreadsheet …)."""
    typer.echo(str(_mirror_file()))


@mirror_app.command("query")
def mirror_query(
    sql: Annotated[str, typer.Argument(help="One SQL statement (the mirror opens read-only).")],
    json_output: JsonOption = False,
) -> None:
    """Run SQL against the mirror, e.g. `select count(*) from contacts` or a full-text search:
    `select * from search where search match 'müller'`."""
    names, rows = mirrordb.user_query(_mirror_file(), sql)
    if json_output:
        render.print_json([dict(zip(names, row, strict=True)) for row in rows])
        return
    table = Table()
    for name in names:
        table.add_column(name)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console().print(table)


def diff(
    a: Annotated[str, typer.Argument(help="The earlier snapshot (id prefix, or latest).")],
    b: Annotated[str, typer.Argument(help="The later snapshot (id prefix, or latest).")],
    location: Annotated[str | None, typer.Option(
        help="Location to read both snapshots from (default: the first reachable).")] = None,
    sample: Annotated[int, typer.Option(help="Changed records shown per object.")] = 5,
    json_output: JsonOption = False,
) -> None:
    """What changed between two snapshots, per object: records added, removed and changed (by
    CRM id and content hash), with a sample of field-level changes; files added, removed,
    changed (SHA-256) and relinked."""
    report = diff_snapshots(load(), a, b, location=location, sample=sample)
    if json_output:
        render.print_json(report.as_json())
        return
    console = Console()
    table = render.object_table(("object", "before", "after", "added", "removed", "changed"),
                                title=f"{report.a['short_id']} → {report.b['short_id']} "
                                      f"(location {report.location})")
    for o in report.objects:
        table.add_row(o.object, str(o.before), str(o.after), str(o.added), str(o.removed),
                      str(o.changed))
    if report.files is not None:
        f = report.files
        table.add_row("(files)", str(f["before"]), str(f["after"]), str(f["added"]),
                      str(f["removed"]), str(f["changed"]))
    console.print(table)
    if report.files is not None and report.files["relinked"]:
        console.print(f"files relinked (same bytes, other records): "
                      f"{report.files['relinked']}", highlight=False)
    for line in files_table_rows(report.files):
        console.print(line, highlight=False, soft_wrap=True)
    for o in report.objects:
        for change in o.changes:
            fields = "; ".join(f"{f['field']}: {f['before']!r} → {f['after']!r}"
                               for f in change["fields"][:5])
            console.print(f"{o.object} {change['id']}: {fields}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add drill (with history), mirror and diff."""
    app.add_typer(drill_app, name="drill")
    app.add_typer(mirror_app, name="mirror")
    app.command("diff")(diff)
