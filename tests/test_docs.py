"""Docs follow code: generated references are current, every command explains itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer.main

from vaultkeeper.cli.main import app

ROOT = Path(__file__).resolve().parent.parent


def all_commands():
    sys.path.insert(0, str(ROOT / "scripts"))
    from gen_docs import walk

    return walk(typer.main.get_command(app), ["vaultkeeper"])


def test_generated_docs_are_current():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_command_has_help():
    commands = all_commands()
    names = {" ".join(p) for p, _ in commands}
    assert {"vaultkeeper export", "vaultkeeper init", "vaultkeeper config check",
            "vaultkeeper sandbox serve"} <= names
    for path, cmd in commands:
        assert (cmd.help or "").strip(), f"{' '.join(path)} has no help text"
        for param in cmd.params:
            if param.param_type_name == "option" and not param.hidden:
                assert (param.help or "").strip(), f"{' '.join(path)} {param.opts} has no help"


def test_readme_commands_exist_and_ci_calls_the_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for script in ("scripts/demo.sh", "scripts/test.sh"):
        assert f"bash {script}" in readme and (ROOT / script).exists()
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_help_runs_for_every_command():
    for path, _ in all_commands():
        result = subprocess.run([sys.executable, "-m", "vaultkeeper", *path[1:], "--help"],
                                capture_output=True, text=True)
        assert result.returncode == 0 and "Usage" in result.stdout, path
