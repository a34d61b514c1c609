"""Escrow deposits (issue 7, parts 3–5): copy the latest *verified* snapshot into the escrow
repository, put a signed kit beside it, verify a deposit at three levels, release it.

The escrow repository is an ordinary restic repository opened by two keys: the organisation's
(``[repository] password``: it creates the repository and copies snapshots into it) and the
escrow key (``[escrow] escrow_password``: the agent's). The kit holds no CRM data: the
vaultkeeper wheel, the restic version, RESTORE.md, policies and mapping docs, the last drill
report, and ``inventory.json`` (SHA-256 of every file, release conditions, snapshot id, date)
signed with the organisation's Ed25519 key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vaultkeeper import crypto
from vaultkeeper.config import LocationSettings, Secret, Settings
from vaultkeeper.db import escrow as escrowdb
from vaultkeeper.db import open_state_db
from vaultkeeper.db.drills import get as get_drill
from vaultkeeper.db.emergency import latest_verified_drill
from vaultkeeper.errors import ConfigError, StorageError, UsageError, VaultkeeperError
from vaultkeeper.restic import Restic, Snapshot, WrongPassword
from vaultkeeper.services.drill_html import render as render_drill_html
from vaultkeeper.services.emergency.package import PackageResult
from vaultkeeper.services.emergency.runner import (
    EmergencyObserver,
    find_snapshot,
    private_workdir,
    run_emergency,
)
from vaultkeeper.storage.kit import get_kit, kit_address, put_kit
from vaultkeeper.storage.locations import Location, resolve_location

INVENTORY = "inventory.json"
SIGNATURE = "inventory.sig"
PUBLIC_KEY = "signing-key.pub.pem"
SUMS = "SHA256SUMS"
FORMAT = "vaultkeeper-escrow-deposit/1"
ESCROW_USER, ESCROW_HOST = "escrow", "escrow-agent"
LOCATION_NAME = "escrow"
Progress = Callable[[str], None]


def _noop(_: str) -> None:
    return None


def _now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------- settings
def escrow_location(settings: Settings) -> Location:
    """The escrow repository as a Location (credentials from ``[escrow]``)."""
    esc = settings.escrow
    if esc.url is None:
        raise ConfigError("no escrow repository is configured",
                          'add [escrow] url = "s3:https://…/bucket/escrow" (or a local path) '
                          "with access_key/secret_key or credentials_from",
                          file=str(settings.config_file) if settings.config_file else None,
                          key="[escrow] url")
    return resolve_location(_location_settings(settings))


def _location_settings(settings: Settings) -> LocationSettings:
    esc = settings.escrow
    assert esc.url is not None
    return LocationSettings(name=LOCATION_NAME, url=esc.url, access_key=esc.access_key,
                            secret_key=esc.secret_key)


def escrow_password(settings: Settings) -> Secret:
    """``[escrow] escrow_password`` (a reference; read by restic from a file only)."""
    if settings.escrow.escrow_password is None:
        raise ConfigError("no escrow key password is configured",
                          'add [escrow] escrow_password = { file = "/secure/escrow.key" } '
                          "(create one with `vaultkeeper escrow key add --out FILE`)",
                          file=str(settings.config_file) if settings.config_file else None,
                          key="[escrow] escrow_password")
    return settings.escrow.escrow_password


def _restic(settings: Settings, location: Location, password: Secret) -> Restic:
    return Restic(location, password, cache_dir=settings.state_dir / "cache",
                  cwd=settings.base_dir, timeout=1800)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -------------------------------------------------------------------------------- deposit
@dataclass
class DepositResult:
    """What ``escrow deposit`` did."""

    deposit_id: int
    created_at: str
    snapshot_id: str
    escrow_snapshot_id: str
    drill_id: int
    repository: str
    kit: str
    files: list[str]
    fingerprint: str
    key: str                     # added | exists
    release_conditions: list[str]
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return dict(self.__dict__)


def deposit(settings: Settings, *, progress: Progress = _noop) -> DepositResult:
    """Copy the latest verified snapshot into the escrow repository and write a signed kit."""
    if settings.repository_password is None:
        raise StorageError("no repository password configured",
                           'set [repository] password = { file = "…" } (mode 0600)')
    location = escrow_location(settings)
    agent_password = escrow_password(settings)
    if agent_password.reveal() == settings.repository_password.reveal():
        raise UsageError("the escrow password is the repository password",
                         "the escrow key must have its own password, so it can be revoked")
    db = open_state_db(settings.state_dir)
    drill = latest_verified_drill(db)
    if drill is None:
        raise VaultkeeperError("no snapshot has passed a restore drill yet, so there is nothing "
                           "verified to deposit", "run `vaultkeeper drill` first")
    snapshot_id = str(drill["snapshot_id"])
    found, errors = find_snapshot(settings, snapshot_id, prefer=str(drill.get("location") or ""))
    if found is None:
        raise StorageError(f"the verified snapshot {snapshot_id[:12]} is in no location any more"
                           + (f" ({'; '.join(errors[:2])})" if errors else ""),
                           "run `vaultkeeper drill` on a current snapshot, then deposit again")
    org = _restic(settings, location, settings.repository_password)
    agent = _restic(settings, location, agent_password)
    progress(f"escrow repository {location.display_url}")
    if not org.is_initialised():
        progress("creating the escrow repository (chunker parameters of "
                 f"{found.location.name})")
        org.init(copy_chunker_params_from=found.restic)
    try:
        agent.current_key_id()
        key = "exists"
    except WrongPassword:
        org.key_add(agent_password, user=ESCROW_USER, host=ESCROW_HOST)
        agent.current_key_id()
        key = "added"
    progress(f"copying snapshot {found.snapshot.short_id} from {found.location.name}")
    org.copy_from(found.restic, [found.snapshot.id])
    copy = _escrow_snapshot(org.snapshots(), snapshot_id)
    if copy is None:
        raise StorageError(f"snapshot {snapshot_id[:12]} is not in the escrow repository after "
                           "restic copy", "run `restic copy` by hand and report it")
    created = _now().isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="vk-escrow-kit-") as tmp:
        kit = Path(tmp) / "kit"
        kit.mkdir()
        progress("building the kit (vaultkeeper wheel, runbook, reports)")
        notes = _write_kit(settings, kit, location, drill, copy, org, created)
        fingerprint = _sign(settings, kit, created=created, snapshot_id=snapshot_id,
                            escrow_snapshot_id=copy.id, location=location)
        files = sorted(p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file())
        inventory_sha = _sha256(kit / INVENTORY)
        progress(f"uploading the kit to {kit_address(location)}")
        put_kit(location, kit)
    release = list(settings.escrow.release_conditions)
    deposit_id = escrowdb.record_deposit(db, {
        "snapshot_id": snapshot_id, "escrow_snapshot_id": copy.id, "drill_id": drill["id"],
        "repository": location.display_url, "kit": kit_address(location), "files": len(files),
        "inventory_sha256": inventory_sha, "fingerprint": fingerprint,
        "release_conditions": ",".join(release)})
    return DepositResult(deposit_id=deposit_id, created_at=created, snapshot_id=snapshot_id,
                         escrow_snapshot_id=copy.id, drill_id=int(drill["id"]),
                         repository=location.display_url, kit=kit_address(location),
                         files=files, fingerprint=fingerprint, key=key,
                         release_conditions=release, notes=notes)


def _escrow_snapshot(snaps: list[Snapshot], snapshot_id: str) -> Snapshot | None:
    matching = [s for s in snaps if snapshot_id in (s.id, s.original)]
    return max(matching, key=lambda s: s.time) if matching else None


def _write_kit(settings: Settings, kit: Path, location: Location, drill: dict[str, Any],
               copy: Snapshot, org: Restic, created: str) -> list[str]:
    from vaultkeeper import pyenv

    notes: list[str] = []
    (kit / "wheel").mkdir()
    pyenv.build_wheel(kit / "wheel")
    version = ".".join(map(str, org.version()))
    (kit / "RESTIC_VERSION.txt").write_text(
        f"restic >= 0.14 is required (this deposit was made with restic {version}).\n"
        "Download: https://github.com/restic/restic/releases or `apt-get install restic`.\n",
        encoding="utf-8")
    (kit / "RESTORE.md").write_text(restore_runbook(location, copy, created), encoding="utf-8")
    policies = kit / "policies"
    policies.mkdir()
    for path in sorted(settings.policies_dir.glob("*.toml")) if settings.policies_dir.is_dir() \
            else []:
        shutil.copyfile(path, policies / path.name)
    from vaultkeeper.pyenv import project_root

    root = project_root()
    docs = kit / "docs"
    docs.mkdir()
    for name in ("emergency.md", "drill.md", "escrow.md"):
        source = root / "docs" / name if root else None
        if source is not None and source.is_file():
            shutil.copyfile(source, docs / name)
    full = get_drill(open_state_db(settings.state_dir), int(drill["id"]))
    report = (full or {}).get("report") or {}
    (kit / "reports").mkdir()
    (kit / "reports" / "drill-report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (kit / "reports" / "drill-report.html").write_text(render_drill_html(report),
                                                       encoding="utf-8")
    notes.append("no data-quality report is kept in the state database; run `vaultkeeper "
                 "emergency` after a release to get one")
    return notes


def restore_runbook(location: Location, copy: Snapshot, created: str) -> str:
    """RESTORE.md: plain restic and bash, for someone who has never seen vaultkeeper."""
    s3 = location.kind == "s3"
    repo = location.url if not s3 else location.display_url
    opts = "-o s3.bucket-lookup=path" if s3 else ""
    s3_lines = ("# S3 only: the bucket's read credentials (given to you sealed, not echoed)\n"
                "read -rs AWS_ACCESS_KEY_ID; read -rs AWS_SECRET_ACCESS_KEY\n"
                "export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY\n") if s3 else ""
    return f"""# Restoring the CRM backup held in escrow

