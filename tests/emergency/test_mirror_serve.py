"""`vaultkeeper mirror serve`: a read-only Datasette view of the mirror, over real HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import sqlite_utils


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_mirror_is_served_read_only(tmp_path):
    path = tmp_path / "mirror.db"
    db = sqlite_utils.Database(path)
    db["contacts"].insert_all([
        {"id": "1001", "firstname": "Zoë", "lastname": "Ångström", "email": "zoe@example.org",
         "_archived": 0, "_raw": "{}"},
        {"id": "1002", "firstname": "Liam", "lastname": "Okafor", "email": "liam@example.org",
         "_archived": 1, "_raw": "{}"}], pk="id")
    db.close()
    before = path.read_bytes()
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vaultkeeper", "--config",
                             str(tmp_path / "none.toml"), "mirror", "serve", "--db", str(path),
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/-/versions.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        page = httpx.get(f"{base}/mirror/contacts", params={"firstname": "Zoë"})
        assert page.status_code == 200 and "Ångström" in page.text
        rows = httpx.get(f"{base}/mirror/contacts.json", params={"_shape": "array"}).json()
        assert {r["id"] for r in rows} == {"1001", "1002"}
        write = httpx.get(f"{base}/mirror.json",
                          params={"sql": "delete from contacts", "_shape": "array"})
        assert write.status_code >= 400
        assert httpx.get(f"{base}/mirror.db").status_code in (403, 404)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert path.read_bytes() == before


def test_missing_mirror_is_a_clear_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "vaultkeeper", "--config",
                             str(tmp_path / "none.toml"), "mirror", "serve", "--db",
                             str(tmp_path / "nope.db")], capture_output=True, text=True)
    assert result.returncode == 2 and "run `vaultkeeper drill` first" in result.stderr
