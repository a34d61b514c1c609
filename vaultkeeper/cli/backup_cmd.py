"""``vaultkeeper backup``, ``snapshots`` and ``status``."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vaultkeeper.cli import render
from vaultkeeper.cli.render import JsonOption
from vaultkeeper.cli.settings import load
from vaultkeeper.db import runs as rundb
from vaultkeeper.db.runs import LocationResult
from vaultkeeper.errors import ExitCode, UsageError
from vaultkeeper.exportfmt_files import files_lines
from vaultkeeper.services.alerts import Alerter
from vaultkeeper.services.backup import BackupObserver, run_backup
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.jobs import backup_outcome, run_manual
from vaultkeeper.services.retention import RetentionOutcome, apply_retention, fold_retention
from vaultkeeper.services.scheduler import JobOutcome
from vaultkeeper.services.status import snapshot_matrix, status_report

backup_app = typer.Typer(help="Back up the CRM into every location.", no_args_is_help=False)


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
    command = CommandContext(load())
    observer = _Progress(enabled=sys.stderr.isatty() and not json_output)

    def body(alerter: Alerter) -> JobOutcome:
        with observer:
            report = run_backup(command, observer=observer)
        retention = apply_retention(command) if prune and report.status != "failed" else []
        # Retention that fails leaves locations growing (a stale lock, a refused delete…).
        fold_retention(command, report, retention)
        return backup_outcome(alerter, report, retention)

    # Counted like a scheduled run: job history, the next scheduled run, alerts it resolves.
    report, retention = run_manual(command, "backup", body).data
    data = report.as_json() | {"retention": [r.__dict__ for r in retention]}
    if json_output:
        render.print_json(data)
    else:
        table = Table(title=f"Backup run {report.run_id} — {report.status}")
        for column in ("location", "role", "result", "snapshot"):
            table.add_column(column)
        table.add_column("added", justify="right")
        table.add_column("time", justify="right")
        errors = any(r.error for r in report.locations)
        if errors:
            table.add_column("error", overflow="fold")
        for r in report.locations:
            table.add_row(r.location, r.role, r.result, r.short_id or "-",
                          render.size(r.bytes_added), render.ago(r.duration_s),
                          *([r.error or ""] if errors else []))
        Console().print(table)
        for outcome in retention:
            Console().print(f"retention at {outcome.location}: {_retention_phrase(outcome)}",
                            highlight=False)
        for line in files_lines(report.files):
            Console().print(line, highlight=False)
        for problem in report.problems:
            render.err_console.print(f"[yellow]Problem:[/] {problem}", highlight=False)
        if report.unverified:
            render.err_console.print(render.unverified_line(report.unverified),
                                     highlight=False)
        for line in report.stale_locks + [s for o in retention for s in o.stale_locks]:
            render.err_console.print(f"[yellow]Lock:[/] {line}", highlight=False)
    if report.status != "ok":
        raise typer.Exit(int(ExitCode.PARTIAL))


def _retention_phrase(outcome: RetentionOutcome) -> str:
    """What retention did, in words: 'nothing to remove', '2 old snapshots removed' …"""
    if outcome.action == "pruned":
        n = len(outcome.removed)
        kept = f" ({len(outcome.protected)} protected)" if outcome.protected else ""
        return ("nothing to remove" if n == 0 else
                f"{n} old snapshot{'s' if n != 1 else ''} removed") + kept
    if outcome.action == "dry-run":
        return f"would remove {len(outcome.removed)} (dry run)"
    return f"{outcome.action}: {outcome.reason}" if outcome.reason else outcome.action


@backup_app.command("acknowledge")
def acknowledge(
    run_id: Annotated[int, typer.Argument(help="The flagged run (see `vaultkeeper status`).")],
    by: Annotated[str | None, typer.Option(help="Who checked the data (default: you).")] = None,
) -> None:
    """Confirm a flagged drop in record counts was intended; pruning resumes."""
    db = CommandContext(load()).db
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
        table.add_row(row["short_id"], render.stamp(row["time"]),
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
    table = Table(title=f"Locations (RPO {render.ago(report['rpo_s'])})")
    for column in ("location", "state", "last good backup"):
        table.add_column(column)
    table.add_column("age", justify="right")
    table.add_column("last drill")
    errors = [loc for loc in report["locations"] if loc["last_error"]]
    for loc in report["locations"]:
        good = loc["last_good"]
        drill = loc["last_drill"]
        drilled = f"{drill['result']} {render.stamp(drill['finished_at'])}" if drill else "never"
        table.add_row(loc["name"], loc["state"], render.stamp(good["at"] if good else None),
                      render.ago(loc["age_s"]), drilled)
    Console().print(table)
    if report["unverified_counts"]:
        Console().print(render.unverified_line(report["unverified_counts"]), highlight=False)
    for loc in errors:   # errors are long: a line each rather than a squeezed column
        render.err_console.print(f"[red]{loc['name']}[/] last error: "
                                 f"{escape(loc['last_error'].get('error', ''))}", highlight=False)
    risk = report["risk"]
    colour = {"green": "green", "amber": "yellow"}.get(risk["level"], "red")
    Console().print(f"Vendor risk: [{colour}]{risk['level']}[/] (score {risk['score']:.1f}; "
                    f"{risk['fresh_signals']} of {risk['signals']} signals have a fresh value, "
                    f"{risk['coverage']:.0%} of the weight known)"
                    + "".join(f"\n  active: {a['description']}" for a in risk["actions"]))
    sched = report["scheduler"]
    pid = sched["running_pid"]
    jobs = Table(title="Schedule — " + (f"vaultkeeper run is running (pid {pid})" if pid
                                       else "vaultkeeper run is not running"))
    for column in ("job", "cadence", "last run", "next run"):
        jobs.add_column(column)
    for job in sched["jobs"]:
        jobs.add_row(job["job"], job["phrase"], render.stamp(job["last_run"]),
                     render.stamp(job["next_run"]) if pid else "not scheduled")
    Console().print(jobs)
    if not pid:
        render.err_console.print("schedule: nothing runs by itself until `vaultkeeper run` "
                                 "(or `vaultkeeper schedule install`) is set up",
                                 highlight=False)
    for reason in sched["reasons"]:
        render.err_console.print(f"[yellow]schedule:[/] {escape(reason)}", highlight=False)
    usage = report["api_usage"]
    if usage:   # requests vaultkeeper sent to the CRM's API, per UTC day
        Console().print("API requests by vaultkeeper: " + ", ".join(
            f"{u['day']} {u['requests']} ({u['runs']} runs)" for u in usage[:7]),
            highlight=False)
    incremental = report["incremental"]
    if incremental["distrusted"]:
        render.err_console.print(
            f"[red]Incremental chain distrusted[/] since "
            f"{render.stamp(incremental['distrusted']['forced_since'])}: every backup is a "
            "full one until a full run compares clean", highlight=False)
    for alert in report["open_alerts"]:
        render.err_console.print(f"[red]Open alert[/] {escape(alert['key'])}: "
                                 f"{escape(alert['subject'])} "
                                 f"(since {render.stamp(alert['first_at'])})", highlight=False)
    for flag in report["unacknowledged_flags"]:
        render.err_console.print(f"[red]Run {flag['id']} flagged:[/] {flag['flag_reason']} — "
                                 f"pruning suspended until `vaultkeeper backup acknowledge "
                                 f"{flag['id']}`", highlight=False)


def register(app: typer.Typer) -> None:
    """Add backup (with acknowledge), snapshots and status."""
    app.add_typer(backup_app, name="backup")
    app.command("snapshots")(snapshots)
    app.command("status")(status)
