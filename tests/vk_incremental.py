"""Helpers for the incremental-export tests: a sandbox config, writes, restic restores."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import httpx

TOKEN_VAR = "VK_TEST_INCR_TOKEN"
OBJ = {"hubspot": "contacts", "salesforce": "Contact"}
PARENT = {"hubspot": "companies", "salesforce": "Account"}
NAME_FIELD = {"hubspot": "firstname", "salesforce": "FirstName"}


def write_config(root: Path, sb, vendor: str, *, full_every: str | None = "5",
                 extra_source: str = "") -> Path:
    """A configuration backing the sandbox (``vendor`` flavour) up into one local location."""
    secrets = root / "secrets"
    secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets / "repository.key"
    key.write_text("VK-INCR-TEST-PASSWORD\n", encoding="utf-8")
    key.chmod(0o600)
    text = (f'[source]\nconnector = "{vendor}"\nbase_url = "{sb.url}"\n'
            f'token = {{ env = "{TOKEN_VAR}" }}\nca_file = "{sb.ca_file}"\n{extra_source}\n'
            f'[repository]\npassword = {{ file = "{key}" }}\n\n'
            f'[[locations]]\nname = "nas"\nurl = "{root / "loc" / "nas"}"\n\n')
    if full_every is not None:
        text += f"[schedule]\nfull_every = {full_every}\n"
    config = root / "vaultkeeper.toml"
    config.write_text(text, encoding="utf-8")
    return config


def vk(config: Path, sb, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The real CLI with the sandbox's token in the environment."""
    return subprocess.run([sys.executable, "-m", "vaultkeeper", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **{TOKEN_VAR: sb.token}))


def backup(config: Path, sb, ok: tuple[int, ...] = (0,)) -> dict:
    """``vaultkeeper backup --json``."""
    result = vk(config, sb, "backup", "--json")
    assert result.returncode in ok, (result.returncode, result.stderr[-2000:])
    return json.loads(result.stdout)


def snapshot_manifest(root: Path, snapshot_id: str) -> dict:
    """The manifest inside a snapshot, restored with the real restic."""
    target = root / f"restored-{snapshot_id[:8]}"
    env = dict(os.environ, RESTIC_PASSWORD_FILE=str(root / "secrets" / "repository.key"))
    subprocess.run(["restic", "-r", str(root / "loc" / "nas"), "restore", snapshot_id,
                    "--target", str(target)], check=True, capture_output=True, env=env)
    found = sorted(target.rglob("manifest.json"), key=lambda p: len(p.parts))
    return json.loads(found[0].read_text(encoding="utf-8"))


def full_export(config: Path, sb, out: Path) -> dict:
    """A real full export now (``vaultkeeper export``), its manifest."""
    result = vk(config, sb, "export", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def digests(manifest: dict) -> dict[str, tuple[int, str]]:
    """(count, content digest) of every object and relation file."""
    out = {f"objects/{n}": (e["count"], e["content_digest"])
           for n, e in manifest["objects"].items()}
    out |= {f"relations/{n}": (e["count"], e["content_digest"])
            for n, e in manifest["relations"].items()}
    return out


def client(sb) -> httpx.Client:
    """An HTTP client for writes to the sandbox, as an organisation's integration makes them."""
    return httpx.Client(base_url=sb.url, verify=ssl.create_default_context(cafile=sb.ca_file),
                        timeout=60,
                        headers={"Authorization": f"Bearer {sb.token}"})


def create(sb, vendor: str, names: list[str]) -> list[str]:
    """Create contacts through the vendor's API; their ids."""
    ids = []
    with client(sb) as http:
        for name in names:
            if vendor == "hubspot":
                response = http.post("/crm/v3/objects/contacts", json={"properties": {
                    "firstname": name, "lastname": "Incremental",
                    "email": f"{name.lower()}@incremental.example.org"}})
            else:
                response = http.post("/services/data/v59.0/sobjects/Contact",
                                     json={"FirstName": name, "LastName": "Incremental"})
            assert response.status_code in (200, 201), response.text
            ids.append(str(response.json()["id"]))
    return ids


def mutate(sb, vendor: str, round_no: int) -> dict[str, list[str]]:
    """Updates, archivals/deletions (a parent too) and creates, through the sandbox."""
    obj = OBJ[vendor]
    ids = sb.live_ids(obj, 30, start=40 * round_no)
    sb.overwrite(obj, {i: {NAME_FIELD[vendor]: f"Round{round_no}"} for i in ids[:10]})
    sb.archive(obj, ids[10:13])
    parents = sb.live_ids(PARENT[vendor], 1, with_relations=True, start=5 + round_no)
    sb.archive(PARENT[vendor], parents)
    created = create(sb, vendor, [f"New{round_no}a", f"New{round_no}b"])
    return {"updated": ids[:10], "archived": ids[10:13], "parents": parents,
            "created": created}
