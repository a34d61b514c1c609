"""``escrow verify``: check a deposit at three levels (kit and signature, every byte, a
clean-room restore with the deposited vaultkeeper)."""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultkeeper import crypto, pyenv
from vaultkeeper.config import Settings
from vaultkeeper.db import escrow as escrowdb
from vaultkeeper.errors import StorageError, UsageError, VaultkeeperError
from vaultkeeper.privatefs import write_private
from vaultkeeper.restic import Snapshot, WrongPassword
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.emergency.runner import private_workdir
from vaultkeeper.services.escrow import repository as repo
from vaultkeeper.services.escrow.repository import (
    INVENTORY,
    PUBLIC_KEY,
    SIGNATURE,
    Progress,
    no_progress,
)
from vaultkeeper.storage.kit import get_kit
from vaultkeeper.storage.locations import Location


# --------------------------------------------------------------------------------- verify
@dataclass
class Check:
    """One verified claim."""

    level: int
    name: str
    ok: bool
    detail: str = ""


@dataclass
class VerifyReport:
    """What ``escrow verify`` checked, at which level, when."""

    level: int
    started_at: str
    result: str = "verified"      # verified | failed
    snapshot_id: str = ""
    escrow_snapshot_id: str = ""
    deposit_created: str = ""
    checks: list[Check] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)

    def add(self, level: int, name: str, ok: bool, detail: str = "") -> bool:
        """Record a check; False when it failed."""
        self.checks.append(Check(level, name, ok, detail))
        if not ok:
            self.result = "failed"
        return ok

    @property
    def problems(self) -> list[str]:
        """One line per failed check."""
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.ok]

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape (and what the state database keeps)."""
        return {"level": self.level, "started_at": self.started_at, "result": self.result,
                "snapshot_id": self.snapshot_id, "escrow_snapshot_id": self.escrow_snapshot_id,
                "deposit_created": self.deposit_created,
                "checks": [c.__dict__ for c in self.checks], "problems": self.problems,
                "durations": self.durations}


def verify(settings: Settings | CommandContext, level: int, *,
           progress: Progress = no_progress) -> VerifyReport:
    """Verify the deposit up to ``level`` (1 kit, 2 + every byte, 3 + a clean-room restore)."""
    if level not in (1, 2, 3):
        raise UsageError(f"--level {level} does not exist", "use 1, 2 or 3")
    ctx = CommandContext.of(settings)
    settings = ctx.settings
    location = repo.escrow_location(settings)
    agent = repo.escrow_restic(ctx, location, repo.escrow_password(settings))
    db = ctx.db
    recorded = escrowdb.last_deposit(db)
    report = VerifyReport(level=level, started_at=repo.utc_now().isoformat(timespec="seconds"))
    with private_workdir(settings.state_dir) as work:
        began = time.monotonic()
        progress("level 1: kit inventory, checksums, signature, escrow key")
        kit = work / "kit"
        kit.mkdir()
        get_kit(location, kit)
        inventory = verify_kit(kit, report, recorded)
        try:
            agent.current_key_id()
            report.add(1, "escrow key", True, "the escrow password opens the repository")
            snaps = agent.snapshots()
            copy = repo.escrow_snapshot(snaps, report.snapshot_id) if report.snapshot_id else None
            report.add(1, "snapshot", copy is not None,
                       f"{report.escrow_snapshot_id[:12] or '?'} is in the escrow repository"
                       if copy else "the deposited snapshot is not in the escrow repository")
        except WrongPassword:
            copy = None
            report.add(1, "escrow key", False, "the escrow password does not open the escrow "
                       "repository (key revoked or password changed)")
        report.durations["level1_s"] = round(time.monotonic() - began, 3)
        if level >= 2 and report.result == "verified":
            began = time.monotonic()
            progress("level 2: restic check --read-data with the escrow key")
            try:
                agent.check(read_data_subset="100%")
                report.add(2, "restic check --read-data", True, "every pack read and verified")
            except StorageError as exc:
                report.add(2, "restic check --read-data", False, exc.one_line())
            report.durations["level2_s"] = round(time.monotonic() - began, 3)
        if level >= 3 and report.result == "verified" and copy is not None and inventory:
            began = time.monotonic()
            _clean_room(settings, location, kit, copy, work, report, progress)
            report.durations["level3_s"] = round(time.monotonic() - began, 3)
    escrowdb.record_verification(db, level=level, result=report.result,
                                 deposit_id=recorded["id"] if recorded else None,
                                 snapshot_id=report.snapshot_id,
                                 report=json.dumps(report.as_json(), ensure_ascii=False))
    return report


def verify_kit(kit: Path, report: VerifyReport,
               recorded: dict[str, Any] | None) -> dict[str, Any] | None:
    """Level 1: the kit's inventory, signature, signing key and checksums; the inventory."""
    try:
        data = (kit / INVENTORY).read_bytes()
        inventory: dict[str, Any] = json.loads(data)
    except (OSError, ValueError) as exc:
        report.add(1, INVENTORY, False, f"missing or unreadable ({type(exc).__name__})")
        return None
    report.snapshot_id = str(inventory.get("snapshot_id", ""))
    report.escrow_snapshot_id = str(inventory.get("escrow_snapshot_id", ""))
    report.deposit_created = str(inventory.get("created", ""))
    try:
        public = (kit / PUBLIC_KEY).read_bytes()
        signature = base64.b64decode((kit / SIGNATURE).read_text(encoding="ascii").strip())
        signed = crypto.verify_signature(public, data, signature)
    except (OSError, ValueError):
        signed, public = False, b""
    report.add(1, "signature", signed, "inventory.json is signed by the kit's Ed25519 key"
               if signed else f"{INVENTORY}: the signature does not match (inventory changed, "
               "or signature or key missing)")
    if signed and recorded is not None:
        same = crypto.fingerprint(public) == recorded.get("fingerprint")
        report.add(1, "signing key", same, "the organisation's signing key" if same else
                   f"{PUBLIC_KEY}: not the organisation's key (fingerprint differs from the one "
                   "recorded at deposit)")
    listed: dict[str, dict[str, Any]] = inventory.get("files") or {}
    bad = 0
    for name, entry in sorted(listed.items()):
        path = kit / name
        if not path.is_file():
            bad += report.add(1, f"file {name}", False, f"{name} is missing from the kit") is False
        elif repo.sha256_file(path) != entry.get("sha256"):
            bad += report.add(1, f"file {name}", False,
                              f"{name}: checksum mismatch (tampered or corrupt)") is False
    extra = sorted(p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file()
                   and p.relative_to(kit).as_posix() not in listed
                   and p.name not in (INVENTORY, SIGNATURE))
    for name in extra:
        bad += report.add(1, f"file {name}", False, f"{name} is not in the inventory") is False
    if not bad:
        report.add(1, "checksums", True, f"{len(listed)} files complete and unchanged")
    return inventory


