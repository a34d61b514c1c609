"""``vaultkeeper locations init|check``: create the repositories, report each location's health."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from vaultkeeper.cli import render
from vaultkeeper.cli.settings import load
from vaultkeeper.errors import ExitCode, StorageError
from vaultkeeper.restic import Restic
from vaultkeeper.storage.locations import preflight, resolve_locations

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
    settings = load()
    if settings.repository_password is None:
        raise StorageError("no repository password configured",
                           'set [repository] password = { file = "…" } (mode 0600)')
    results: list[dict[str, Any]] = []
    first: Restic | None = None
    for location in resolve_locations(settings):
        restic = Restic(location, settings.repository_password,
                        cache_dir=settings.state_dir / "cache", cwd=settings.base_dir)
        if first is None:
            restic.version()
        check = preflight(location)
        if location.offline and not check.present:
            results.append({"location": location.name, "result": "skipped",
                            "detail": "offline, not present"})
            continue
        if check.reachable is False:
            results.append({"location": location.name, "result": "failed",
                            "detail": "; ".join(check.notes) or "unreachable"})
            continue
        try:
            if restic.is_initialised():
                results.append({"location": location.name, "result": "exists", "detail": ""})
            else:
                restic.init(copy_chunker_params_from=first)
                results.append({"location": location.name, "result": "created",
                                "detail": "" if first is None else
                                f"chunker parameters of {first.location.name}"})
            first = first or restic
        except StorageError as exc:
            results.append({"location": location.name, "result": "failed",
                            "detail": exc.one_line()})
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
    settings = load()
    rows = []
    for location in resolve_locations(settings):
        pre = preflight(location)
        row: dict[str, Any] = {
            "location": location.name, "url": location.display_url, "kind": location.kind,
            "offline": location.offline, "append_only": location.append_only,
            "immutable": location.immutable, "present": pre.present,
            "reachable": pre.reachable, "credentials_ok": pre.credentials_ok,
            "versioning": pre.versioning, "object_lock": pre.object_lock,
            "repository": None, "problems": list(pre.notes)}
        if pre.reachable is not False and pre.present and settings.repository_password:
            try:
                restic = Restic(location, settings.repository_password,
                                cache_dir=settings.state_dir / "cache", cwd=settings.base_dir,
                                timeout=120)
                row["repository"] = "ok" if restic.is_initialised() else "missing"
                if row["repository"] == "missing":
                    row["problems"].append("no repository: run `vaultkeeper locations init`")
            except StorageError as exc:
                row["repository"] = "error"
                row["problems"].append(exc.one_line())
        elif not pre.present:
            row["problems"].append("offline location not present (fine for a removable disk)")
        rows.append(row)
    if json_output:
        render.print_json({"locations": rows})
    else:
        table = Table(title="Locations")
        for column in ("location", "url", "reachable", "repository", "object lock", "problems"):
            table.add_column(column)
        for r in rows:
            table.add_row(r["location"], r["url"], str(r["reachable"]), str(r["repository"]),
                          str(r["object_lock"] or "-"), "; ".join(r["problems"]))
        Console().print(table)
    bad = [r for r in rows if r["problems"] and not (r["offline"] and not r["present"])]
    if bad:
        raise typer.Exit(int(ExitCode.PARTIAL))


def register(app: typer.Typer) -> None:
    """Add the locations sub-app."""
    app.add_typer(locations_app, name="locations")
