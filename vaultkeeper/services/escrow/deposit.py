"""``escrow deposit``: copy the latest verified snapshot into the escrow repository and put a
signed kit beside it; how old the newest deposit is."""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from vaultkeeper import crypto, pyenv
from vaultkeeper.config import Settings
from vaultkeeper.db import escrow as escrowdb
from vaultkeeper.db.drills import get as get_drill
from vaultkeeper.db.emergency import latest_verified_drill
from vaultkeeper.errors import StorageError, UsageError, VaultkeeperError
from vaultkeeper.restic import Restic, Snapshot, WrongPassword
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.drill_html import render as render_drill_html
from vaultkeeper.services.emergency.runner import find_snapshot
from vaultkeeper.services.escrow.repository import (
    ESCROW_HOST,
    ESCROW_USER,
    FORMAT,
    INVENTORY,
    PUBLIC_KEY,
    SIGNATURE,
    SUMS,
    Progress,
    escrow_location,
    escrow_password,
    escrow_restic,
    escrow_snapshot,
    no_progress,
    sha256_file,
    utc_now,
)
from vaultkeeper.storage.kit import kit_address, put_kit
from vaultkeeper.storage.locations import Location
from vaultkeeper.tomlcheck import Bad, Origin, as_duration

WHEEL_CACHE = "wheel-cache"
"""The last built vaultkeeper wheel, under the state folder, keyed by its source digest."""

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


def deposit(settings: Settings | CommandContext, *,
            progress: Progress = no_progress) -> DepositResult:
    """Copy the latest verified snapshot into the escrow repository and write a signed kit."""
    ctx = CommandContext.of(settings)
    settings = ctx.settings
    ours = ctx.password
    location = escrow_location(settings)
    agent_password = escrow_password(settings)
    if agent_password.reveal() == ours.reveal():
        raise UsageError("the escrow password is the repository password",
                         "the escrow key must have its own password, so it can be revoked")
    db = ctx.db
    drill = latest_verified_drill(db)
    if drill is None:
        raise VaultkeeperError("no snapshot has passed a restore drill yet, so there is nothing "
                           "verified to deposit", "run `vaultkeeper drill` first")
    snapshot_id = str(drill["snapshot_id"])
    found, errors = find_snapshot(ctx, snapshot_id, prefer=str(drill.get("location") or ""))
    if found is None:
        raise StorageError(f"the verified snapshot {snapshot_id[:12]} is in no location any more"
                           + (f" ({'; '.join(errors[:2])})" if errors else ""),
                           "run `vaultkeeper drill` on a current snapshot, then deposit again")
    org = escrow_restic(ctx, location, ours)
    agent = escrow_restic(ctx, location, agent_password)
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
    copy = escrow_snapshot(org.snapshots(), snapshot_id)
    if copy is None:
        raise StorageError(f"snapshot {snapshot_id[:12]} is not in the escrow repository after "
                           "restic copy", "run `restic copy` by hand and report it")
    created = utc_now().isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="vk-escrow-kit-") as tmp:
        kit = Path(tmp) / "kit"
        kit.mkdir()
        progress("building the kit (vaultkeeper wheel, runbook, reports)")
        notes = _write_kit(ctx, kit, location, drill, copy, org, created)
        fingerprint = _sign(settings, kit, created=created, snapshot_id=snapshot_id,
                            escrow_snapshot_id=copy.id, location=location)
        files = sorted(p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file())
        inventory_sha = sha256_file(kit / INVENTORY)
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


def _write_kit(ctx: CommandContext, kit: Path, location: Location, drill: dict[str, Any],
               copy: Snapshot, org: Restic, created: str) -> list[str]:
    settings = ctx.settings
    notes: list[str] = []
    (kit / "wheel").mkdir()
    pyenv.build_wheel(kit / "wheel", cache=ctx.state_dir / WHEEL_CACHE)
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
    root = pyenv.project_root()
    docs = kit / "docs"
    docs.mkdir()
    for name in ("emergency.md", "drill.md", "escrow.md"):
        source = root / "docs" / name if root else None
        if source is not None and source.is_file():
            shutil.copyfile(source, docs / name)
    full = get_drill(ctx.db, int(drill["id"]))
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
    sums = {p.relative_to(kit).as_posix(): sha256_file(p) for p in files}
    (kit / SUMS).write_text("".join(f"{d}  {n}\n" for n, d in sums.items()), encoding="utf-8")
    sums[SUMS] = sha256_file(kit / SUMS)
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


# ----------------------------------------------------------------------------- staleness
def refresh_interval(settings: Settings) -> timedelta:
    """How old a deposit may get: ``[escrow] refresh`` as a duration; for a schedule phrase,
    its period (``every N days``, weekly for a weekday, daily otherwise) — plus nothing."""
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


def deposit_age(settings: Settings | CommandContext) -> timedelta | None:
    """How old the newest deposit is (None: never deposited). Stale when it is more than
    ``refresh_interval(settings)``; the scheduler alerts on that (wired by the integrator)."""
    last = escrowdb.last_deposit(CommandContext.of(settings).db)
    if last is None:
        return None
    return utc_now() - datetime.fromisoformat(str(last["created_at"]))


def deposit_stale(settings: Settings | CommandContext) -> bool:
    """True when there is no deposit or it is older than the refresh interval."""
    ctx = CommandContext.of(settings)
    age = deposit_age(ctx)
    return age is None or age > refresh_interval(ctx.settings)
