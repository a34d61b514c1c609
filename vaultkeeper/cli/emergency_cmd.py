"""``vaultkeeper emergency`` (build, verify) and ``vaultkeeper mirror serve``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vaultkeeper.canonical import load_canonical
from vaultkeeper.cli import render
from vaultkeeper.cli.drill_cmd import mirror_app
from vaultkeeper.cli.rehearse_cmd import rehearse
from vaultkeeper.cli.render import JsonOption
from vaultkeeper.cli.settings import load
from vaultkeeper.config import EMERGENCY_TARGETS
from vaultkeeper.errors import ExitCode, VaultkeeperError, VerificationError
from vaultkeeper.policies import load_policies
from vaultkeeper.services.emergency.verify import verify_package
from vaultkeeper.services.mirror_view import mapping_for, mirror_path, serve_mirror
from vaultkeeper.services.privacy.roles import role_fields

# The emergency services (phonenumbers, rapidfuzz, frictionless …) are imported inside the
# commands: every other command starts faster without them.

emergency_app = typer.Typer(no_args_is_help=False)


def _progress(*, enabled: bool, quiet: bool) -> Any:
    """Notes on stderr; one bar per stage of the build."""
    # Lazy: the package builder and its libraries load only for the emergency commands.
    from vaultkeeper.services.emergency.runner import EmergencyObserver

    class _Progress(EmergencyObserver):
        """Notes on stderr; one bar per stage of the build."""

        def __init__(self, *, enabled: bool, quiet: bool) -> None:
            self.enabled = enabled
            self.quiet = quiet
            self._stage = Progress(TextColumn("{task.description:<32}"), BarColumn(),
                                   MofNCompleteColumn(), TimeElapsedColumn(),
                                   console=render.err_console, disable=not enabled)
            self._task: Any = None

        def note(self, text: str, *, loud: bool = False) -> None:
            if loud:
                render.err_console.print(f"[bold red]WARNING:[/] [bold]{text}[/]",
                                         highlight=False)
            elif not self.quiet:
                render.err_console.print(text, highlight=False)

        def stage(self, name: str, total: int | None) -> None:
            if not self.enabled:
                return
            if self._task is None:
                self._stage.start()
            else:
                self._stage.update(self._task, completed=self._stage.tasks[-1].total or 0)
            self._task = self._stage.add_task(name, total=total)

        def advance(self, records: int) -> None:
            if self.enabled and self._task is not None:
                self._stage.advance(self._task, records)

        def close(self) -> None:
            if self.enabled and self._task is not None:
                self._stage.stop()

    return _Progress(enabled=enabled, quiet=quiet)


@emergency_app.callback(invoke_without_command=True)
def emergency(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="New or empty folder for the package (created 0700).",
        file_okay=False)] = None,
    from_: Annotated[str, typer.Option(
        "--from", help="latest-verified (the newest snapshot that passed a drill) or a "
                       "snapshot id.")] = "latest-verified",
    fresh: Annotated[bool, typer.Option(
        "--fresh", help="Try a live export first; fall back to the snapshot if it fails.")
    ] = False,
    target: Annotated[str | None, typer.Option(
        help="Import files for: generic, hubspot or salesforce (default: [emergency] "
             "target).")] = None,
    encrypt_to: Annotated[list[str] | None, typer.Option(
        "--encrypt-to", help="age recipient (age1…, an SSH public key, or a file of them); "
                             "the package is then written only as an encrypted archive. "
                             "Repeatable.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Build the ready-to-migrate package: CSV per object with legacy ids and relations
    (a validated Frictionless Data Package), the canonical model, import files for the target,
    a data-quality report, a runbook, a sample set, SHA256SUMS and an Ed25519-signed manifest.

    By default it restores the newest snapshot that passed a restore drill (without one, the
    newest snapshot, with a loud warning). Exit 0 built and valid; 4 the package failed
    validation; 6/7 the CRM or the locations failed.
    """
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        raise typer.BadParameter("--out is required", param_hint="--out")
    if target is not None and target not in EMERGENCY_TARGETS:
        raise typer.BadParameter(f"choose one of {', '.join(EMERGENCY_TARGETS)}",
                                 param_hint="--target")
    # Lazy: the package builder and its libraries load only for this command.
    from vaultkeeper.services.emergency.runner import run_emergency

    settings = load()
    observer = _progress(enabled=sys.stderr.isatty() and not json_output, quiet=json_output)
    try:
        result = run_emergency(settings, out, source=from_, fresh=fresh, target=target,
                               encrypt_to=encrypt_to or (), observer=observer)
    finally:
        observer.close()
    if json_output:
        render.print_json(result.as_json())
    else:
        _summary(result.as_json())
    if not result.valid:
        raise VerificationError("the package does not validate: "
                                + "; ".join(result.validation_errors[:3]),
                                "see quality/report.json; report this as a bug")


