"""A SIGTERM while typer builds the command line ends in exit 130, not a death by SIGINT.

Typer evaluates every command's string annotations with ``eval()`` while it builds the CLI —
seconds of the start-up on a loaded machine. A KeyboardInterrupt raised inside a string
``eval()`` leaves CPython's "KeyboardInterrupt went unhandled" mark set even though
``main.run`` handles it, and ``python -m vaultkeeper`` then exited by SIGINT (-2) after
printing the clean "Interrupted" line (the crash harness's drill kills #7 and #17, and drill
#3 of the next campaign, all in the start-up, before the drill had recorded anything).
Reproduced here deterministically: the child sends itself SIGTERM from inside the first
``typer.Option(...)`` call that an annotation's ``eval()`` makes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHILD = '''
import os, signal, sys

import typer

sys.argv = ["vaultkeeper", "status"]     # any command: typer builds the whole CLI first
from vaultkeeper.cli import main        # noqa: E402

real_option = typer.Option
sent = []


def option(*args, **kwargs):
    """The first typer.Option(...) an annotation's eval() calls: SIGTERM lands right here."""
    if not sent:
        sent.append(True)
        os.kill(os.getpid(), signal.SIGTERM)
    return real_option(*args, **kwargs)


typer.Option = option
main.run()
'''


def test_sigterm_inside_typers_annotation_eval_exits_130(tmp_path: Path) -> None:
    (tmp_path / "vk_eval_child.py").write_text(CHILD, encoding="utf-8")
    env = dict(os.environ, VAULTKEEPER_CONFIG=str(tmp_path / "absent.toml"))
    # `-m`: the way the harness (and a unit file) runs vaultkeeper; CPython exits by SIGINT
    # for the mark only on that path.
    done = subprocess.run([sys.executable, "-m", "vk_eval_child"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 130, (done.returncode, done.stderr[-2000:])
    assert "Interrupted" in done.stderr
    assert "Traceback" not in done.stderr
