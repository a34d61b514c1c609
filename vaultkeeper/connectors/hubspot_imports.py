"""HubSpot's CRM imports API (v3): upload CSV files with their column mappings, read the result.

``POST /crm/v3/imports`` (multipart: ``importRequest`` JSON + ``files``), then
``GET /crm/v3/imports/{id}`` until ``DONE`` (or ``FAILED``/``CANCELED``) and
``GET /crm/v3/imports/{id}/errors`` for the rows HubSpot refused in part or whole.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from vaultkeeper.connectors.http import HttpClient
from vaultkeeper.errors import ConnectorError

_FINAL = ("DONE", "FAILED", "CANCELED")


@dataclass(frozen=True)
class ImportFile:
    """One CSV to import, with HubSpot's column mappings for it."""

    name: str
    content: bytes
    mappings: Sequence[dict[str, Any]]


@dataclass
class ImportResult:
    """HubSpot's counters and row errors for one import."""

    id: str
    state: str
    counters: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)


def _multipart(request: dict[str, Any], files: Sequence[ImportFile]) -> tuple[bytes, str]:
    boundary = f"vaultkeeper-{secrets.token_hex(12)}"
    out = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"importRequest\"\r\n"
           "Content-Type: application/json\r\n\r\n".encode() + orjson.dumps(request) + b"\r\n"]
    for f in files:
        out.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
                   f"filename=\"{f.name}\"\r\nContent-Type: text/csv\r\n\r\n".encode()
                   + f.content + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


class HubSpotImports:
    """Runs CSV imports against one portal."""

    def __init__(self, base_url: str, token: str, *, ca_file: Path | None = None,
                 timeout: float = 120.0, max_retries: int = 4) -> None:
        self.http = HttpClient(base_url, headers={"Authorization": f"Bearer {token}"},
                               ca_file=ca_file, timeout=timeout, max_retries=max_retries)

    def close(self) -> None:
        """Release the connection."""
        self.http.close()

    def run(self, name: str, files: Sequence[ImportFile], operations: dict[str, str], *,
            wait_s: float = 600.0) -> ImportResult:
        """Start one import and wait for HubSpot to finish it."""
        request = {"name": name, "importOperations": operations, "dateFormat": "YEAR_MONTH_DAY",
                   "files": [{"fileName": f.name, "fileFormat": "CSV", "fileImportPage": {
                       "hasHeader": True, "columnMappings": list(f.mappings)}} for f in files]}
        body, ctype = _multipart(request, files)
        job = self.http._json(lambda: self.http.request(
            "POST", "/crm/v3/imports", content=body, headers={"Content-Type": ctype}))
        job_id = str(job.get("id", ""))
        deadline = time.monotonic() + wait_s
        while str(job.get("state", "")) not in _FINAL:
            if time.monotonic() > deadline:
                raise ConnectorError(f"HubSpot import {job_id} did not finish in "
                                     f"{wait_s:.0f} s", "look at it in HubSpot's import list")
            time.sleep(1.0)
            job = self.http.get_json(f"/crm/v3/imports/{job_id}")
        errors = self.http.get_json(f"/crm/v3/imports/{job_id}/errors").get("results", [])
        counters = (job.get("metadata") or {}).get("counters") or {}
        return ImportResult(job_id, str(job["state"]), dict(counters), list(errors))
