"""A restic shim that records every argv vaultkeeper runs, so tests can prove no secret is in
them (the CLI runs in a subprocess, out of reach of the on_exec hook)."""

from __future__ import annotations

import os
import shutil
import stat

import pytest


class ArgvLog:
    def __init__(self, root):
        self.bin = root / "shim-bin"
        self.bin.mkdir()
        self.log = root / "restic-argv.log"
        real = shutil.which("restic")
        assert real, "restic not installed"
        shim = self.bin / "restic"
        # NUL-separated arguments, one invocation per line; then the real restic.
        shim.write_text("#!/bin/bash\n"
                        f"{{ printf '%s\\0' \"$@\"; printf '\\n'; }} >> '{self.log}'\n"
                        f"exec '{real}' \"$@\"\n")
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
        self.env = {"PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}"}

    def invocations(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [line.rstrip("\0").split("\0") for line in
                self.log.read_text().splitlines() if line]


@pytest.fixture
def argv_log(tmp_path):
    return ArgvLog(tmp_path)
