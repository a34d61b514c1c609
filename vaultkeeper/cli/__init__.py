"""The command line: the only place that imports typer and rich.

Started as the ``vaultkeeper`` program, SIGTERM and SIGHUP are caught from here on — before the
slow imports — and only remembered; ``main.run`` turns a remembered one into a clean
interruption (exit 130) once it can unwind properly."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

PENDING: list[int] = []
"""Signals received before ``main.run`` installed its handlers."""


def _remember(signum: int, frame: object) -> None:
    PENDING.append(signum)


if Path(sys.argv[0] if sys.argv else "").name in ("vaultkeeper", "__main__.py") and \
        threading.current_thread() is threading.main_thread():
    for _sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(_sig, _remember)
