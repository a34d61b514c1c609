"""``vaultkeeper escrow keys split|check|combine`` (trustee shares) and
``vaultkeeper escrow key add|list|revoke`` (the escrow agent's restic key)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from vaultkeeper.cli import render
from vaultkeeper.cli.render import JsonOption
from vaultkeeper.cli.settings import load
from vaultkeeper.errors import ExitCode, UsageError, VerificationError
from vaultkeeper.privatefs import write_private
from vaultkeeper.services.escrow.key import (
    DEFAULT_HOST,
    DEFAULT_USER,
    KeyOutcome,
    add_escrow_key,
    list_keys,
    new_password_file,
    parse_reference,
    revoke_escrow_key,
    verify_password,
)
from vaultkeeper.services.escrow.shares import (
    ParsedInput,
    ShareError,
    combine_shares,
    parse_input,
    share_info,
)
from vaultkeeper.services.escrow.sheets import make_trustee_sheets

escrow_app = typer.Typer(
    help="Escrow: trustee key shares and the escrow agent's own restic key.",
    no_args_is_help=True)
keys_app = typer.Typer(
    help="Trustee key shares: split the repository secret (SLIP-39), check a share, combine "
         "shares back into the secret.", no_args_is_help=True)
key_app = typer.Typer(
    help="The escrow restic key: a separate key in every repository that can be revoked "
         "without changing the organisation's.", no_args_is_help=True)
escrow_app.add_typer(keys_app, name="keys")
escrow_app.add_typer(key_app, name="key")

InputFiles = Annotated[list[Path] | None, typer.Argument(
    help="Sheet files (share-K-of-N.txt) or text files with one share per line; '-' or none "
         "reads standard input. Never put shares on the command line.",
    show_default=False, metavar="FILE")]


def _read_inputs(files: list[Path] | None) -> ParsedInput:
    texts: list[str] = []
    for path in files or [Path("-")]:
        if str(path) == "-":
            if sys.stdin.isatty():
                typer.echo("Type or paste one share per line (and the FORMAT line from a "
                           "sheet); finish with Ctrl-D.", err=True)
            texts.append(sys.stdin.read())
            continue
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}", "check the path") from None
        except UnicodeDecodeError:
            raise UsageError(f"{path} is not a text file",
                             "give the .txt sheet, not the .html or a scan") from None
    return parse_input(texts)


# ------------------------------------------------------------------------------ keys (shares)
@keys_app.command("split")
def split(
    threshold: Annotated[int, typer.Option("--threshold", "-m",
                                           help="How many shares recover the secret (M).")],
    shares: Annotated[int, typer.Option("--shares", "-n",
                                        help="How many shares to make, one per trustee (N, "
                                             "at most 16).")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="New or empty folder for the sheets (made 0700; default "
                      "./trustee-shares-DATE).", file_okay=False)] = None,
    org: Annotated[str, typer.Option("--org", help="Organisation named on the sheets.")] =
        "the organisation",
    print_shares: Annotated[bool, typer.Option(
        "--print", help="Also print the shares on stdout (secret material: only on a trusted "
                        "terminal).")] = False,
    json_output: JsonOption = False,
) -> None:
    """Split the repository password into N SLIP-39 shares, any M of which recover it.

    Writes share-K-of-N.txt and a printable share-K-of-N.html per trustee (0600 files in a
    0700 folder) with the organisation, date, share number, threshold and instructions. The
    secret itself is never printed. Make the shares on a trusted, preferably offline machine;
    print the sheets, hand them out, then delete the folder: it holds every share.
    """
    settings = load()
    folder = out or Path(f"trustee-shares-{datetime.now(UTC).date().isoformat()}")
    report = make_trustee_sheets(settings, threshold=threshold, shares=shares, out=folder,
                                 organisation=org)
    if json_output:
        render.print_json(report.as_json(with_shares=print_shares))
        return
    if print_shares:
        for mnemonic in report.split.mnemonics:
            info = share_info(mnemonic)
            typer.echo(f"share {info.number} of {shares}: {mnemonic}")
        typer.echo(f"format: {report.split.fmt.line()}")
    typer.echo(f"Wrote {len(report.files) // 2} trustee sheets (.txt and .html) to "
               f"{report.out}: set {report.split.set_id}, any {threshold} of {shares} recover "
               f"the key (format {report.split.fmt.kind}).", err=True)
    typer.echo("Print them, give one to each trustee, then delete the folder: it holds every "
               "share.", err=True)


@keys_app.command("check")
def check(files: InputFiles = None, json_output: JsonOption = False) -> None:
    """Check shares without revealing the secret: words, checksum, share number, threshold
    and set. Reads a sheet file or standard input (never argv). Exit 4 if a share is invalid.
    """
    found = _read_inputs(files)
    if not found.mnemonics:
        raise ShareError("no share found in the input",
                         "give the sheet's .txt file, or type the SHARE line's words")
    rows: list[dict[str, Any]] = []
    for position, mnemonic in enumerate(found.mnemonics, 1):
        try:
            rows.append({"input": position, "valid": True,
                         **share_info(mnemonic, label=f"share {position}").as_json()})
        except ShareError as exc:
            rows.append({"input": position, "valid": False, "error": exc.one_line()})
    valid = [r for r in rows if r["valid"]]
    sets = sorted({r["set_id"] for r in valid})
    fmt = found.fmt()
    data = {"shares": rows, "sets": sets,
            "format": fmt.kind if fmt else None,
            "distinct_shares": len({(r["set_id"], r["number"]) for r in valid}),
            "threshold": valid[0]["threshold"] if len(sets) == 1 else None}
    if json_output:
        render.print_json(data)
    else:
        for r in rows:
            if r["valid"]:
                typer.echo(f"share {r['input']}: valid — share number {r['number']}, any "
                           f"{r['threshold']} recover the key, set {r['set_id']} "
                           f"(starts \"{r['prefix']}\"), {r['words']} words")
            else:
                typer.echo(f"share {r['input']}: INVALID — {r['error']}")
        if fmt is not None:
            typer.echo(f"format line: valid ({fmt.kind})")
        if len(sets) > 1:
            typer.echo(f"WARNING: shares from {len(sets)} different sets ({', '.join(sets)})")
    if len(valid) != len(rows) or len(sets) > 1:
        raise typer.Exit(int(ExitCode.VERIFICATION))


def _write_secret_file(path: Path, password: str) -> Path:
    path = path.expanduser().absolute()
    if path.exists():
        raise UsageError(f"{path} already exists", "give a new file name (nothing is "
                         "overwritten)")
    if not path.parent.is_dir():
        raise UsageError(f"folder {path.parent} does not exist", "create it first")
    write_private(path, password + "\n", exclusive=True)
    return path


@keys_app.command("combine")
def combine(
    files: InputFiles = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the recovered secret to this new file (0600).", dir_okay=False)]
        = None,
    verify: Annotated[bool, typer.Option(
        "--verify", help="Check that the recovered secret opens every configured "
                         "repository.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Recover the repository secret from M shares of one set (sheet files or standard
    input: one share per line plus the FORMAT line). Too few, invalid or mixed shares are
    refused (exit 4), naming the problem. The secret is never printed: --out writes it to a
    0600 file, --verify opens the repositories with it (exit 4 if one rejects it).
    """
    if out is None and not verify:
        raise UsageError("nothing to do with the recovered secret",
                         "give --out FILE (written 0600) and/or --verify")
    if out is not None and out.expanduser().exists():
        raise UsageError(f"{out} already exists", "give a new file name (nothing is "
                         "overwritten)")
    found = _read_inputs(files)
    password = combine_shares(found.mnemonics, found.fmt())
    info = share_info(found.mnemonics[0])
    data: dict[str, Any] = {"set_id": info.set_id, "threshold": info.threshold,
                            "shares_given": len(found.mnemonics), "out": None, "verify": None}
    if out is not None:
        data["out"] = str(_write_secret_file(out, password))
    outcomes: list[KeyOutcome] = []
    if verify:
        outcomes = verify_password(load(), password)
        data["verify"] = [o.as_json() for o in outcomes]
    del password
    if json_output:
        render.print_json(data)
    else:
        typer.echo(f"recovered the secret of set {info.set_id} from "
                   f"{len(found.mnemonics)} shares", err=True)
        if data["out"]:
            typer.echo(f"written to {data['out']} (0600)", err=True)
        for o in outcomes:
            typer.echo(f"{o.location}: {o.result} {o.detail}".rstrip(), err=True)
    if any(o.result == "rejected" for o in outcomes):
        raise VerificationError("the recovered secret does not open "
                                + ", ".join(o.location for o in outcomes
                                            if o.result == "rejected"),
                                "these shares belong to an older password: use the newest set")
    if any(o.result in ("failed", "skipped") for o in outcomes):
        raise typer.Exit(int(ExitCode.PARTIAL))


