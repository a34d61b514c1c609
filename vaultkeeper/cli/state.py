"""Global CLI options, set by the root callback and read by commands."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class GlobalOptions:
    """Options given before the command name."""

    config: Path | None = None
    debug: bool = False
    json_printed: bool = False   # set by render.print_json: the one JSON object is out


options = GlobalOptions()
