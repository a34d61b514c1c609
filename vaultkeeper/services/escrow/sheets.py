"""Trustee sheets: one text file and one printable, self-contained HTML page per share.

Written 0600 into a 0700 folder that must be new or empty (two sets of shares in one folder
would invite mixing them).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from vaultkeeper.config import Settings
from vaultkeeper.db import escrow as escrowdb
from vaultkeeper.errors import UsageError
from vaultkeeper.privatefs import write_private
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.escrow.shares import (
    SEAL_AAD,
    SecretFormat,
    SplitResult,
    share_info,
    split_secret,
    validate_scheme,
)

WORD_COLUMNS = 3


@dataclass(frozen=True)
class Sheet:
    """What one trustee's sheet says (the words are secret)."""

    organisation: str
    created: date
    number: int
    shares: int
    threshold: int
    set_id: str
    prefix: str
    mnemonic: str
    format_line: str


def recovery_recipe(fmt: SecretFormat) -> list[str]:
    """Shell lines that turn ``shamir recover``'s hex (in ``$S``) into the password.

    Needs only bash, xxd and base64 (and python3 with ``cryptography`` for SEALED); the format
    line goes in ``$F``. Environment variables, not arguments: ``ps`` shows arguments.
    """
    decode = {
        "HEX": 'printf "%s\\n" "$S"',
        "B64URL": "printf %s \"$S\" | xxd -r -p | base64 -w0 | tr '+/' '-_' | tr -d '='; echo",
        "B64": 'printf %s "$S" | xxd -r -p | base64 -w0; echo',
        "TEXT": 'printf %s "$S" | xxd -r -p | tail -c +2 | head -c "$((16#${S:0:2}))"; echo',
        "SEALED": (
            "F='" + fmt.line() + "' python3 -c 'import base64, os; "
            "from cryptography.hazmat.primitives.ciphers.aead import AESGCM; "
            "b = os.environ[\"F\"].upper().split(\"SEALED\")[1].replace(\"-\", \"\"); "
            "b = base64.b32decode(b + \"=\" * (-len(b) % 8)); "
            "print(AESGCM(bytes.fromhex(os.environ[\"S\"])).decrypt(b[:12], b[12:], "
            f"b\"{SEAL_AAD.decode()}\").decode())'"),
    }[fmt.kind]
    return [
        'pip install "shamir-mnemonic[cli]"     # the SLIP-39 reference tool',
        "shamir recover                          # type the shares; it prints the master secret",
        "read -rs S                              # paste that hex (not shown), then Enter",
        "export S",
        f"{decode}   # prints the repository password",
    ]


def _instructions(sheet: Sheet) -> list[tuple[str, list[str]]]:
    m, n, org = sheet.threshold, sheet.shares, sheet.organisation
    alone = ("This sheet alone reveals nothing about the key." if m > 1 else
             "This is the only share: it unlocks the backups on its own. Guard it like the key.")
    return [
        ("What this is", [
            f"{org} keeps encrypted backups of its CRM (member, donor and customer data).",
            f"The key that unlocks them was split into {n} shares for {n} trustees.",
            f"Any {m} of the {n} shares together recover the key. {alone}",
        ]),
        ("How to keep it", [
            "Keep this sheet on paper, in a safe place: a safe, a sealed envelope, a bank box.",
            "Do not photograph, scan, e-mail or copy it. Never type the words into a website.",
            "Tell nobody the words. Nobody from the organisation will ever ask for them by "
            "phone or e-mail.",
            f"If the sheet is lost or someone else may have seen it, tell {org} at once: they "
            "will change the key and hand out new sheets.",
        ]),
        ("How to check it (for example once a year)", [
            "On a computer the organisation trusts (the administrator can set it up), run",
            "    vaultkeeper escrow keys check",
            "and type the words of the SHARE line yourself (one line), then Enter and Ctrl-D.",
            "It says whether the share is valid, its number and its set; it never shows the key.",
        ]),
        ("When to use it", [
            f"Only when the conditions agreed with {org} apply (for example: nobody can reach "
            "the administrator, or the CRM vendor has failed) and together with other trustees.",
            f"Bring this sheet to the person doing the recovery; {m} sheets are needed.",
        ]),
        ("How the key is recovered (for the person doing it)", [
            "With vaultkeeper: vaultkeeper escrow keys combine sheet-a.txt sheet-b.txt … "
            "--out repository.key",
            "(or type one SHARE line per trustee plus the FORMAT line on standard input).",
            "Without vaultkeeper, on a trusted offline computer with bash:",
        ]),
    ]


