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
    """The real entry point answers --help; then every command's help runs in-process (one
    interpreter start per command made this test a measure of machine load, not of help)."""
    from typer.testing import CliRunner

    result = subprocess.run([sys.executable, "-m", "vaultkeeper", "--help"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "Usage" in result.stdout
    runner = CliRunner()
    for path, _ in all_commands():
        done = runner.invoke(app, [*path[1:], "--help"])
        assert done.exit_code == 0 and "Usage" in done.output, (path, done.output)


def test_quickstart_names_what_the_demo_leaves(tmp_path):
    """Every file the quickstart says the demo leaves behind exists after the demo's steps
    (run here without its S3 server: the local locations, the drill, its report)."""
    import re

    vk = [sys.executable, "-m", "vaultkeeper"]
    run = lambda *a: subprocess.run([*vk, *a], cwd=tmp_path, capture_output=True,  # noqa: E731
                                    text=True, timeout=600)
    assert run("init", "--demo", "--dir", "demo").returncode == 0
    config = tmp_path / "demo" / "vaultkeeper.toml"
    text = config.read_text()
    config.write_text(re.sub(r"\[\[locations\]\]\n# Off-site.*?\n\n(?=\[schedule\])", "", text,
                             flags=re.S))
    for step in (["locations", "init"], ["backup"],
                 ["drill", "--html", "demo/drill-report.html"]):
        done = run("--config", "demo/vaultkeeper.toml", *step)
        assert done.returncode == 0, (step, done.stderr)
    quickstart = (ROOT / "docs" / "quickstart.md").read_text()
    promised = [p for line in quickstart.splitlines() if line.startswith("- `demo/")
                for p in re.findall(r"`(demo/[^`\s]+)`", line) if not p.startswith("demo/s3")]
    assert len(promised) >= 5, promised
    missing = [p for p in promised if not (tmp_path / p).exists()]
    assert missing == [], missing