def _clean_room(settings: Settings, location: Location, kit: Path, copy: Snapshot,
                work: Path, report: VerifyReport, progress: Progress) -> None:
    """Level 3: a new venv with the deposited wheel; its vaultkeeper drills and builds the
    emergency package from the escrow repository with the escrow key only."""
    wheels = sorted((kit / "wheel").glob("vaultkeeper-*.whl"))
    if not report.add(3, "wheel", bool(wheels), wheels[0].name if wheels else
                      "no vaultkeeper wheel in the kit"):
        return
    progress("level 3: installing the deposited vaultkeeper into a new venv")
    try:
        program = pyenv.make_venv(work / "venv", wheels[0])
    except VaultkeeperError as exc:
        report.add(3, "install", False, exc.one_line())
        return
    report.add(3, "install", True, "python -m venv + pip install of the deposited wheel")
    room = work / "clean-room"
    room.mkdir(mode=0o700)
    secret = repo.escrow_password(settings)
    key_file = room / "escrow.key"
    write_private(key_file, secret.reveal() + "\n", exclusive=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTKEEPER_")}
    creds = ""
    if location.access_key is not None and location.secret_key is not None:
        env["VK_ESCROW_ACCESS_KEY"] = location.access_key.reveal()
        env["VK_ESCROW_SECRET_KEY"] = location.secret_key.reveal()
        creds = ('access_key = { env = "VK_ESCROW_ACCESS_KEY" }\n'
                 'secret_key = { env = "VK_ESCROW_SECRET_KEY" }\n')
    config = room / "vaultkeeper.toml"
    config.write_text(
        '[source]\nconnector = "sandbox"\n\n'
        f'[repository]\npassword = {{ file = "{key_file}" }}\n\n'
        f'[paths]\nstate_dir = "{room / "state"}"\n'
        f'policies_dir = "{kit / "policies"}"\n\n'
        f'[[locations]]\nname = "escrow"\nurl = {json.dumps(location.url)}\n{creds}',
        encoding="utf-8")
    progress("level 3: the deposited vaultkeeper drills the escrow snapshot")
    code, out, err = pyenv.run_program(
        # The manifest's signature is keyed by the organisation's repository password, which
        # the escrow agent does not hold: the kit's signed inventory (level 1) and the
        # snapshot's manifest tag vouch for the deposit instead.
        [str(program), "--config", str(config), "drill", "--location", "escrow", "--snapshot",
         copy.id, "--read-data-subset", "1/10", "--foreign-signature", "--json"],
        timeout=1800, cwd=room, env=env)
    detail = _drill_detail(code, out, err)
    if not report.add(3, "drill", code == 0, detail):
        return
    progress("level 3: the deposited vaultkeeper builds the emergency package")
    code, out, err = pyenv.run_program(
        [str(program), "--config", str(config), "emergency", "--out", str(room / "package"),
         "--from", copy.id, "--json"], timeout=1800, cwd=room, env=env)
    tail = (err.strip().splitlines() or [""])[-1][:200]
    built = sum(1 for p in (room / "package").rglob("*") if p.is_file()) \
        if (room / "package").is_dir() else 0
    report.add(3, "emergency package", code == 0 and built > 0,
               f"built with the deposited vaultkeeper ({built} files)" if code == 0
               else f"exit {code}: {tail}")


def _drill_detail(code: int, out: str, err: str) -> str:
    try:
        data = json.loads(out)
        return (f"exit {code}: {data.get('result')}, {data.get('records', '?')} records "
                f"restored and reconciled")
    except ValueError:
        return f"exit {code}: {(err.strip().splitlines() or [''])[-1][:200]}"
