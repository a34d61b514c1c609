"""Configurations for the long-tail tests: a Singer tap or an Airbyte source from PyPI backing
up a local fake vendor API into a local restic location."""

from __future__ import annotations

import os
from pathlib import Path

from vk_backup import FAKE_SECRET
from vk_thirdparty import SHIM, link_connectors
from vk_vendor_apis import TOKEN, CloseAPI, PipedriveAPI

SINGER = "tap-pipedrive==2.1.0"
AIRBYTE = "airbyte-source-close-com==0.5.30"
CLOSE_RELATIONS = {"contacts.lead_id": "leads", "opportunities.lead_id": "leads",
                   "opportunities.contact_id": "contacts"}
RELATIONS = {"deals.person_id": "persons", "deals.org_id": "organizations"}
ARCHIVED = {"deals": '{ field = "status", equals = "deleted" }'}


def write_config(root: Path, connectors: Path, *, kind: str, package: str, api_url: str,
                 host: str, config: dict[str, str], relations: dict[str, str],
                 archived: dict[str, str], objects: tuple[str, ...],
                 token_key: str = "api_token") -> Path:
    """``root/vaultkeeper.toml`` for a third-party source; the connector's token is read from
    the environment variable ``PD_TOKEN``; its vendor host is pointed at ``api_url``."""
    root.mkdir(parents=True, exist_ok=True)
    key = root / "repository.key"
    key.write_text(FAKE_SECRET + "\n")
    key.chmod(0o600)
    link_connectors(root / "state", connectors)
    lines = [
        "[source]", f'connector = "{kind}"', f'package = "{package}"',
        "objects = [" + ", ".join(f'"{o}"' for o in objects) + "]", "",
        "[source.config]", f'{token_key} = {{ env = "PD_TOKEN" }}',
        *(f'{k} = "{v}"' for k, v in config.items()), "",
        "[source.environment]", f'PYTHONPATH = "{SHIM}"', f'VK_SANDBOX_URL = "{api_url}"',
        f'VK_SANDBOX_HOSTS = "{host}"', "",
        "[source.relations]", *(f'"{k}" = "{v}"' for k, v in relations.items()), "",
        "[source.archived]", *(f"{k} = {v}" for k, v in archived.items()), "",
        "[repository]", f'password = {{ file = "{key}" }}', "",
        "[[locations]]", 'name = "nas"', f'url = "{root / "loc" / "nas"}"', "",
        "[paths]", f'state_dir = "{root / "state"}"', "",
    ]
    path = root / "vaultkeeper.toml"
    path.write_text("\n".join(lines))
    return path


def singer_config(root: Path, connectors: Path, api: PipedriveAPI) -> Path:
    """tap-pipedrive (Pipedrive API v2) against ``api``."""
    return write_config(root, connectors, kind="singer", package=SINGER, api_url=api.url,
                        host="api.pipedrive.com", config={"start_date": "2020-01-01T00:00:00Z"},
                        relations=RELATIONS, archived=ARCHIVED,
                        objects=("deals", "persons", "organizations"))


def airbyte_config(root: Path, connectors: Path, api: CloseAPI) -> Path:
    """airbyte-source-close-com against ``api``."""
    return write_config(root, connectors, kind="airbyte", package=AIRBYTE, api_url=api.url,
                        host="api.close.com", config={"start_date": "2021-01-01"},
                        relations=CLOSE_RELATIONS, archived={}, token_key="api_key",
                        objects=("leads", "contacts", "opportunities"))


def token_env(token: str = TOKEN) -> dict[str, str]:
    """The environment a run needs: the connector's token by reference."""
    return {"PD_TOKEN": token, "PATH": os.environ.get("PATH", "")}
