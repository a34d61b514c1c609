"""Load settings for a command from the global --config option, the environment and flags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vaultkeeper.cli import state
from vaultkeeper.config import Settings, find_config_file, load_settings


def load(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Settings for the current command (defaults < file < VAULTKEEPER_* env < flags)."""
    return load_settings(find_config_file(state.options.config), overrides=overrides)