def _summary(data: dict[str, Any]) -> None:
    console = Console()
    table = render.object_table(("object", "records", "in sample"), title=f"Emergency package "
                                f"{data['out']} — target {data['target']}")
    for name, n in data["counts"].items():
        table.add_row(name, str(n), str(data["sample"].get(name, 0)))
    console.print(table)
    ent = ", ".join(f"{k} {v.get('rows', 0)}" for k, v in data["entities"].items())
    if ent:
        console.print(f"canonical model: {ent}")
    console.print(f"duplicate candidates to review: {data['duplicate_candidates']}")
    placement = data.get("placement") or {}
    if placement:
        placed = sum(sum(o["files"].values()) for o in placement["objects"].values())
        console.print(f"records in import files: {placed}; not imported (listed gaps): "
                      f"{placement['gap_records']} (RUNBOOK.md, 'Where every record goes')")
        for gap in placement["gaps"]:
            console.print(f"  gap: {gap['object']} {gap['records']} — {gap['reason']}")
    mapping = data.get("mapping") or {}
    if mapping.get("source") == "inferred":
        low = [(f"{e}.{f}", v["confidence"]) for e, ent in mapping["entities"].items()
               for f, v in ent["fields"].items() if v["confidence"] < 0.7]
        console.print("canonical mapping: INFERRED from the columns (no mapping file); "
                      + (f"check {', '.join(n for n, _ in low)}" if low else
                         "every field ≥ 0.70 confidence")
                      + " — `vaultkeeper emergency mapping suggest` writes it to correct")
    elif mapping.get("source"):
        console.print(f"canonical mapping: {mapping['source']}")
    console.print(f"frictionless: {'valid' if data['valid'] else 'INVALID'}; signing key "
                  f"fingerprint {data['signing_key_fingerprint']}")
    if data["archive"]:
        console.print(f"encrypted archive: {data['archive']}")
    for warning in data["warnings"]:
        render.err_console.print(f"[yellow]Warning:[/] {warning}", highlight=False)


@emergency_app.command("verify")
def verify(
    directory: Annotated[Path, typer.Argument(help="The package folder.", file_okay=False,
                                              exists=True)],
    public_key: Annotated[Path | None, typer.Option(
        "--public-key", help="Require this signing key (the signing-key.pub you received out "
                             "of band).", dir_okay=False, exists=True)] = None,
    json_output: JsonOption = False,
) -> None:
    """Re-check a package: every checksum, the Ed25519 signature of package.json, the data
    package against its schema (frictionless), and CSV row counts against the snapshot's
    export manifest. Exit 0 all good, 4 a check failed (each problem names the file).
    """
    report = verify_package(directory, public_key=public_key)
    if json_output:
        render.print_json(report.as_json())
    else:
        table = Table(title=f"Verify {directory}")
        table.add_column("check")
        table.add_column("result")
        for check, result in report.checks.items():
            table.add_row(check, result)
        console = Console()
        console.print(table)
        if report.pinned:
            console.print(f"signing key {report.fingerprint} (pinned)", highlight=False)
        else:
            console.print(f"signing key {report.fingerprint}, read from the package: compare it "
                          "with the fingerprint you received out of band", highlight=False)
        for problem in report.problems:
            render.err_console.print(f"[red]Problem:[/] {problem}", highlight=False)
    if not report.ok:
        if json_output:
            raise typer.Exit(int(ExitCode.VERIFICATION))
        raise VerificationError(f"{len(report.problems)} problem(s): {report.problems[0]}",
                                "do not use this package; build a new one or get the original")


mapping_app = typer.Typer(no_args_is_help=True, help="The canonical mapping of the export: "
                                                     "infer it for a vendor's CSV dump.")