def render_text(sheet: Sheet) -> str:
    """The plain-text sheet (also machine-readable: ``SHARE:`` and ``FORMAT:`` lines)."""
    words = sheet.mnemonic.split()
    rows = (len(words) + WORD_COLUMNS - 1) // WORD_COLUMNS
    grid = []
    for r in range(rows):
        cells = [f"{i + 1:>2}. {words[i]:<10}" for i in range(r, len(words), rows)]
        grid.append("    " + "   ".join(cells).rstrip())
    out = [
        "VAULTKEEPER TRUSTEE KEY SHARE - SECRET, KEEP PRIVATE",
        "=" * 52,
        f"Organisation : {sheet.organisation}",
        f"Created      : {sheet.created.isoformat()}",
        f"Share        : {sheet.number} of {sheet.shares}",
        f"Threshold    : any {sheet.threshold} of the {sheet.shares} shares recover the key",
        f"Set id       : {sheet.set_id} (every share of this set starts with "
        f"\"{sheet.prefix}\")",
        "",
        f"Your {len(words)} share words, in order:",
        *grid,
        "",
        "The same words on one line, and the format line (both needed by the recovery):",
        f"SHARE: {sheet.mnemonic}",
        f"FORMAT: {sheet.format_line}",
        "",
    ]
    for title, lines in _instructions(sheet):
        out += [title, "-" * len(title), *lines, ""]
    out += ["    " + line for line in recovery_recipe(SecretFormat.parse(sheet.format_line))]
    out += ["", "Full procedure: docs/escrow.md in the vaultkeeper package.", ""]
    return "\n".join(out)


_CSS = """
body { font-family: Georgia, 'Times New Roman', serif; max-width: 46em; margin: 2em auto;
       color: #000; background: #fff; line-height: 1.4; }
h1 { font-size: 1.4em; border-bottom: 3px double #000; padding-bottom: .2em; }
.secret { color: #a00; font-weight: bold; }
table.facts td { padding: .1em .8em .1em 0; vertical-align: top; }
table.words { border-collapse: collapse; margin: .6em 0; }
table.words td { border: 1px solid #555; padding: .3em .7em; font-family: 'DejaVu Sans Mono',
                 monospace; font-size: 1.1em; }
table.words td span { color: #666; font-size: .8em; margin-right: .4em; }
.line { font-family: monospace; overflow-wrap: anywhere; border: 1px dashed #555;
        padding: .4em; font-size: .9em; }
.line .w { white-space: nowrap; }
pre { white-space: pre-wrap; font-size: .8em; background: #f4f4f4; padding: .5em; }
h2 { font-size: 1.05em; margin-bottom: .2em; }


@media print { body { margin: 0; max-width: none; } pre { background: none; } }
"""