This deposit was made on {created}. It holds one encrypted restic snapshot of the
organisation's CRM export: snapshot `{copy.id}` (short `{copy.short_id}`) in the repository

    {repo}

You need: a Linux or macOS computer with bash, `restic` 0.14 or newer (see RESTIC_VERSION.txt;
`apt-get install restic`), `sha256sum`, and the **escrow password** that was handed to you
sealed. Nothing else — vaultkeeper itself is not needed (its wheel is in `wheel/` if you want
the ready-to-migrate package: see the end).

## Steps

Open a terminal in this kit folder and run, one block at a time:

```bash
# 1. Check the kit is complete and unchanged (every line must say OK)
sha256sum -c {SUMS}
# 2. The escrow password, into a private file (typed, not echoed, not in shell history)
umask 077
read -rs ESCROW_PASSWORD; printf '%s\\n' "$ESCROW_PASSWORD" > escrow.key; unset ESCROW_PASSWORD
{s3_lines}# 3. Point restic at the escrow repository
export RESTIC_REPOSITORY='{repo}'
export RESTIC_PASSWORD_FILE="$PWD/escrow.key"
# 4. List the snapshots: {copy.short_id} must be there
restic {opts} snapshots
# 5. Restore it (a few minutes for large CRMs)
restic {opts} restore {copy.id} --target restored
# 6. The export: manifest.json (record counts and digests) and one NDJSON file per object
find restored -name manifest.json
```