emergency_app.add_typer(mapping_app, name="mapping")


@mapping_app.command("suggest")
def mapping_suggest(
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="File to write (default: policies/mappings/<connector>.toml, "
                            "which the package then uses).", dir_okay=False)] = None,
    from_: Annotated[str, typer.Option(
        "--from", help="latest-verified (the newest snapshot that passed a drill) or a "
                       "snapshot id.")] = "latest-verified",
    fresh: Annotated[bool, typer.Option(
        "--fresh", help="Export the source now (e.g. the CSV delivery) instead of restoring "
                        "a snapshot; falls back to the snapshot if it fails.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Infer the canonical mapping (person, organisation, membership, donation, activity)
    from the export's column names (Dutch, English, French, German, Finnish synonyms) and
    values (e-mails, phones, postcodes, dates, ids), with the relations between files, and
    write it as a commented TOML file: every field with its confidence and evidence, for you
    to correct. Exit 0 written; 2 the file exists (use --force or --out); 6/7 source or
    locations failed.
    """
    # Lazy: the inference and package libraries load only for this command.
    from vaultkeeper.services.emergency.runner import suggest_mapping

    settings = load()
    observer = _progress(enabled=sys.stderr.isatty() and not json_output, quiet=json_output)
    try:
        result = suggest_mapping(settings, out, source=from_, fresh=fresh, force=force,
                                 observer=observer)
    except VaultkeeperError as exc:
        if json_output:
            render.print_json({"ok": False, "error": exc.one_line(),
                               "exit_code": int(exc.exit_code)})
        raise
    finally:
        observer.close()
    data = {"ok": True} | result.as_json()
    if json_output:
        render.print_json(data)
        return
    table = Table(title=f"Inferred mapping → {data['file']}")
    for column in ("entity", "field", "source", "confidence"):
        table.add_column(column, justify="right" if column == "confidence" else "left")
    for entity, info in data["entities"].items():
        for name, fg in info["fields"].items():
            table.add_row(f"{entity} ({info['object']})", name, fg["source"],
                          f"{fg['confidence']:.2f}")
    Console().print(table)
    for rel in data["relations"]:
        Console().print(f"relation: {rel['from']}.{rel['column']} → {rel['to']} "
                        f"({rel['share']:.0%} of sampled values are its ids)")
    Console().print("Check the file (low confidences are marked CHECK), correct it, and build "
                    "the package: `vaultkeeper emergency --out DIR`.")


def serve(
    db: Annotated[Path | None, typer.Option(
        "--db", help="SQLite file (default: the drill's <state_dir>/mirror/mirror.db).",
        dir_okay=False)] = None,
    host: Annotated[str, typer.Option(help="Address to bind (no login: keep it local).")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8001,
    role: Annotated[str | None, typer.Option(
        "--role", help="Serve only what this role may read ([roles.NAME] in "
                       "policies/privacy.toml): its fields, sensitive columns masked, no raw "
                       "mirror.")] = None,
) -> None:
    """Serve a read-only web view of the mirror (Datasette, immutable) for looking people up
    while the CRM is unavailable. Stop with Ctrl-C.
    """
    settings = load() if db is None or role is not None else None
    path = db or mirror_path(settings.state_dir)   # type: ignore[union-attr]
    mappings = load_canonical(settings.policies_dir if settings else None)
    fields = None
    if role is not None and settings is not None:
        fields = role_fields(load_policies(settings.policies_dir),
                             mapping_for(path, mappings), role)
    if host not in ("127.0.0.1", "localhost", "::1"):
        render.err_console.print(f"[bold red]WARNING:[/] serving on {host} without a login: "
                                 "anyone who can reach it can read the CRM data",
                                 highlight=False)
    render.err_console.print(f"Read-only mirror of {path} on http://{host}:{port}/ "
                             "(Ctrl-C stops it)", highlight=False)
    serve_mirror(path, host=host, port=port, mappings=mappings, fields=fields,
                 include_raw=role is None,
                 work_dir=settings.state_dir if settings else None)


def register(app: typer.Typer) -> None:
    """Add ``emergency`` (with ``verify``) and ``serve`` to the drill module's ``mirror``."""
    emergency_app.command("rehearse")(rehearse)
    app.add_typer(emergency_app, name="emergency")
    mirror_app.command("serve")(serve)
