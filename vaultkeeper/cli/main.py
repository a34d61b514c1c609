"""The ``vaultkeeper`` application: global options, sub-apps, and error → exit-code mapping."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from vaultkeeper import __version__
from vaultkeeper.cli import (
    PENDING,
    backup_cmd,
    config_cmd,
    drill_cmd,
    emergency_cmd,
    escrow_cmd,
    export_cmd,
    locations_cmd,
    privacy_cmd,
    processes_cmd,
    render,
    restore_cmd,
    risk_cmd,
    run_cmd,
    sandbox_cmd,
    state,
)
from vaultkeeper.db import storage_error
from vaultkeeper.errors import ExitCode, VaultkeeperError

app = typer.Typer(
    name="vaultkeeper",
    help=(
        "Keep your organisation able to walk away from its SaaS CRM: complete exports, "
        "encrypted backups in several places, restore drills, and an emergency exit.\n\n"
        "Start with `vaultkeeper init --demo` (built-in CRM sandbox) or `vaultkeeper init`."
    ),
    no_args_is_help=True,
    # We hold CRM tokens and repository keys: never print local variables in tracebacks.
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vaultkeeper {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c",
            help="Configuration file (default: $VAULTKEEPER_CONFIG, ./vaultkeeper.toml, "
                 "~/.config/vaultkeeper/vaultkeeper.toml).",
            dir_okay=False,
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks for unexpected errors.")
    ] = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    """Global options shared by every command."""
    state.options.config = config
    state.options.debug = debug


def _register() -> None:
    """Add every command group (each lives in its own module)."""
    config_cmd.register(app)
    sandbox_cmd.register(app)
    export_cmd.register(app)
    locations_cmd.register(app)
    backup_cmd.register(app)
    run_cmd.register(app)
    escrow_cmd.register(app)
    drill_cmd.register(app)
    processes_cmd.register(app)
    risk_cmd.register(app)
    emergency_cmd.register(app)
    restore_cmd.register(app)
    privacy_cmd.register(app)


_register()


# typer >= 0.29 vendors its own click; reach its ClickException through a public export.
_CLICK_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
_INTERRUPTED = "Interrupted: nothing was marked complete (an export left without manifest.json)."


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _wants_json(argv: list[str]) -> bool:
    """``--json`` given to the command (options after a lone ``--`` are arguments)."""
    return "--json" in argv[: argv.index("--")] if "--" in argv else "--json" in argv


def _fail(code: int, message: str, *, fix: str | None = None, kind: str = "error") -> None:
    """Exit with ``code``; under ``--json`` first print the one JSON object a script expects,
    unless the command already printed its own."""
    if _wants_json(sys.argv[1:]) and not state.options.json_printed:
        render.print_json({"ok": False, "exit_code": code, "error": message, "fix": fix,
                           "error_kind": kind})
    sys.exit(code)


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def run() -> None:
    """Console-script entry point: map expected errors to one line and an exit code; with
    ``--json`` every outcome prints exactly one JSON object on stdout.

    SIGTERM and SIGHUP unwind like Ctrl-C (clean-ups run, exit 130) instead of killing us
    mid-write; while restic runs they are forwarded to it first (see restic.proc.run_child).
    Once the exit code is known they are ignored: Python resets its handlers to the default
    while it shuts down (seconds on a loaded machine), and a stop request then must not turn a
    finished run — or a clean interruption — into a death by signal."""
    code: int | str | None = 0
    try:
        _run()
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:   # a second signal while the first was being reported
        code = int(ExitCode.INTERRUPTED)
    finally:
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        _forget_interrupt_inside_eval()
    sys.exit(code)


def _forget_interrupt_inside_eval() -> None:
    """Clear CPython's "KeyboardInterrupt went unhandled" mark once our exit code is known.

    CPython sets that mark whenever the code of a string passed to ``eval()``/``exec()`` ends
    in KeyboardInterrupt — even when an outer ``try`` handles it — and ``python -m`` then ends
    the process by SIGINT (exit -2) whatever its exit code. Typer ``eval()``s every command's
    string annotations while it builds the CLI (seconds on a loaded machine), so a SIGTERM
    then turned a cleanly reported interruption (exit 130) into a death by SIGINT. Each string
    ``eval()`` resets the mark before it runs: a trivial one clears it."""
    eval("None")  # noqa: S307 - a constant: only its side effect on the mark matters


def _run() -> None:
    """``run`` without its exit: every outcome ends in ``sys.exit``."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    try:
        if PENDING:   # a signal arrived while we were still importing
            raise KeyboardInterrupt(f"signal {PENDING[0]}")
        code = app(standalone_mode=False)
        if code == ExitCode.INTERRUPTED:  # typer turns Ctrl-C into a silent Exit(130)
            typer.echo(_INTERRUPTED, err=True)
            _fail(int(code), _INTERRUPTED, kind="interrupted")
        sys.exit(code if isinstance(code, int) else 0)
    except VaultkeeperError as exc:
        typer.echo(f"Error: {exc.one_line()}", err=True)
        _fail(int(exc.exit_code), exc.message, fix=exc.fix, kind=type(exc).__name__)
    except KeyboardInterrupt:
        typer.echo(_INTERRUPTED, err=True)
        _fail(int(ExitCode.INTERRUPTED), _INTERRUPTED, kind="interrupted")
    except typer.Exit as exc:
        if exc.exit_code:
            _fail(exc.exit_code, f"exited with code {exc.exit_code}")
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        _fail(int(ExitCode.ERROR), "aborted", kind="aborted")
    except _CLICK_ERROR as exc:  # usage errors: bad option values, unknown commands
        exc.show()  # type: ignore[attr-defined]
        _fail(int(exc.exit_code), exc.format_message(),  # type: ignore[attr-defined]
              kind="usage")
    except Exception as exc:  # a real bug, unless the local disk failed
        mapped = storage_error(exc)
        if mapped is not None:
            typer.echo(f"Error: {mapped.one_line()}", err=True)
            _fail(int(mapped.exit_code), mapped.message, fix=mapped.fix, kind="StorageError")
        if state.options.debug:
            raise
        text = (f"unexpected {type(exc).__name__}: {exc}. This is a bug in vaultkeeper; "
                "re-run with --debug for the traceback and report it.")
        typer.echo(f"Error: {text}", err=True)
        _fail(int(ExitCode.ERROR), text, kind="bug")
