"""Helpers for the files tests: a configuration reading a running sandbox as HubSpot or
Salesforce with files on, and reading an export's files part."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from vk_backup import make_config

TOKEN_VAR = "VK_FILES_TEST_TOKEN"
OBJECTS = {"hubspot": '["notes", "contacts"]', "salesforce": '["Task", "Contact"]'}


def files_config(root: Path, sb: Any, vendor: str, *, files: str = "{}",
                 extra: str = "") -> Path:
    """make_config's layout (key, one local location "nas"), reading ``sb`` as ``vendor``."""
    config = make_config(root, locations=[("nas", str(root / "loc" / "nas"))])
    text = config.read_text(encoding="utf-8")
    _, _, rest = text.partition("[repository]")
    source = (f'[source]\nconnector = "{vendor}"\nbase_url = "{sb.url}"\n'
              f'token = {{ env = "{TOKEN_VAR}" }}\nca_file = "{sb.ca_file}"\n'
              f"objects = {OBJECTS[vendor]}\nfiles = {files}\nmax_retries = 4\n{extra}\n")
    config.write_text(source + "[repository]" + rest, encoding="utf-8")
    return config


def run(config: Path, sb: Any, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """The real CLI with the sandbox's token in the environment."""
    return subprocess.run([sys.executable, "-m", "vaultkeeper", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **{TOKEN_VAR: sb.token}))


def index(export: Path) -> list[dict[str, Any]]:
    """The lines of files/index.ndjson."""
    path = export / "files" / "index.ndjson"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def sf_file_id(f: Any) -> str:
    """The Salesforce id a sandbox file is exported under (ContentVersion, Attachment or
    Document)."""
    from vaultkeeper.sandbox.file_routes import attachment_id, legacy_document_id, version_id

    if f.owner == "Document":
        return legacy_document_id(f)
    return attachment_id(f) if f.legacy_attachment else version_id(f)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
