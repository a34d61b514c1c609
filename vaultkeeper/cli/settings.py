"""Load settings for a command from the global --config option, the environment and flags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vaultkeeper.cli import state
from vaultkeeper.config import Settings, find_config_file, load_settings
from vaultkeeper.privatefs import sweep_leftovers


def load(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Settings for the current command (defaults < file < VAULTKEEPER_* env < flags).

    Every command loads its settings here, so every command also removes the private folders
    that killed runs left in the state directory (``privatefs.sweep_leftovers``)."""
    settings = load_settings(find_config_file(state.options.config), overrides=overrides)
    sweep_leftovers(settings.state_dir)
    return settings
