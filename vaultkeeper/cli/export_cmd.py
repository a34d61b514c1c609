"""``vaultkeeper export``: parse options → run the export service → render the summary."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from vaultkeeper.cli import render
from vaultkeeper.cli.settings import load
from vaultkeeper.connectors import open_connector
from vaultkeeper.errors import ExitCode, UsageError, VaultkeeperError
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.export import run_export
from vaultkeeper.services.processes import priority_order


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


def export(
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Directory to write the export into (created 0700). "
                            "Default: [paths] export_dir from the configuration.",
        file_okay=False)] = None,
    objects: Annotated[str | None, typer.Option(
        help="Comma-separated objects to export, in this order (default: every object, "
             "those of the best-ranked business processes first).")] = None,
    exclude: Annotated[str | None, typer.Option(
        help="Comma-separated objects to leave out (listed in the manifest).")] = None,
    overwrite: Annotated[bool, typer.Option(
        help="Replace an earlier export in --out (its manifest is removed first).")] = False,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print a JSON summary on stdout instead of a table.")] = False,
) -> None:
    """Export every object of the source into NDJSON files plus manifest.json.

    Records are written exactly as the vendor returned them (one JSON object per line), archived
    and deleted records included. Associations go to relations/, records that cannot be parsed to
    quarantine/ (kept raw and counted). manifest.json is written last: a directory without it is
    an unfinished export. Exit 0 complete, 3 finished but incomplete (see problems), 5 bad
    configuration, 6 the source failed.
    """
    overrides: dict[str, Any] = {}
    if objects:
        overrides["source.objects"] = _split(objects)
    if exclude:
        overrides["source.exclude"] = _split(exclude)
    settings = load(overrides)
    target = out or settings.export_dir
    if target is None:
        raise UsageError("no output directory", "pass --out DIR or set [paths] export_dir")
    # Business processes decide what is saved first, unless --objects gives the order.
    priority = () if objects else priority_order(CommandContext(settings).policies.processes)
    observer = render.ExportProgress(enabled=sys.stderr.isatty() and not json_output)
    try:
        with open_connector(settings.source) as connector, observer:
            manifest = run_export(connector, target, objects=settings.source.objects,
                                  exclude=settings.source.exclude, overwrite=overwrite,
                                  observer=observer, priority=priority,
                                  files=settings.source.files)
    except VaultkeeperError as exc:
        if not isinstance(exc, UsageError):
            exc.message = f"{exc.message.rstrip('.')} (export not finished: {target} has no " \
                          "manifest.json and must not be used)"
        raise
    summary = render.export_summary(manifest, target)
    if json_output:
        render.print_json(summary)
    else:
        render.export_table(summary)
    if manifest["status"] != "complete":
        raise typer.Exit(int(ExitCode.PARTIAL))


def register(app: typer.Typer) -> None:
    """Add the export command."""
    app.command("export")(export)
