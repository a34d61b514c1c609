"""Lifecycle, TLS, determinism over the wire, and the ``vaultkeeper sandbox serve`` command."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import requests

from vaultkeeper.crypto import generate_self_signed_cert
from vaultkeeper.sandbox import Sandbox
from vaultkeeper.sandbox import hs_schema as hs


def _sandbox_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("vaultkeeper-sandbox")]


def test_stop_is_quick_frees_the_port_and_leaves_nothing(make_api: Any) -> None:
    before = set(_sandbox_threads())  # the session-wide sandbox may be running too
    sb = Sandbox(records=100, seed=1).start()
    tmp = sb.ca_file.parent if sb.ca_file else None
    assert tmp is not None and stat.S_IMODE(tmp.stat().st_mode) == 0o700
    # Several idle keep-alive connections stay open while we stop.
    clients = [make_api(sb) for _ in range(3)]
    for c in clients:
        assert c.get("/crm/v3/objects/contacts", limit=1).status_code == 200
    port = sb.port
    start = time.monotonic()
    sb.stop()
    assert time.monotonic() - start < 3
    assert set(_sandbox_threads()) <= before
    assert not tmp.exists()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    for c in clients:
        c.client.close()


def test_cert_dir_is_kept_and_reused(tmp_path: Path) -> None:
    with Sandbox(records=10, cert_dir=tmp_path) as sb:
        assert sb.ca_file == tmp_path / "cert.pem"
        first = sb.ca_file.read_bytes()
    assert stat.S_IMODE((tmp_path / "key.pem").stat().st_mode) == 0o600
    with Sandbox(records=10, cert_dir=tmp_path) as sb:
        assert sb.ca_file is not None and sb.ca_file.read_bytes() == first


def test_certificate_verifies_by_ip_and_name(tmp_path: Path) -> None:
    cert, key = generate_self_signed_cert(tmp_path)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    decoded = ssl._ssl._test_decode_cert(str(cert))  # type: ignore[attr-defined]
    assert ("IP Address", "127.0.0.1") in decoded["subjectAltName"]
    assert ("DNS", "localhost") in decoded["subjectAltName"]
    with Sandbox(records=10, cert_dir=tmp_path) as sb:
        for host in ("127.0.0.1", "localhost"):
            url = f"https://{host}:{sb.port}/services/data/"
            ctx = ssl.create_default_context(cafile=str(cert))  # strict verification
            assert httpx.get(url, verify=ctx, trust_env=False).status_code == 200
            s = requests.Session()
            s.verify, s.trust_env = str(cert), False
            assert s.get(url).status_code == 200


def test_plain_http() -> None:
    with Sandbox(records=10, tls=False) as sb:
        assert sb.url.startswith("http://") and sb.ca_file is None
        r = httpx.get(f"{sb.url}/crm/v3/objects/contacts",
                      headers={"Authorization": f"Bearer {sb.token}"}, trust_env=False)
        assert r.status_code == 200 and len(r.json()["results"]) == 10


def _snapshot(sb: Sandbox) -> list[Any]:
    headers = {"Authorization": f"Bearer {sb.token}"}
    ctx = ssl.create_default_context(cafile=str(sb.ca_file))
    with httpx.Client(base_url=sb.url, verify=ctx, trust_env=False, headers=headers) as c:
        props = ",".join(hs.property_names("contacts"))
        out = [c.get("/crm/v3/objects/contacts", params={"limit": 100, "properties": props,
                                                         "after": "1101"}).json()["results"],
               c.get("/crm/v3/objects/notes",
                     params={"archived": "true", "associations": "contacts"}).json()["results"],
               c.get("/services/data/v59.0/query/", params={
                   "q": "SELECT Id, Name, MailingAddress, AccountId FROM Contact"}).json()]
    return out


def test_same_seed_same_bytes_other_seed_other_data() -> None:
    with Sandbox(records=400, seed=21) as a, Sandbox(records=400, seed=21) as b, \
            Sandbox(records=400, seed=22) as c:
        assert _snapshot(a) == _snapshot(b)
        assert _snapshot(a)[0] != _snapshot(c)[0]
        assert a.expected() == b.expected()


def test_expected_is_a_copy_and_stats_count(sb: Sandbox, api: Any) -> None:
    expected = sb.expected()
    expected["hubspot"]["contacts"]["live"] = -1
    assert sb.expected()["hubspot"]["contacts"]["live"] > 0
    before = sb.stats()["requests"]
    api.get("/crm/v3/objects/contacts", limit=1)
    api.get("/nope")
    stats = sb.stats()
    assert stats["requests"] == before + 2
    assert stats["status"]["200"] >= 1 and stats["status"]["404"] >= 1
    assert stats["hubspot"]["requests"] >= 2


def _cli(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTKEEPER_")}
    return subprocess.Popen([sys.executable, "-m", "vaultkeeper", "sandbox", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_cli_serves_until_sigterm_and_exits_0() -> None:
    proc = _cli("--port", "0", "--records", "300", "--seed", "4", "--faults", "slow:ms=1",
                "--json")
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["url"].startswith("https://127.0.0.1:") and info["token"] == "sandbox-token"
        assert info["hubspot"]["contacts"]["total"] == 300
        ctx = ssl.create_default_context(cafile=info["ca_file"])
        r = httpx.get(f"{info['url']}/crm/v3/objects/contacts", verify=ctx, trust_env=False,
                      headers={"Authorization": f"Bearer {info['token']}"})
        assert r.status_code == 200
        with Sandbox(records=300, seed=4, tls=False) as same:
            local = httpx.get(f"{same.url}/crm/v3/objects/contacts", trust_env=False,
                              headers={"Authorization": f"Bearer {same.token}"}).json()
        assert r.json()["results"] == local["results"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=180)   # a CLI start; generous on a loaded machine
    assert proc.returncode == 0, err
    for text in (info["url"], info["ca_file"], "sandbox-token", "contacts", "300",
                 "hubspot.Client.create", "Salesforce(instance_url="):
        assert text in err
    assert not Path(info["ca_file"]).exists()  # the temporary certificate is gone


def test_cli_rejects_unknown_faults_with_usage_error() -> None:
    proc = _cli("--faults", "429,explode", "--port", "0")
    _, err = proc.communicate(timeout=180)   # a CLI start; generous on a loaded machine
    assert proc.returncode == 2
    assert "unknown fault 'explode'" in err and "429" in err and "malformed" in err