Optionally prove every byte of the repository is intact (slow, reads everything):
`restic {opts} check --read-data`.

## What you get

`restored/…/objects/<object>.ndjson`: one JSON record per line, per CRM object (contacts,
companies, deals, …), exactly as the CRM's API returned them; `manifest.json` lists every
object with its record count and SHA-256 digest. The mapping to other CRMs is described in
`docs/emergency.md` and `policies/`.

## The ready-to-migrate package (optional, needs Python 3.11)

```
python3 -m venv vk && vk/bin/pip install wheel/vaultkeeper-*.whl
```
then write a `vaultkeeper.toml` with one `[[locations]]` entry (this repository) and
`[repository] password = {{ file = "escrow.key" }}`, and run
`vk/bin/vaultkeeper emergency --out package --from {copy.short_id}`.

Delete `escrow.key` and `restored/` when you are done: they are the keys to and the plaintext
of personal data.
"""


def _sign(settings: Settings, kit: Path, *, created: str, snapshot_id: str,
          escrow_snapshot_id: str, location: Location) -> str:
    key = crypto.load_or_create_signing_key(settings.state_dir / "keys")
    public = crypto.public_key_pem(key)
    (kit / PUBLIC_KEY).write_bytes(public)
    files = sorted(p for p in kit.rglob("*") if p.is_file())
    sums = {p.relative_to(kit).as_posix(): _sha256(p) for p in files}
    (kit / SUMS).write_text("".join(f"{d}  {n}\n" for n, d in sums.items()), encoding="utf-8")
    sums[SUMS] = _sha256(kit / SUMS)
    inventory = {
        "format": FORMAT, "created": created, "snapshot_id": snapshot_id,
        "escrow_snapshot_id": escrow_snapshot_id, "repository": location.display_url,
        "release_conditions": list(settings.escrow.release_conditions),
        "restic_required": ">=0.14", "signing_key_fingerprint": crypto.fingerprint(public),
        "files": {name: {"sha256": digest, "size": (kit / name).stat().st_size}
                  for name, digest in sorted(sums.items())},
    }
    data = json.dumps(inventory, indent=2, sort_keys=True).encode() + b"\n"
    (kit / INVENTORY).write_bytes(data)
    (kit / SIGNATURE).write_text(base64.b64encode(crypto.sign(key, data)).decode() + "\n",
                                 encoding="ascii")
    return crypto.fingerprint(public)


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


def verify(settings: Settings, level: int, *, progress: Progress = _noop) -> VerifyReport:
    """Verify the deposit up to ``level`` (1 kit, 2 + every byte, 3 + a clean-room restore)."""
    import time

    if level not in (1, 2, 3):
        raise UsageError(f"--level {level} does not exist", "use 1, 2 or 3")
    location = escrow_location(settings)
    agent = _restic(settings, location, escrow_password(settings))
    db = open_state_db(settings.state_dir)
    recorded = escrowdb.last_deposit(db)
    report = VerifyReport(level=level, started_at=_now().isoformat(timespec="seconds"))
    with private_workdir(settings.state_dir) as work:
        began = time.monotonic()
        progress("level 1: kit inventory, checksums, signature, escrow key")
        kit = work / "kit"
        kit.mkdir()
        get_kit(location, kit)
        inventory = _verify_kit(kit, report, recorded)
        try:
            agent.current_key_id()
            report.add(1, "escrow key", True, "the escrow password opens the repository")
            snaps = agent.snapshots()
            copy = _escrow_snapshot(snaps, report.snapshot_id) if report.snapshot_id else None
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


def _verify_kit(kit: Path, report: VerifyReport,
                recorded: dict[str, Any] | None) -> dict[str, Any] | None:
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
        elif _sha256(path) != entry.get("sha256"):
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
    from vaultkeeper import pyenv

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
    secret = escrow_password(settings)
    key_file = room / "escrow.key"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret.reveal() + "\n")
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
        [str(program), "--config", str(config), "drill", "--location", "escrow", "--snapshot",
         copy.id, "--read-data-subset", "1/10", "--json"], timeout=1800, cwd=room, env=env)
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


# -------------------------------------------------------------------------------- release
@contextmanager
def _password_secret(password: str, state_dir: Path) -> Iterator[Secret]:
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="vk-release-", dir=state_dir)
    try:
        path = os.path.join(folder, "password")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(password + "\n")
        yield Secret(kind="file", ref=path, setting="release password")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def release(settings: Settings, out: Path, *, password: str | None = None,
            secret: Secret | None = None, target: str | None = None,
            observer: EmergencyObserver | None = None,
            progress: Progress = _noop) -> tuple[PackageResult, VerifyReport]:
    """Restore the deposit with ``password`` (recovered from trustee shares) or ``secret`` (the
    escrow key's password) and build the emergency package into ``out``."""
    location = escrow_location(settings)
    with private_workdir(settings.state_dir) as work:
        report = VerifyReport(level=1, started_at=_now().isoformat(timespec="seconds"))
        kit = work / "kit"
        kit.mkdir()
        try:
            get_kit(location, kit)
            _verify_kit(kit, report, escrowdb.last_deposit(open_state_db(settings.state_dir)))
        except StorageError as exc:
            report.add(1, "kit", False, exc.one_line())
    for problem in report.problems:
        progress(f"warning: {problem}")
    with _maybe_password(password, secret, settings.state_dir) as key:
        opened = replace(settings, locations=(_location_settings(settings),),
                         repository_password=key)
        try:
            _restic(settings, location, key).current_key_id()
        except WrongPassword:
            from vaultkeeper.errors import VerificationError

            raise VerificationError("the given password (or shares) does not open the escrow "
                                    "repository", "check the shares or the escrow key "
                                    "password") from None
        source = report.snapshot_id or _newest(settings, location, key)
        progress(f"restoring snapshot {source[:12]} from the escrow repository")
        result = run_emergency(opened, out, source=source, target=target, observer=observer)
    return result, report


@contextmanager
def _maybe_password(password: str | None, secret: Secret | None,
                    state_dir: Path) -> Iterator[Secret]:
    if secret is not None:
        yield secret
        return
    if password is None:
        raise UsageError("no key given", "give trustee shares or --password file:PATH")
    with _password_secret(password, state_dir) as made:
        yield made


def _newest(settings: Settings, location: Location, key: Secret) -> str:
    snaps = _restic(settings, location, key).snapshots()
    if not snaps:
        raise StorageError("the escrow repository holds no snapshot",
                           "run `vaultkeeper escrow deposit`")
    newest = max(snaps, key=lambda s: s.time)
    return newest.id


# ----------------------------------------------------------------------------- staleness
def refresh_interval(settings: Settings) -> timedelta:
    """How old a deposit may get: ``[escrow] refresh`` as a duration; for a schedule phrase,
    its period (``every N days``, weekly for a weekday, daily otherwise) — plus nothing."""
    from vaultkeeper.tomlcheck import Bad, Origin, as_duration

    text = settings.escrow.refresh
    try:
        return as_duration(text, Origin(None, "[escrow]", "refresh"))
    except Bad:
        pass
    words = text.split()
    if len(words) >= 3 and words[1].isdigit():
        unit = {"minute": "minutes", "hour": "hours", "day": "days"}.get(words[2].rstrip("s"),
                                                                        "days")
        return timedelta(**{unit: int(words[1])})
    if words[1:2] and words[1].rstrip("s") in ("day", "hour", "minute"):
        return timedelta(**{words[1].rstrip("s") + "s": 1})
    return timedelta(days=7)


def deposit_age(settings: Settings) -> timedelta | None:
    """How old the newest deposit is (None: never deposited). Stale when it is more than
    ``refresh_interval(settings)``; the scheduler alerts on that (wired by the integrator)."""
    last = escrowdb.last_deposit(open_state_db(settings.state_dir))
    if last is None:
        return None
    return _now() - datetime.fromisoformat(str(last["created_at"]))


def deposit_stale(settings: Settings) -> bool:
    """True when there is no deposit or it is older than the refresh interval."""
    age = deposit_age(settings)
    return age is None or age > refresh_interval(settings)
