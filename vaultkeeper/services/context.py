"""The command context: what every service needs, built once per command (or scheduled job).

``CommandContext(settings)`` holds the settings, the policies (loaded on first use, then kept),
the state database (opened on first use, then kept), the repository password (``password``
raises the one "no repository password configured" error), ``restic(location)`` and the
locations (``locations()``, ``usable_locations()``); ``restore_export`` brings one snapshot's
export back into a private folder. Creating one removes the private work
folders that killed runs left in the state directory (``privatefs.sweep_leftovers``).

Services take ``Settings | CommandContext`` (``CommandContext.of``), so a caller that already
holds a context shares its policies and database, and older callers keep working.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultkeeper.config import Secret, Settings
from vaultkeeper.db import open_state_db
from vaultkeeper.errors import StorageError, UsageError
from vaultkeeper.exportfmt import find_export_root
from vaultkeeper.policies import Policies, load_policies
from vaultkeeper.privatefs import sweep_leftovers
from vaultkeeper.restic import DEFAULT_TIMEOUT, Restic, Snapshot
from vaultkeeper.storage.locations import Location, preflight, resolve_locations

CACHE = "cache"


@dataclass
class CommandContext:
    """Settings plus everything derived from them that a command uses more than once."""

    settings: Settings
    _policies: Policies | None = field(default=None, repr=False)
    _db: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        sweep_leftovers(self.settings.state_dir)

    @classmethod
    def of(cls, given: Settings | CommandContext) -> CommandContext:
        """``given`` itself when it is a context, else a new context for these settings."""
        return given if isinstance(given, CommandContext) else cls(given)

    @property
    def state_dir(self) -> Path:
        """The private state directory."""
        return self.settings.state_dir

    @property
    def policies(self) -> Policies:
        """Every policy, read once."""
        if self._policies is None:
            self._policies = load_policies(self.settings.policies_dir)
        return self._policies

    @property
    def db(self) -> Any:
        """The state database (``sqlite_utils.Database``), opened once."""
        if self._db is None:
            self._db = open_state_db(self.settings.state_dir)
        return self._db

    @property
    def password(self) -> Secret:
        """The repository password; a StorageError naming the fix when none is configured."""
        if self.settings.repository_password is None:
            raise StorageError("no repository password configured",
                               'set [repository] password = { file = "…" } (mode 0600)')
        return self.settings.repository_password

    def restic(self, location: Location, *, password: Secret | None = None,
               timeout: float = DEFAULT_TIMEOUT,
               on_exec: Callable[[list[str]], None] | None = None) -> Restic:
        """restic for ``location`` with the repository password (or ``password``, e.g. the
        escrow key's), the shared cache and the configuration's folder as working directory."""
        return Restic(location, password or self.password, cache_dir=self.state_dir / CACHE,
                      cwd=self.settings.base_dir, timeout=timeout, on_exec=on_exec)

    def locations(self) -> list[Location]:
        """Every configured location, in configuration order."""
        return resolve_locations(self.settings)

    def usable_locations(self, among: list[Location] | None = None) -> list[Location]:
        """The locations (``among``, default every one) that are present (offline disks
        connected) and not known to be unreachable."""
        usable = []
        for location in self.locations() if among is None else among:
            check = preflight(location)
            if check.present and check.reachable is not False:
                usable.append(location)
        return usable


def restore_export(restic: Restic, snapshot: Snapshot, target: Path, fix: str) -> Path:
    """Restore ``snapshot`` into the new private folder ``target``; the export inside it, or a
    UsageError (with ``fix``) when the snapshot holds no manifest.json."""
    target.mkdir(mode=0o700)
    restic.restore(snapshot.id, target)
    root = find_export_root(target)
    if root is None:
        raise UsageError(f"snapshot {snapshot.short_id} holds no manifest.json", fix)
    return root