# ------------------------------------------------------------------------------ key (restic)
def _outcome_table(title: str, outcomes: list[KeyOutcome]) -> None:
    table = Table(title=title)
    for column in ("location", "result", "key id", "detail"):
        table.add_column(column)
    for o in outcomes:
        table.add_row(o.location, o.result, o.key_id, o.detail)
    Console().print(table)


@key_app.command("add")
def add(
    out: Annotated[Path | None, typer.Option(
        "--out", help="Create a random escrow password in this new file (0600) and use it.",
        dir_okay=False)] = None,
    password: Annotated[str | None, typer.Option(
        "--password", help="Use an existing escrow password by reference: file:PATH (0600), "
                           "env:NAME or command:CMD — never the password itself.")] = None,
    user: Annotated[str, typer.Option(help="Label of the key (restic --user).")] =
        DEFAULT_USER,
    host: Annotated[str, typer.Option(help="Label of the key (restic --host).")] =
        DEFAULT_HOST,
    json_output: JsonOption = False,
) -> None:
    """Add the escrow agent's restic key to every repository and record its id per location.

    Idempotent: where the escrow password already opens a repository nothing is added (run it
    again after adding a location). restic reads the new password from a file
    (--new-password-file), never argv. Exit 3 if some location failed.
    """
    if (out is None) == (password is None):
        raise UsageError("give exactly one of --out FILE (new random password) or --password "
                         "REF (existing one)")
    settings = load()
    secret = new_password_file(out) if out is not None else parse_reference(str(password))
    outcomes = add_escrow_key(settings, secret, user=user, host=host)
    if json_output:
        render.print_json({"password_ref": secret.describe(),
                           "locations": [o.as_json() for o in outcomes]})
    else:
        _outcome_table(f"Escrow key {user}@{host} ({secret.describe()})", outcomes)
    if any(o.result in ("failed", "skipped") for o in outcomes):
        raise typer.Exit(int(ExitCode.PARTIAL))


