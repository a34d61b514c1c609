"""``vaultkeeper run`` (the scheduler), ``schedule show|install`` and ``alerts test``."""

from __future__ import annotations

import logging
import os
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vaultkeeper.cli import render
from vaultkeeper.cli.render import JsonOption
from vaultkeeper.cli.settings import load
from vaultkeeper.config import Settings
from vaultkeeper.errors import ExitCode, UsageError
from vaultkeeper.privatefs import daemon_pid, touch_private
from vaultkeeper.services.alerts import Alert, Alerter
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.in_force import risk_schedule
from vaultkeeper.services.jobs import JOBS, make_daemon
from vaultkeeper.services.platform import check_unit_secrets, crontab, systemd_units
from vaultkeeper.services.scheduler import configured_schedule, plan

LOG_FILE = "logs/run.log"
schedule_app = typer.Typer(help="Show the schedule, or hand it to systemd or cron.",
                           no_args_is_help=True)
alerts_app = typer.Typer(help="Alert channels (webhook, e-mail).", no_args_is_help=True)


def _setup_logging(settings: Settings, *, verbose: bool) -> Path:
    """Log to stderr (journald keeps it under systemd) and to a rotating file in the state dir."""
    path = settings.state_dir / LOG_FILE
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    touch_private(path)
    root = logging.getLogger("vaultkeeper")
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                            "%Y-%m-%d %H:%M:%S")
    for handler in (logging.StreamHandler(sys.stderr),
                    RotatingFileHandler(path, maxBytes=5_000_000, backupCount=5)):
        handler.setFormatter(fmt)
        root.addHandler(handler)
    root.propagate = False
    return path


def run(
    once: Annotated[bool, typer.Option(
        "--once", help="Run the jobs that are due (missed ones included), then exit.")] = False,
    job: Annotated[list[str] | None, typer.Option(
        "--job", metavar="JOB",
        help=f"Run this job now and exit ({', '.join(JOBS)}); repeatable. "
             "What systemd timers and cron lines call.")] = None,
    tick: Annotated[float, typer.Option(
        "--tick", min=0.05, help="Seconds between housekeeping checks (stale backups, risk).",
        hidden=True)] = 30.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """The long-running scheduler: runs backup, check, drill and risk on their `[schedule]`,
    catches up a missed run once after downtime, alerts on failures, stale backups and mass
    deletions. Stop it with SIGTERM (systemctl stop): the running job cleans up first.

    Exit 0 after SIGTERM; with --once or --job: 0 all ok, 3 a job was partial, 1 a job failed;
    --once stopped by SIGTERM/SIGINT exits 130 (the interrupted job runs at the next start).
    """
    settings = load()
    log_path = _setup_logging(settings, verbose=verbose)
    daemon = make_daemon(settings, tick=tick, once=once)
    if job:
        code = daemon.run_now(list(job), reason="--job")
    else:
        logging.getLogger("vaultkeeper.run").info(
            "scheduler started (pid %d, state %s, log %s)", os.getpid(), settings.state_dir,
            log_path)
        code = daemon.run()
    raise typer.Exit(code)


@schedule_app.command("show")
def show(json_output: JsonOption = False) -> None:
    """Each job's cadence, last run and next run (as `vaultkeeper run` would place them)."""
    settings = load()
    phrases, reasons = risk_schedule(settings)
    planned = plan(settings, phrases)
    pid = daemon_pid(settings.state_dir)
    if json_output:
        render.print_json({"daemon_pid": pid, "reasons": reasons,
                           "jobs": [p.__dict__ for p in planned]})
        return
    table = Table(title="Schedule — " + (f"vaultkeeper run is running (pid {pid})" if pid
                                        else "vaultkeeper run is not running"))
    for column in ("job", "cadence", "last run", "next run", "why"):
        table.add_column(column)
    for p in planned:
        table.add_row(p.job, p.phrase, (p.last_run or "never")[:19], p.next_run[:19], p.reason)
    Console().print(table)


@schedule_app.command("install")
def install(
    systemd: Annotated[bool, typer.Option("--systemd", help="Write systemd units.")] = False,
    cron: Annotated[bool, typer.Option("--cron", help="Write crontab lines.")] = False,
    jobs: Annotated[bool, typer.Option(
        "--jobs", help="systemd: one timer per job instead of one `vaultkeeper run` service "
                       "(cron always writes one line per job).")] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", help="systemd: the folder for the units (default ~/.config/systemd/user, or "
                      "/etc/systemd/system as root); cron: a file (default: print).")] = None,
    env_file: Annotated[Path | None, typer.Option(
        "--env-file", help="A file of NAME=value lines the jobs need ({ env = … } secrets); "
                           "referenced, never copied.")] = None,
) -> None:
    """Hand the schedule to the platform's scheduler instead of running `vaultkeeper run`."""
    if systemd == cron:
        raise UsageError("choose one of --systemd or --cron",
                         "vaultkeeper schedule install --systemd (or --cron)")
    settings = load()
    assert settings.config_file is not None
    phrases, _ = configured_schedule(settings)
    for note in check_unit_secrets(settings, env_file, "cron" if cron else "systemd"):
        render.err_console.print(f"[yellow]note:[/] {note}", highlight=False)
    if cron:
        text = crontab(settings.config_file, phrases, env_file=env_file)
        if out is None:
            sys.stdout.write(text)
            typer.echo("Install with: crontab -l | cat - <this output> | crontab -", err=True)
            return
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}; install with: (crontab -l; cat {out}) | crontab -", err=True)
        return
    as_root = os.geteuid() == 0
    folder = out or (Path("/etc/systemd/system") if as_root
                     else Path.home() / ".config" / "systemd" / "user")
    units = systemd_units(settings.config_file, phrases, daemon=not jobs, env_file=env_file,
                          user=not as_root or out is not None)
    folder.mkdir(parents=True, exist_ok=True)
    for unit in units:
        (folder / unit.name).write_text(unit.text, encoding="utf-8")
        typer.echo(f"wrote {folder / unit.name}", err=True)
    scope = "" if as_root and out is None else "--user "
    enable = " ".join(u.name for u in units if u.name.endswith(".timer")) or "vaultkeeper.service"
    typer.echo(f"enable with: systemctl {scope}daemon-reload && systemctl {scope}enable --now "
               f"{enable}", err=True)


@alerts_app.command("test")
def test_alert(json_output: JsonOption = False) -> None:
    """Send a test alert through every configured channel (exit 1 when one fails)."""
    settings = load()
    alerter = Alerter(settings, CommandContext(settings).db)
    if not alerter.enabled:
        raise UsageError("no alert channel is configured",
                         "add webhook_url and/or email_to to [alerts] (docs/configuration.md)")
    result = alerter.deliver(Alert("test", "test", "Test alert from vaultkeeper",
                                   detail="If you read this, alerts reach you.",
                                   severity="info"))
    if json_output:
        render.print_json(result)
    else:
        for channel, outcome in result.items():
            typer.echo(f"{channel}: {outcome}")
    if any(v != "sent" for v in result.values()):
        raise typer.Exit(int(ExitCode.ERROR))


def register(app: typer.Typer) -> None:
    """Add run, schedule and alerts."""
    app.command("run")(run)
    app.add_typer(schedule_app, name="schedule")
    app.add_typer(alerts_app, name="alerts")
