"""`mirror serve --role`: a role sees only its processes' fields; sensitive columns are masked
unless the role allows them — checked over HTTP (JSON and SQL), and the raw mirror is not
served at all."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from servers import free_port
from vk_backup import make_config
from vk_testing import export_sandbox

from vaultkeeper.config import load_settings
from vaultkeeper.db.mirror import load_export
from vaultkeeper.policies import load_policies
from vaultkeeper.services.mirror_view import mapping_for
from vaultkeeper.services.privacy.roles import role_fields


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("roles")
    export_sandbox(root / "export", records=150, seed=3)
    load_export(root / "export", root / "mirror.db", info={
        "snapshot_id": "ab12cd34" * 8, "location": "nas",
        "snapshot_time": "2026-11-30T02:00:07+00:00",
        "loaded_at": "2026-11-30T06:01:00+00:00", "drill_id": "1"})
    return root / "mirror.db"


def _serve(config: Path, mirror: Path, role: str, work: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vaultkeeper", "--config", str(config),
                             "mirror", "serve", "--db", str(mirror), "--port", str(port),
                             "--role", role], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "TMPDIR": str(work)})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/-/versions.json", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.3)


def test_role_fields_follow_processes_and_mask_sensitive(tmp_path: Path, mirror: Path) -> None:
    config = make_config(tmp_path)
    policies = load_policies(load_settings(config).policies_dir)
    from vaultkeeper.canonical import load_canonical

    mapping = mapping_for(mirror, load_canonical(None))
    reception = role_fields(policies, mapping, "reception")
    # membership process: contacts.email/membership_* and companies.name, plus the role's own.
    assert set(reception["person"]) == {"email", "first_name", "last_name", "city"}
    assert set(reception["membership"]) == {"number", "status", "level"}
    assert reception["organisation"] == ("name",)
    assert reception["donation"] == ()
    fundraising = role_fields(policies, mapping, "fundraising")
    assert "gift_aid" in fundraising["donation"] and "amount" in fundraising["donation"]
    assert "birth_date" not in fundraising["person"]


def test_restricted_role_cannot_read_masked_column(tmp_path: Path, mirror: Path) -> None:
    config = make_config(tmp_path)
    policies = tmp_path / "policies"
    policies.mkdir(exist_ok=True)
    shipped = (Path(__file__).parents[2] / "policies" / "privacy.toml").read_text()
    # A role whose process needs the birth date — still masked, sensitive and not allowed.
    (policies / "privacy.toml").write_text(shipped + (
        '\n[roles.desk]\nprocesses = ["membership"]\n'
        'fields = { person = ["first_name", "birth_date"], donation = ["amount", "gift_aid"] }'
        "\n"))
    proc, base = _serve(config, mirror, "desk", tmp_path)
    try:
        people = httpx.get(f"{base}/staff/person.json", params={"_shape": "array"}).json()
        assert people and "first_name" in people[0] and "email" in people[0]
        assert all("birth_date" not in p and "phone" not in p for p in people)
        gifts = httpx.get(f"{base}/staff/donation.json", params={"_shape": "array"}).json()
        assert gifts and "amount" in gifts[0] and all("gift_aid" not in g for g in gifts)
        for sql in ("select birth_date from person", "select gift_aid from donation",
                    "select * from contacts"):
            answer = httpx.get(f"{base}/staff.json", params={"sql": sql})
            assert answer.status_code >= 400, sql
        assert httpx.get(f"{base}/mirror.json").status_code == 404   # no raw mirror
        assert httpx.get(f"{base}/mirror/contacts.json").status_code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # The same column for a role that is allowed it.
    proc, base = _serve(config, mirror, "fundraising", tmp_path)
    try:
        gifts = httpx.get(f"{base}/staff/donation.json", params={"_shape": "array"}).json()
        assert gifts and all("gift_aid" in g for g in gifts)
        assert any(g["gift_aid"] not in (None, "") for g in gifts)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_unknown_role_is_one_line(tmp_path: Path, mirror: Path) -> None:
    config = make_config(tmp_path)
    result = subprocess.run([sys.executable, "-m", "vaultkeeper", "--config", str(config),
                             "mirror", "serve", "--db", str(mirror), "--role", "nobody"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "no role named 'nobody'" in result.stderr and "reception" in result.stderr