@key_app.command("list")
def list_(json_output: JsonOption = False) -> None:
    """Every restic key per location: vaultkeeper's own, the recorded escrow keys, others."""
    report = list_keys(load())
    if json_output:
        render.print_json(report)
    else:
        table = Table(title="restic keys")
        for column in ("location", "id", "role", "user@host", "created", "password"):
            table.add_column(column)
        for loc in report["locations"]:
            if loc["error"]:
                table.add_row(loc["location"], "-", "error", loc["error"], "", "")
            for k in loc["keys"]:
                table.add_row(loc["location"], k["id"], k["role"], f"{k['user']}@{k['host']}",
                              k["created"], k["password_ref"])
        Console().print(table)
        for problem in report["problems"]:
            render.err_console.print(f"[yellow]Problem:[/] {problem}", highlight=False)
    if report["problems"] or any(loc["error"] for loc in report["locations"]):
        raise typer.Exit(int(ExitCode.PARTIAL))


@key_app.command("revoke")
def revoke(
    key_id: Annotated[str | None, typer.Argument(
        help="The key id to remove (see `escrow key list`); omit with --all.",
        show_default=False)] = None,
    all_keys: Annotated[bool, typer.Option(
        "--all", help="Remove every recorded escrow key.")] = False,
    location: Annotated[str | None, typer.Option(
        "--location", help="Only this location.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Remove the escrow key (restic key remove) so the agent's password opens nothing.

    The key vaultkeeper itself uses is refused before anything is removed. Exit 3 if some
    location failed.
    """
    if (key_id is None) == (not all_keys):
        raise UsageError("give a KEY_ID or --all (not both)",
                         "see the ids with `vaultkeeper escrow key list`")
    outcomes = revoke_escrow_key(load(), key_id, location_name=location)
    if json_output:
        render.print_json({"locations": [o.as_json() for o in outcomes]})
    else:
        _outcome_table("Escrow key revocation", outcomes)
    if key_id is not None and not any(o.result == "removed" for o in outcomes) and not any(
            o.result in ("failed", "skipped") for o in outcomes):
        raise UsageError(f"no key {key_id} in any repository",
                         "see the ids with `vaultkeeper escrow key list`")
    if any(o.result in ("failed", "skipped") for o in outcomes):
        raise typer.Exit(int(ExitCode.PARTIAL))


def register(app: typer.Typer) -> None:
    """Add the escrow sub-app (deposit/verify/release join it later)."""
    app.add_typer(escrow_app, name="escrow")


# ------------------------------------------------------------------- deposits (issue 7, 3–5)
# The deposit service is imported inside these commands: it pulls in the emergency package
# builder (~0.4 s of imports) that every other command starts faster without.
def _status(enabled: bool) -> Any:
    def say(text: str) -> None:
        if enabled:
            render.err_console.print(text, highlight=False)
    return say


@escrow_app.command("deposit")
def deposit_cmd(json_output: JsonOption = False) -> None:
    """Deposit the latest verified snapshot at the escrow agent: restic copy into the escrow
    repository ([escrow] url; created with the primary's chunker parameters, opened by the
    escrow key too) and a signed kit beside it (vaultkeeper wheel, restic version, RESTORE.md,
    policies and mapping docs, last drill report, inventory.json with SHA-256 of every file,
    signed Ed25519). Exit 1 when no snapshot has passed a drill yet; 7 storage.
    """
    # Lazy: the escrow services (~0.3-0.4 s of imports) load only here.
    from vaultkeeper.services.escrow.deposit import deposit
    from vaultkeeper.services.jobs import escrow_outcome, run_manual

    settings = load()
    # Counted like the scheduled escrow job: history, next refresh, the alerts it closes.
    result = run_manual(settings, "escrow", lambda alerter: escrow_outcome(
        alerter, deposit(settings, progress=_status(not json_output)))).data
    if json_output:
        render.print_json(result.as_json())
        return
    typer.echo(f"Deposited snapshot {result.snapshot_id[:12]} (verified by drill "
               f"{result.drill_id}) as {result.escrow_snapshot_id[:12]} in "
               f"{result.repository}; escrow key {result.key}.")
    typer.echo(f"Kit: {result.kit} ({len(result.files)} files, signing key "
               f"{result.fingerprint[:16]}…); release conditions: "
               f"{', '.join(result.release_conditions)}.")
    for note in result.notes:
        typer.echo(f"note: {note}")


@escrow_app.command("verify")
def verify_cmd(
    level: Annotated[int, typer.Option("--level", min=1, max=3, help=(
        "1: kit complete, checksums and signature valid, escrow key present; 2: also restic "
        "check --read-data with the escrow key; 3: also a clean venv with the deposited wheel "
        "restores, drills and builds the emergency package (minutes)."))] = 1,
    json_output: JsonOption = False,
) -> None:
    """Verify the escrow deposit at level 1, 2 or 3 (each includes the lower ones). The report
    says what was verified, at which level and when, and is kept in the state database.
    Exit 4 when a check fails (naming the file or the problem).
    """
    # Lazy: the escrow services (~0.3-0.4 s of imports) load only here.
    from vaultkeeper.services.escrow.verify import verify

    settings = load()
    report = verify(settings, level, progress=_status(not json_output))
    data = report.as_json()
    if json_output:
        render.print_json(data)
    else:
        table = Table(title=f"Escrow deposit {data['deposit_created']} — level {level}, "
                            f"{data['started_at']}")
        for column in ("level", "check", "ok", "detail"):
            table.add_column(column)
        for c in data["checks"]:
            table.add_row(str(c["level"]), c["name"], "yes" if c["ok"] else "NO", c["detail"])
        Console().print(table)
        typer.echo(f"result: {report.result} (level {level})")
    if report.result != "verified":
        raise VerificationError("the escrow deposit failed verification: "
                                + "; ".join(report.problems[:3]),
                                "make a new deposit with `vaultkeeper escrow deposit`")


@escrow_app.command("release")
def release_cmd(
    out: Annotated[Path, typer.Option("--out", help="New or empty folder for the emergency "
                                                    "package.", file_okay=False)],
    files: InputFiles = None,
    password: Annotated[str | None, typer.Option(
        "--password", help="The escrow key's password as a reference: file:PATH, env:NAME or "
                           "command:CMD (instead of trustee shares).")] = None,
    target: Annotated[str | None, typer.Option(help="Import format of the package.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Release the deposit: open the escrow repository with M trustee shares (sheet files or
    standard input, as in `escrow keys combine`) or the escrow key password, restore the
    deposited snapshot and build the emergency package into --out. Exit 4 when the shares or
    password do not open the repository.
    """
    # Lazy: the escrow services (~0.3-0.4 s of imports) load only here.
    from vaultkeeper.services.escrow.release import release

    settings = load()
    secret = parse_reference(password) if password else None
    recovered: str | None = None
    if secret is None:
        found = _read_inputs(files)
        recovered = combine_shares(found.mnemonics, found.fmt())
    result, kit = release(settings, out, password=recovered, secret=secret, target=target,
                          progress=_status(not json_output))
    data = {"out": str(out), "snapshot_id": kit.snapshot_id, "kit_checks": kit.as_json(),
            "package": result.as_json()}
    if json_output:
        render.print_json(data)
    else:
        typer.echo(f"Released snapshot {kit.snapshot_id[:12]}: emergency package in {out} "
                   f"({sum(result.as_json()['counts'].values())} records).")
        for problem in kit.problems:
            typer.echo(f"kit warning: {problem}")
    if not result.valid:
        raise VerificationError("the package does not validate: "
                                + "; ".join(result.validation_errors[:3]),
                                "see quality/report.json")