def render_html(sheet: Sheet) -> str:
    """A printable page with no external resources (no scripts, fonts or images)."""
    e = html.escape
    words = sheet.mnemonic.split()
    rows = (len(words) + WORD_COLUMNS - 1) // WORD_COLUMNS
    grid = "".join(
        "<tr>" + "".join(f"<td><span>{i + 1}.</span>{e(words[i])}</td>"
                         for i in range(r, len(words), rows)) + "</tr>"
        for r in range(rows))
    facts = [("Organisation", sheet.organisation), ("Created", sheet.created.isoformat()),
             ("Share", f"{sheet.number} of {sheet.shares}"),
             ("Threshold", f"any {sheet.threshold} of the {sheet.shares} shares recover the key"),
             ("Set id", f"{sheet.set_id} (every share of this set starts with "
                        f"“{sheet.prefix}”)")]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="robots" content="noindex">',
        f"<title>Trustee key share {sheet.number} of {sheet.shares} — "
        f"{e(sheet.organisation)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Trustee key share {sheet.number} of {sheet.shares} "
        '<span class="secret">— secret, keep private</span></h1>',
        '<table class="facts">' + "".join(f"<tr><td><b>{k}</b></td><td>{e(v)}</td></tr>"
                                          for k, v in facts) + "</table>",
        f"<h2>Your {len(words)} share words, in order</h2>",
        f'<table class="words">{grid}</table>',
        "<p>The same words on one line, and the format line (both needed by the recovery):</p>",
        # Each word whole on its line: a word split across two lines gets copied wrong.
        '<p class="line">SHARE: ' + " ".join(f'<span class="w">{e(w)}</span>' for w in words)
        + "</p>",
        f'<p class="line">FORMAT: {e(sheet.format_line)}</p>',
    ]
    for title, lines in _instructions(sheet):
        parts.append(f"<h2>{e(title)}</h2>")
        parts.append("<p>" + "<br>".join(e(line).replace("    ", "&nbsp;" * 4)
                                         for line in lines) + "</p>")
    recipe = recovery_recipe(SecretFormat.parse(sheet.format_line))
    parts.append("<pre>" + e("\n".join(recipe)) + "</pre>")
    parts.append("<p>Full procedure: docs/escrow.md in the vaultkeeper package.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def prepare_folder(out: Path) -> Path:
    """A new or empty folder, made 0700 (refuses one that holds anything)."""
    out = out.expanduser().absolute()
    if out.exists():
        if not out.is_dir():
            raise UsageError(f"--out {out} is a file", "give a new folder")
        if any(out.iterdir()):
            raise UsageError(f"--out {out} is not empty",
                             "give a new folder: sheets of two sets in one place invite mixing "
                             "them up")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    out.chmod(0o700)
    return out


def _write_private(path: Path, text: str) -> None:
    write_private(path, text, exclusive=True)


def write_sheets(out: Path, split: SplitResult, organisation: str,
                 created: date) -> list[Path]:
    """One ``share-K-of-N.txt`` and ``.html`` per trustee; returns the paths."""
    folder = prepare_folder(out)
    written: list[Path] = []
    for mnemonic in split.mnemonics:
        number = share_info(mnemonic).number
        sheet = Sheet(organisation, created, number, split.shares, split.threshold,
                      split.set_id, split.prefix, mnemonic, split.fmt.line())
        stem = folder / f"share-{number}-of-{split.shares}"
        for suffix, text in ((".txt", render_text(sheet)), (".html", render_html(sheet))):
            path = stem.with_suffix(suffix)
            _write_private(path, text)
            written.append(path)
    return written


@dataclass
class SplitReport:
    """What ``escrow keys split`` did (no secret except the mnemonics, kept for --print)."""

    split: SplitResult
    organisation: str
    created: date
    out: Path
    files: list[Path]

    def as_json(self, *, with_shares: bool = False) -> dict[str, object]:
        """The ``--json`` shape; the shares only when asked for."""
        data: dict[str, object] = {
            "set_id": self.split.set_id, "threshold": self.split.threshold,
            "shares": self.split.shares, "format": self.split.fmt.kind,
            "format_line": self.split.fmt.line(), "prefix": self.split.prefix,
            "organisation": self.organisation, "created": self.created.isoformat(),
            "out": str(self.out), "files": [str(p) for p in self.files]}
        if with_shares:
            data["mnemonics"] = list(self.split.mnemonics)
        return data


def make_trustee_sheets(settings: Settings, *, threshold: int, shares: int, out: Path,
                        organisation: str) -> SplitReport:
    """Split the repository password and write the sheets; record the set (not the secret)."""
    ctx = CommandContext(settings)
    password = ctx.password
    validate_scheme(threshold, shares)
    prepare_folder(out)  # fail before any secret is read
    split = split_secret(password.reveal(), threshold, shares)
    created = datetime.now(UTC).date()
    files = write_sheets(out, split, organisation, created)
    escrowdb.record_share_set(ctx.db, set_id=split.set_id,
                              threshold=threshold, shares=shares, fmt=split.fmt.kind,
                              organisation=organisation, out_dir=str(out.expanduser().absolute()))
    return SplitReport(split, organisation, created, out.expanduser().absolute(), files)
