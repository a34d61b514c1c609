"""``vaultkeeper backup``, ``snapshots`` and ``status``."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vaultkeeper.cli import render
from vaultkeeper.cli.settings import load
from vaultkeeper.db import open_state_db
from vaultkeeper.db import runs as rundb
from vaultkeeper.db.runs import LocationResult
from vaultkeeper.errors import ExitCode, UsageError
from vaultkeeper.services.backup import BackupObserver, run_backup
from vaultkeeper.services.retention import apply_retention, record_retention, retention_problems
from vaultkeeper.services.status import snapshot_matrix, status_report

backup_app = typer.Typer(help="Back up the CRM into every location.", no_args_is_help=False)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


class _Progress(render.ExportProgress, BackupObserver):
    def location_finished(self, result: LocationResult) -> None:
        if self.enabled:
            colour = {"ok": "green", "failed": "red"}.get(result.result, "yellow")
            render.err_console.print(f"[{colour}]{result.location}[/]: {result.role} "
                                     f"{result.result} {result.short_id or result.error}")


@backup_app.callback(invoke_without_command=True)
def backup(
    ctx: typer.Context,
    json_output: JsonOption = False,
    prune: Annotated[bool, typer.Option(
        "--prune/--no-prune", help="Apply the retention policy after the backup.")] = True,
) -> None:
    """Export the CRM into a private staging folder, snapshot it into the first reachable
    location, copy it to every other, apply retention, and record the run.

    Exit 0 every location has the snapshot; 3 partial (a location failed, the export was
    incomplete, or counts fell suspiciously: see problems); 6 the CRM failed; 7 no location
    accepted the backup.
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = load()
    observer = _Progress(enabled=sys.stderr.isatty() and not json_output)
    with observer:
        report = run_backup(settings, observer=observer)
    retention = apply_retention(settings) if prune and report.status != "failed" else []
    if record_retention(settings, report.run_id, retention):
        # Retention that fails leaves locations growing (a stale lock, a refused delete…).
        report.status = "partial"
        report.problems.extend(retention_problems(retention))
    data = report.as_json() | {"retention": [r.__dict__ for r in retention]}
    if json_output:
        render.print_json(data)
    else:
        table = Table(title=f"Backup run {report.run_id} — {report.status}")
        for column in ("location", "role", "result", "snapshot", "added", "seconds", "error"):
            table.add_column(column)
        for r in report.locations:
            table.add_row(r.location, r.role, r.result, r.short_id, str(r.bytes_added),
                          f"{r.duration_s:.1f}", r.error)
        Console().print(table)
        for outcome in retention:
            detail = (f"removed {len(outcome.removed)}" if outcome.action == "pruned"
                      else outcome.reason)
            Console().print(f"retention {outcome.location}: {outcome.action} {detail}")
        for problem in report.problems:
            render.err_console.print(f"[yellow]Problem:[/] {problem}", highlight=False)
        for line in report.stale_locks + [s for o in retention for s in o.stale_locks]:
            render.err_console.print(f"[yellow]Lock:[/] {line}", highlight=False)
    if report.status != "ok":
        raise typer.Exit(int(ExitCode.PARTIAL))


@backup_app.command("acknowledge")
def acknowledge(
    run_id: Annotated[int, typer.Argument(help="The flagged run (see `vaultkeeper status`).")],
    by: Annotated[str | None, typer.Option(help="Who checked the data (default: you).")] = None,
) -> None:
    """Confirm a flagged drop in record counts was intended; pruning resumes."""
    db = open_state_db(load().state_dir)
    if not rundb.acknowledge(db, run_id, by or getpass.getuser()):
        raise UsageError(f"run {run_id} is not a flagged run",
                         "see `vaultkeeper status` for flagged runs")
    typer.echo(f"run {run_id} acknowledged; retention resumes at the next backup", err=True)


def snapshots(json_output: JsonOption = False) -> None:
    """List snapshots and which location holds each one."""
    matrix = snapshot_matrix(load())
    if json_output:
        render.print_json(matrix)
        return
    table = Table(title="Snapshots")
    table.add_column("snapshot")
    table.add_column("time")
    for name in matrix["locations"]:
        table.add_column(name)
    for row in matrix["snapshots"]:
        table.add_row(row["short_id"], row["time"][:19],
                      *("✔" if n in row["locations"] else "✘" for n in matrix["locations"]))
    Console().print(table)
    for name, error in matrix["errors"].items():
        render.err_console.print(f"[yellow]{name}:[/] {error}", highlight=False)


def status(json_output: JsonOption = False) -> None:
    """Per location: last good backup and its age against the RPO, last error."""
    report = status_report(load(), verify=True)
    if json_output:
        render.print_json(report)
        return
    table = Table(title=f"Locations (RPO {report['rpo_s'] // 3600} h)")
    for column in ("location", "state", "last good backup", "age", "last drill", "last error"):
        table.add_column(column)
    for loc in report["locations"]:
        good = loc["last_good"]
        age = "-" if loc["age_s"] is None else f"{loc['age_s'] / 3600:.1f} h"
        error = (loc["last_error"] or {}).get("error", "")
        drill = loc["last_drill"]
        drilled = f"{drill['result']} {(drill['finished_at'] or '')[:16]}" if drill else "never"
        table.add_row(loc["name"], loc["state"], good["at"] if good else "never", age, drilled,
                      error)
    Console().print(table)
    risk = report["risk"]
    colour = {"green": "green", "amber": "yellow"}.get(risk["level"], "red")
    Console().print(f"Vendor risk: [{colour}]{risk['level']}[/] (score {risk['score']:g})"
                    + "".join(f"\n  active: {a['description']}" for a in risk["actions"]))
    sched = report["scheduler"]
    pid = sched["running_pid"]
    jobs = Table(title="Schedule — " + (f"vaultkeeper run is running (pid {pid})" if pid
                                       else "vaultkeeper run is not running"))
    for column in ("job", "cadence", "last run", "next run"):
        jobs.add_column(column)
    for job in sched["jobs"]:
        jobs.add_row(job["job"], job["phrase"], (job["last_run"] or "never")[:19],
                     job["next_run"][:19])
    Console().print(jobs)
    for reason in sched["reasons"]:
        render.err_console.print(f"[yellow]schedule:[/] {reason}", highlight=False)
    for alert in report["open_alerts"]:
        render.err_console.print(f"[red]Open alert[/] {alert['key']}: {alert['subject']} "
                                 f"(since {alert['first_at']})", highlight=False)
    for flag in report["unacknowledged_flags"]:
        render.err_console.print(f"[red]Run {flag['id']} flagged:[/] {flag['flag_reason']} — "
                                 f"pruning suspended until `vaultkeeper backup acknowledge "
                                 f"{flag['id']}`", highlight=False)


def register(app: typer.Typer) -> None:
    """Add backup (with acknowledge), snapshots and status."""
    app.add_typer(backup_app, name="backup")
    app.command("snapshots")(snapshots)
    app.command("status")(status)
