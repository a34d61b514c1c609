"""``vaultkeeper emergency rehearse``: prove the package imports into a real, empty CRM."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from vaultkeeper.cli import render
from vaultkeeper.cli.settings import load
from vaultkeeper.errors import ExitCode, VaultkeeperError, VerificationError


def rehearse(
    package: Annotated[Path, typer.Argument(help="The package folder.", file_okay=False,
                                            exists=True)],
    into: Annotated[str, typer.Option(
        "--into", help="tryton:URL (password file in $TRYTONPASSFILE), sandbox:hubspot, "
                       "sandbox:salesforce (an empty built-in sandbox), or the NAME of a "
                       "[targets.NAME] section.")],
    mapping: Annotated[Path | None, typer.Option(
        "--mapping", help="Rehearsal mapping (TOML: [entity] field = \"destination\"); "
                          "default: the built-in one for the target.", dir_okay=False,
        exists=True)] = None,
    via: Annotated[str | None, typer.Option(
        "--via", help="HubSpot: import (the CSV imports API with the package's own "
                      "import/hubspot/ files; the default for packages built for HubSpot) or "
                      "api (batch writes of the canonical model).")] = None,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Folder for rehearsal.md and rehearsal.html (default: "
                         "<state_dir>/rehearsals/<id>/).", file_okay=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Import the package into an empty CRM the way an administrator would, export it back,
    and reconcile record by record and relation by relation (through the legacy ids).

    Exit 0 everything came back; 4 a field or relation was lost (each named, with its object).
    """
    # Lazy: the rehearsal services (~0.5 s of imports: loaders, targets) load only here.
    from vaultkeeper.services.rehearse.report import write_reports
    from vaultkeeper.services.rehearse.runner import rehearse as run
    from vaultkeeper.services.rehearse.targets import resolve_target

    try:
        settings: Any = load()
    except VaultkeeperError:
        settings = None   # a rehearsal needs no configuration (it is then not recorded)
    try:
        target = resolve_target(into, settings)
    except VaultkeeperError as exc:
        if not json_output:
            raise
        render.print_json({"ok": False, "result": "error", "error": exc.message,
                           "fix": exc.fix, "exit_code": int(exc.exit_code)})
        raise typer.Exit(int(exc.exit_code)) from None
    counts: dict[str, int] = {}
    show = sys.stderr.isatty() and not json_output

    def progress(what: str, n: int) -> None:
        counts[what] = counts.get(what, 0) + n
        if show:
            render.err_console.print(f"imported {what}: {counts[what]}", highlight=False,
                                     end="\r")

    try:
        if via is not None and via not in ("import", "api"):
            raise typer.BadParameter("choose import or api", param_hint="--via")
        result = run(package, target, settings, mapping_file=mapping, progress=progress,
                     via=via)
    except VaultkeeperError as exc:
        if not json_output:
            raise
        render.print_json({"ok": False, "result": "error", "error": exc.message,
                           "fix": exc.fix, "exit_code": int(exc.exit_code),
                           "package": str(package), "target": target.as_json()})
        render.err_console.print(f"Error: {exc.one_line()}", highlight=False)
        raise typer.Exit(int(exc.exit_code)) from None
    data = result.as_json()
    folder = report or (settings.state_dir / "rehearsals" / str(result.rehearsal_id or "last")
                        if settings is not None else package.parent / "rehearsal-report")
    md, html = write_reports(data, folder)
    data["report"] = {"markdown": str(md), "html": str(html)}
    if json_output:
        render.print_json(data)
        if not result.ok:
            raise typer.Exit(int(ExitCode.VERIFICATION))
        return
    _table(data)
    Console().print(f"report: {md} (and {html.name})")
    if not result.ok:
        lost = data["lost"]
        for line in lost[1:]:
            render.err_console.print(f"[red]Lost:[/] {line}", highlight=False)
        raise VerificationError(lost[0] if lost else "records were refused by the target",
                                "map the field to a destination the target keeps "
                                "(see the report), rebuild or re-rehearse")


def _table(data: dict[str, Any]) -> None:
    table = Table(title=f"Rehearsal into {data['target']['label']}: {data['result']}")
    for column in ("entity", "records", "back", "fields", "links", "lost"):
        table.add_column(column, justify="left" if column in ("entity", "lost") else "right")
    for entity, o in data["objects"].items():
        lost = ", ".join(x["field"] for x in o["lost"]) or "-"
        table.add_row(entity, str(o["records"]), str(o["imported"]),
                      str(len(o["fields_carried"])), str(sum(o["relations_linked"].values())),
                      lost)
    Console().print(table)
