"""The escrow restic key: a second key in every repository, for the escrow agent.

restic keys are independent password wrappers of one master key, so the agent's key can be
removed (``restic key remove``) without touching the organisation's password or re-encrypting
anything. Key ids are recorded per location in the state database (db/escrow.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaultkeeper.config import Secret, Settings
from vaultkeeper.db import escrow as escrowdb
from vaultkeeper.errors import StorageError, UsageError
from vaultkeeper.privatefs import private_workdir, write_private
from vaultkeeper.restic import IdNotFound, Restic, WrongPassword
from vaultkeeper.services.context import CommandContext
from vaultkeeper.storage.locations import Location, preflight

DEFAULT_USER = "escrow"
DEFAULT_HOST = "escrow-agent"


@dataclass(frozen=True)
class KeyOutcome:
    """What happened at one location."""

    location: str
    result: str            # added | exists | removed | not-found | skipped | failed
    key_id: str = ""
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return dict(self.__dict__)


def new_password_file(path: Path) -> Secret:
    """Write a fresh random escrow password to ``path`` (0600, must not exist)."""
    path = path.expanduser().absolute()
    if path.exists():
        raise UsageError(f"{path} already exists",
                         f"give a new path, or reuse it with --password file:{path}")
    if not path.parent.is_dir():
        raise UsageError(f"folder {path.parent} does not exist", "create it first")
    write_private(path, secrets.token_urlsafe(32) + "\n", exclusive=True)
    return Secret(kind="file", ref=str(path), setting="escrow key password")


def parse_reference(text: str) -> Secret:
    """``file:PATH``, ``env:NAME`` or ``command:CMD`` → a Secret reference (never a value)."""
    kind, _, ref = text.partition(":")
    if kind not in ("file", "env", "command") or not ref.strip():
        raise UsageError(f"--password {text.split(':')[0]!r}… is not a secret reference",
                         "use file:PATH (mode 0600), env:NAME or command:CMD — never the "
                         "password itself")
    ref = ref.strip()
    if kind == "file":
        ref = str(Path(ref).expanduser().absolute())  # recorded, so it must not depend on cwd
    return Secret(kind=kind, ref=ref, setting="escrow key password",  # type: ignore[arg-type]
                  base_dir=Path.cwd())


def _restic(ctx: CommandContext, location: Location, password: Secret,
            on_exec: Callable[[list[str]], None] | None) -> Restic:
    return ctx.restic(location, password=password, timeout=600, on_exec=on_exec)


def _usable(location: Location) -> str:
    """'' when the location can be worked on now, else why not."""
    check = preflight(location)
    if location.offline and not check.present:
        return "skipped:offline location not present"
    if check.reachable is False:
        return "failed:" + ("; ".join(check.notes) or "unreachable")
    return ""


def _reachable(ctx: CommandContext, outcomes: list[KeyOutcome]) -> Iterator[Location]:
    """The locations restic can reach now; each other one is recorded as skipped or failed."""
    for location in ctx.locations():
        problem = _usable(location)
        if problem:
            result, _, detail = problem.partition(":")
            outcomes.append(KeyOutcome(location.name, result, detail=detail))
            continue
        yield location


def add_escrow_key(settings: Settings | CommandContext, escrow: Secret, *, user: str = DEFAULT_USER,
                   host: str = DEFAULT_HOST,
                   on_exec: Callable[[list[str]], None] | None = None) -> list[KeyOutcome]:
    """Add the escrow key to every repository (idempotent: where it already opens the
    repository nothing is added) and record its id per location."""
    ctx = CommandContext.of(settings)
    ours = ctx.password
    if escrow.reveal() == ours.reveal():
        raise UsageError("the escrow password is the repository password",
                         "the escrow key must have its own password, so it can be revoked")
    db = ctx.db
    label = f"{user}@{host}"
    outcomes: list[KeyOutcome] = []
    for location in _reachable(ctx, outcomes):
        org = _restic(ctx, location, ours, on_exec)
        agent = _restic(ctx, location, escrow, on_exec)
        try:
            org.current_key_id()  # our own key must open it first (clear error otherwise)
            try:
                key_id = agent.current_key_id()
                result = "exists"
            except WrongPassword:
                org.key_add(escrow, user=user, host=host)
                key_id = agent.current_key_id()
                result = "added"
        except StorageError as exc:
            outcomes.append(KeyOutcome(location.name, "failed", detail=exc.one_line()))
            continue
        escrowdb.record_key(db, location.name, key_id, label=label,
                            password_ref=escrow.describe())
        outcomes.append(KeyOutcome(location.name, result, key_id))
    return outcomes


def list_keys(settings: Settings | CommandContext, *,
              on_exec: Callable[[list[str]], None] | None = None) -> dict[str, Any]:
    """Per location every restic key, each marked ``vaultkeeper`` (ours), ``escrow``
    (recorded by `escrow key add`) or ``other``; recorded escrow keys that are gone are
    reported as problems."""
    ctx = CommandContext.of(settings)
    ours = ctx.password
    db = ctx.db
    recorded: dict[str, dict[str, dict[str, Any]]] = {}
    for row in escrowdb.active_keys(db):
        recorded.setdefault(row["location"], {})[row["key_id"]] = row
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for location in ctx.locations():
        entry: dict[str, Any] = {"location": location.name, "keys": [], "error": ""}
        rows.append(entry)
        problem = _usable(location)
        if problem:
            entry["error"] = problem.partition(":")[2]
            continue
        try:
            keys = _restic(ctx, location, ours, on_exec).key_list()
        except StorageError as exc:
            entry["error"] = exc.one_line()
            continue
        mine = recorded.get(location.name, {})
        for key in keys:
            role = ("vaultkeeper" if key.current else "escrow" if key.id in mine else "other")
            entry["keys"].append({"id": key.id, "user": key.user, "host": key.host,
                                  "created": key.created, "role": role,
                                  "password_ref": mine.get(key.id, {}).get("password_ref", "")})
        present = {k.id for k in keys}
        for key_id in mine:
            if key_id not in present:
                problems.append(f"{location.name}: escrow key {key_id} is recorded but no longer "
                                "in the repository (removed by hand?)")
    return {"locations": rows, "problems": problems}


def revoke_escrow_key(settings: Settings | CommandContext, key_id: str | None = None, *,
                      location_name: str | None = None,
                      on_exec: Callable[[list[str]], None] | None = None) -> list[KeyOutcome]:
    """Remove the escrow key: ``key_id`` where it exists, or (None) every recorded active
    escrow key. The key vaultkeeper itself uses is refused before anything is removed."""
    ctx = CommandContext.of(settings)
    ours = ctx.password
    db = ctx.db
    locations = ctx.locations()
    if location_name is not None:
        locations = [loc for loc in locations if loc.name == location_name]
        if not locations:
            raise UsageError(f"no location named {location_name!r}",
                             "see the names in `vaultkeeper locations check`")
    active: dict[str, list[str]] = {}
    for row in escrowdb.active_keys(db):
        active.setdefault(row["location"], []).append(row["key_id"])
    if key_id is None and not any(active.get(loc.name) for loc in locations):
        raise UsageError("no escrow key is recorded for these locations",
                         "see `vaultkeeper escrow key list`; give a KEY_ID to remove another key")
    plan: list[tuple[Location, Restic, list[str]]] = []
    outcomes: list[KeyOutcome] = []
    for location in locations:
        problem = _usable(location)
        if problem:
            result, _, detail = problem.partition(":")
            outcomes.append(KeyOutcome(location.name, result, key_id or "", detail))
            continue
        restic = _restic(ctx, location, ours, on_exec)
        try:
            keys = restic.key_list()
        except StorageError as exc:
            outcomes.append(KeyOutcome(location.name, "failed", key_id or "", exc.one_line()))
            continue
        current = next((k.id for k in keys if k.current), "")
        wanted = [key_id] if key_id is not None else active.get(location.name, [])
        for wanted_id in wanted:
            if current and (current.startswith(wanted_id) or wanted_id.startswith(current)):
                raise UsageError(f"key {wanted_id} at {location.name} is the key vaultkeeper "
                                 "itself uses (the [repository] password)",
                                 "revoke the escrow key instead: see `vaultkeeper escrow key "
                                 "list`; nothing was removed")
        present = [w for w in wanted if any(k.id.startswith(w) for k in keys)]
        if present and (location.append_only or location.immutable):
            # restic would retry the refused delete for about a minute, then print a trace.
            outcomes += [KeyOutcome(
                location.name, "failed", w,
                "append-only/immutable location: restic cannot delete the key file; remove "
                f"keys/{w}… on the server itself (until then this key still opens it)")
                for w in present]
            continue
        plan.append((location, restic, present))
        for gone in (w for w in wanted if not any(k.id.startswith(w) for k in keys)):
            escrowdb.revoke_key(db, location.name, gone)
            outcomes.append(KeyOutcome(location.name, "not-found", gone,
                                       "no such key in this repository"))
    for location, restic, ids in plan:
        for wanted_id in ids:
            try:
                restic.key_remove(wanted_id)
            except IdNotFound:
                outcomes.append(KeyOutcome(location.name, "not-found", wanted_id))
                continue
            except StorageError as exc:
                outcomes.append(KeyOutcome(location.name, "failed", wanted_id, exc.one_line()))
                continue
            escrowdb.revoke_key(db, location.name, wanted_id)
            outcomes.append(KeyOutcome(location.name, "removed", wanted_id))
    return outcomes


def verify_password(settings: Settings | CommandContext, password: str, *,
                    on_exec: Callable[[list[str]], None] | None = None) -> list[KeyOutcome]:
    """Does a recovered password open every repository? (``opens`` | ``rejected`` |
    ``skipped`` | ``failed`` per location.) The password goes to restic through a private
    0600 file that is removed afterwards."""
    ctx = CommandContext.of(settings)
    with private_workdir(ctx.state_dir, "vk-recovered") as folder:
        path = folder / "password"
        write_private(path, password + "\n", exclusive=True)
        secret = Secret(kind="file", ref=str(path), setting="recovered password")
        outcomes: list[KeyOutcome] = []
        for location in _reachable(ctx, outcomes):
            try:
                key_id = _restic(ctx, location, secret, on_exec).current_key_id()
                outcomes.append(KeyOutcome(location.name, "opens", key_id))
            except WrongPassword:
                outcomes.append(KeyOutcome(location.name, "rejected",
                                           detail="the recovered password does not open it"))
            except StorageError as exc:
                outcomes.append(KeyOutcome(location.name, "failed", detail=exc.one_line()))
        return outcomes
