"""A SIGTERM that arrives after a command has finished its work — while the interpreter shuts
down — must not replace the command's exit code with a death by signal (the crash harness saw
a killed `drill` end with -2 instead of 130; systemd and cron read that as a crash).

Python resets its signal handlers to the default while it finalises, and waits for non-daemon
threads before that; on a loaded machine both take seconds. A non-daemon thread that sleeps
holds the process in that window here, deterministically."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

CHILD = """
import sys, threading, time
sys.argv = ["vaultkeeper", "--version"]
threading.Thread(target=time.sleep, args=(6,)).start()   # holds the interpreter's shutdown
from vaultkeeper.cli.main import run
run()
"""


def _term_after_output(child: str, *, on_stderr: bool = False) -> tuple[int, str, str]:
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    stream = proc.stderr if on_stderr else proc.stdout
    assert stream is not None
    line = stream.readline()               # the command's work is done once it printed
    time.sleep(1.0)                        # now inside the shutdown (the sleeping thread)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, line + out + err, err


@pytest.mark.timeout(300)
def test_sigterm_during_shutdown_keeps_the_exit_code() -> None:
    code, out, err = _term_after_output(CHILD)
    assert "vaultkeeper" in out
    assert code == 0, (code, err[-2000:])
    assert "Traceback" not in err


@pytest.mark.timeout(300)
def test_sigterm_during_shutdown_after_an_error_keeps_its_exit_code() -> None:
    child = CHILD.replace('["vaultkeeper", "--version"]',
                          '["vaultkeeper", "--config", "/nonexistent/vk.toml", "status"]')
    code, both, err = _term_after_output(child, on_stderr=True)
    assert "Error:" in both
    assert code == 5, (code, both[-2000:])         # the configuration error's own code
    assert "Traceback" not in err
