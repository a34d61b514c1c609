"""Backup locations: create the restic repositories (``locations init``) and report each
location's health (``locations check``)."""

from __future__ import annotations

from typing import Any

from vaultkeeper.config import Settings
from vaultkeeper.errors import StorageError
from vaultkeeper.restic import Restic
from vaultkeeper.services.context import CommandContext
from vaultkeeper.storage.locations import mark_local, preflight

CHECK_TIMEOUT = 120.0


def init_locations(settings: Settings | CommandContext) -> list[dict[str, Any]]:
    """Create the repository at every location (idempotent): one row per location with its
    ``result`` (created, exists, skipped, failed) and ``detail``.

    The first location gets a plain ``restic init``; every other one copies its chunker
    parameters so deduplication survives ``restic copy``. Absent offline locations are skipped.
    """
    ctx = CommandContext.of(settings)
    ctx.password  # noqa: B018 - the guard: no password, no repository
    results: list[dict[str, Any]] = []
    first: Restic | None = None
    for location in ctx.locations():
        restic = ctx.restic(location)
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
                                f"(chunking copied from {first.location.name}, so copies "
                                "deduplicate)"})
            if location.kind == "local":
                mark_local(location)
            first = first or restic
        except StorageError as exc:
            results.append({"location": location.name, "result": "failed",
                            "detail": exc.one_line()})
    return results


def check_locations(settings: Settings | CommandContext) -> list[dict[str, Any]]:
    """Per location: present, reachable, credentials, repository initialised and opened by the
    password; for S3 buckets versioning and Object Lock. ``problems`` lists what is wrong."""
    ctx = CommandContext.of(settings)
    rows = []
    for location in ctx.locations():
        pre = preflight(location)
        row: dict[str, Any] = {
            "location": location.name, "url": location.display_url, "kind": location.kind,
            "offline": location.offline, "append_only": location.append_only,
            "immutable": location.immutable, "present": pre.present,
            "reachable": pre.reachable, "credentials_ok": pre.credentials_ok,
            "versioning": pre.versioning, "object_lock": pre.object_lock,
            "repository": None, "problems": list(pre.notes)}
        if pre.reachable is not False and pre.present and ctx.settings.repository_password:
            try:
                restic = ctx.restic(location, timeout=CHECK_TIMEOUT)
                row["repository"] = "ok" if restic.is_initialised() else "missing"
                if row["repository"] == "missing":
                    row["problems"].append("no repository: run `vaultkeeper locations init`")
            except StorageError as exc:
                row["repository"] = "error"
                row["problems"].append(exc.one_line())
        elif not pre.present:
            row["problems"].append("offline location not present (fine for a removable disk)")
        rows.append(row)
    return rows


def has_problems(rows: list[dict[str, Any]]) -> bool:
    """Whether a location (other than an absent offline disk) has a problem."""
    return any(r["problems"] and not (r["offline"] and not r["present"]) for r in rows)
