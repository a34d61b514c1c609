"""`vaultkeeper escrow keys split|check|combine` through the real CLI: sheets, file modes,
recovery with vaultkeeper and with the SLIP-39 reference tool alone, secrets never printed."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from vk_backup import FAKE_SECRET, make_config, vk, vk_json


def vk_in(config: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None,
          ) -> subprocess.CompletedProcess[str]:
    """The CLI with text on standard input."""
    return subprocess.run([sys.executable, "-m", "vaultkeeper", "--config", str(config), *args],
                          input=stdin, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, **(env or {})))


def share_line(sheet: Path) -> str:
    return next(line for line in sheet.read_text().splitlines() if line.startswith("SHARE: "))


def format_line(sheet: Path) -> str:
    return next(line for line in sheet.read_text().splitlines() if line.startswith("FORMAT: "))


def with_key(tmp_path: Path, password: str) -> Path:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir(mode=0o700)
    key = secrets_dir / "repository.key"
    key.write_text(password + "\n")
    key.chmod(0o600)
    return make_config(tmp_path)


def test_split_writes_private_sheets_and_never_prints_the_secret(tmp_path):
    config = make_config(tmp_path)
    out = tmp_path / "sheets"
    result = vk(config, "escrow", "keys", "split", "--threshold", "3", "--shares", "5",
                "--org", "Friends of <the> Park", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["threshold"] == 3 and report["shares"] == 5 and report["format"] == "TEXT"
    assert "mnemonics" not in report
    assert stat_mode(out) == 0o700
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"share-{k}-of-5.{ext}" for k in range(1, 6)
                            for ext in ("txt", "html")])
    assert all(stat_mode(p) == 0o600 for p in out.iterdir())
    today = datetime.now(UTC).date().isoformat()
    shares = set()
    for k in range(1, 6):
        text = (out / f"share-{k}-of-5.txt").read_text()
        assert "Friends of <the> Park" in text and today in text
        assert f"Share        : {k} of 5" in text and "any 3 of the 5 shares" in text
        assert report["set_id"] in text and "FORMAT: VK1-TEXT" in text
        shares.add(share_line(out / f"share-{k}-of-5.txt"))
        page = (out / f"share-{k}-of-5.html").read_text()
        assert "Friends of &lt;the&gt; Park" in page and "<the>" not in page
        assert f"Trustee key share {k} of 5" in page and today in page
        # Self-contained: nothing fetched when opened or printed.
        assert not re.search(r"<script|<link|<img|src=|@import|url\(", page)
        assert "shamir recover" in page and "keep private" in page
    assert len(shares) == 5
    everything = result.stdout + result.stderr + "".join(
        p.read_text() for p in out.iterdir())
    assert FAKE_SECRET not in everything
    db = (tmp_path / ".vaultkeeper" / "state.db").read_bytes()
    assert FAKE_SECRET.encode() not in db and report["set_id"].encode() in db


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_split_prints_shares_only_when_asked_and_refuses_a_used_folder(tmp_path):
    config = make_config(tmp_path)
    plain = vk(config, "escrow", "keys", "split", "-m", "2", "-n", "3", "--out",
               str(tmp_path / "a"))
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == ""  # the summary goes to stderr, shares nowhere
    assert "set " in plain.stderr and "delete the folder" in plain.stderr
    again = vk(config, "escrow", "keys", "split", "-m", "2", "-n", "3", "--out",
               str(tmp_path / "a"))
    assert again.returncode == 2 and "not empty" in again.stderr
    printed = vk(config, "escrow", "keys", "split", "-m", "2", "-n", "3", "--out",
                 str(tmp_path / "b"), "--print")
    lines = printed.stdout.splitlines()
    assert [ln.split(":")[0] for ln in lines] == [
        "share 1 of 3", "share 2 of 3", "share 3 of 3", "format"]
    assert FAKE_SECRET not in printed.stdout + printed.stderr
    bad = vk(config, "escrow", "keys", "split", "-m", "1", "-n", "3", "--out",
             str(tmp_path / "c"))
    assert bad.returncode == 2 and "threshold" in bad.stderr
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())


def test_check_reads_a_sheet_or_stdin_and_names_problems(tmp_path):
    config = make_config(tmp_path)
    out = tmp_path / "sheets"
    assert vk(config, "escrow", "keys", "split", "-m", "2", "-n", "3", "--out",
              str(out)).returncode == 0
    sheet = out / "share-2-of-3.txt"
    ok = vk_json(config, "escrow", "keys", "check", str(sheet))
    assert ok["shares"][0]["valid"] and ok["shares"][0]["number"] == 2
    assert ok["threshold"] == 2 and ok["format"] == "TEXT" and len(ok["sets"]) == 1
    # Without a configuration file at all (a trustee's own computer).
    bare = subprocess.run([sys.executable, "-m", "vaultkeeper", "escrow", "keys", "check"],
                          input=share_line(sheet)[len("SHARE: "):] + "\n", capture_output=True,
                          text=True, cwd=tmp_path / "sheets", timeout=120)
    assert bare.returncode == 0, bare.stderr
    assert "valid — share number 2, any 2 recover the key" in bare.stdout
    words = share_line(sheet)[len("SHARE: "):].split()
    # two neighbouring words out of order (two that differ: the shares are random, and one
    # in a thousand has the same word twice in a row, which a swap would leave unchanged)
    i = next(i for i in range(3, len(words) - 1) if words[i] != words[i + 1])
    words[i], words[i + 1] = words[i + 1], words[i]
    wrong = vk_in(config, "escrow", "keys", "check", stdin=" ".join(words) + "\n")
    assert wrong.returncode == 4
    assert "INVALID" in wrong.stdout and "checksum" in wrong.stdout
    empty = vk_in(config, "escrow", "keys", "check", stdin="hello\n")
    assert empty.returncode == 4 and "no share found" in empty.stderr
    for result in (ok, bare, wrong):
        assert FAKE_SECRET not in str(result)


def test_combine_recovers_from_any_m_and_refuses_m_minus_1_and_mixed(tmp_path):
    config = make_config(tmp_path)
    out = tmp_path / "sheets"
    assert vk(config, "escrow", "keys", "split", "-m", "3", "-n", "5", "--out",
              str(out)).returncode == 0
    sheets = [out / f"share-{k}-of-5.txt" for k in range(1, 6)]
    assert vk(config, "locations", "init").returncode == 0
    # From sheet files, with --out and --verify against both repositories.
    recovered = tmp_path / "recovered.key"
    done = vk(config, "escrow", "keys", "combine", str(sheets[4]), str(sheets[0]),
              str(sheets[2]), "--out", str(recovered), "--verify", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [v["result"] for v in report["verify"]] == ["opens", "opens"]
    assert recovered.read_text().strip() == FAKE_SECRET and stat_mode(recovered) == 0o600
    assert FAKE_SECRET not in done.stdout + done.stderr
    # From standard input: typed shares plus the format line.
    typed = "\n".join([share_line(sheets[1])[7:], share_line(sheets[3])[7:].upper(),
                       share_line(sheets[0])[7:], format_line(sheets[0])[8:].lower()]) + "\n"
    verified = vk_in(config, "escrow", "keys", "combine", "--verify", stdin=typed)
    assert verified.returncode == 0, verified.stderr
    assert "nas: opens" in verified.stderr and FAKE_SECRET not in verified.stdout
    # M-1 shares: refused, saying how many more.
    short = vk(config, "escrow", "keys", "combine", str(sheets[0]), str(sheets[1]),
               "--out", str(tmp_path / "never.key"))
    assert short.returncode == 4
    assert "2 shares given but set" in short.stderr and "1 more share needed" in short.stderr
    assert not (tmp_path / "never.key").exists()
    # Shares of two different sets.
    assert vk(config, "escrow", "keys", "split", "-m", "3", "-n", "5", "--out",
              str(tmp_path / "newer")).returncode == 0
    mixed = vk(config, "escrow", "keys", "combine", str(sheets[0]), str(sheets[1]),
               str(tmp_path / "newer" / "share-3-of-5.txt"), "--verify")
    assert mixed.returncode == 4 and "different sets" in mixed.stderr
    # A recovered file is never overwritten; nothing to do is a usage error.
    again = vk(config, "escrow", "keys", "combine", *map(str, sheets[:3]), "--out",
               str(recovered))
    assert again.returncode == 2 and "already exists" in again.stderr
    assert vk(config, "escrow", "keys", "combine", *map(str, sheets[:3])).returncode == 2


def test_shares_of_an_old_password_fail_verification(tmp_path):
    config = make_config(tmp_path)
    assert vk(config, "escrow", "keys", "split", "-m", "2", "-n", "2", "--out",
              str(tmp_path / "old")).returncode == 0
    assert vk(config, "locations", "init").returncode == 0
    # The organisation changes its repository password (restic key passwd) after the split.
    key = tmp_path / "secrets" / "repository.key"
    new = tmp_path / "secrets" / "new.key"
    new.write_text("a-new-password-" + secrets.token_hex(4) + "\n")
    for name in ("nas", "disk"):
        subprocess.run(["restic", "-r", str(tmp_path / "loc" / name), "key", "passwd",
                        "--new-password-file", str(new)], check=True, capture_output=True,
                       env=dict(os.environ, RESTIC_PASSWORD_FILE=str(key)))
    shutil.copy(new, key)
    stale = vk(config, "escrow", "keys", "combine", str(tmp_path / "old" / "share-1-of-2.txt"),
               str(tmp_path / "old" / "share-2-of-2.txt"), "--verify", "--json")
    assert stale.returncode == 4
    assert "does not open nas, disk" in stale.stderr and "newest set" in stale.stderr
    assert [v["result"] for v in json.loads(stale.stdout)["verify"]] == ["rejected"] * 2


@pytest.mark.parametrize("kind", ["TEXT", "B64URL", "SEALED"])
def test_recovery_without_vaultkeeper_follows_the_sheet(tmp_path, kind):
    """The sheet's recipe: the SLIP-39 reference tool (`shamir recover`) and bash only."""
    password = {"TEXT": FAKE_SECRET, "B64URL": secrets.token_urlsafe(32),
                "SEALED": "a long passphrase, " + FAKE_SECRET + " and more words"}[kind]
    config = with_key(tmp_path, password)
    out = tmp_path / "sheets"
    assert vk(config, "escrow", "keys", "split", "-m", "2", "-n", "3", "--out",
              str(out)).returncode == 0
    sheet = (out / "share-3-of-3.txt").read_text()
    assert f"FORMAT: VK1-{kind}" in sheet
    shamir = shutil.which("shamir", path=str(Path(sys.executable).parent))
    assert shamir, "shamir-mnemonic's reference CLI is missing"
    typed = share_line(out / "share-1-of-3.txt")[7:] + "\n" + \
        share_line(out / "share-3-of-3.txt")[7:] + "\n"
    recovered = subprocess.run([shamir, "recover"], input=typed, capture_output=True,
                               text=True, timeout=120)
    hex_secret = re.search(r"master secret is: ([0-9a-f]+)", recovered.stdout)
    assert hex_secret, recovered.stdout
    recipe = sheet.split("shamir recover", 1)[1].splitlines()
    decode = next(ln.strip() for ln in recipe if "prints the repository password" in ln)
    decode = decode.split("   # prints the repository password")[0]
    result = subprocess.run(["bash", "-c", decode], capture_output=True, text=True,
                            env=dict(os.environ, S=hex_secret[1]), timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip("\n") == password
