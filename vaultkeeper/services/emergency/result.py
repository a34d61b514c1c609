"""What an emergency build is told and what it returns: the package's file names, the
progress observer, the provenance and the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultkeeper.errors import UsageError

FORMAT = "vaultkeeper-emergency/1"
PACKAGE_JSON = "package.json"
SIGNATURE = "package.json.sig"
PUBLIC_KEY = "signing-key.pub"
CHECKSUMS = "SHA256SUMS"
EXPORT_MANIFEST = "export-manifest.json"


class BuildObserver:
    """Progress of a build; the CLI draws bars from it. The default does nothing."""

    def stage(self, name: str, total: int | None) -> None:
        """A stage starts (``total`` records when known)."""

    def advance(self, records: int) -> None:
        """``records`` more records of the current stage are done."""


@dataclass
class Provenance:
    """Where the export came from, as the runbook and package.json tell it."""

    kind: str = "export"             # snapshot | fresh-export | export
    snapshot_id: str = ""
    location: str = ""
    drill: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    suppressed: dict[str, Any] = field(default_factory=dict)
    """Erased persons left out (counts only; services/privacy/suppress.py)."""

    def as_json(self) -> dict[str, Any]:
        """For package.json."""
        return {"kind": self.kind, "snapshot_id": self.snapshot_id, "location": self.location,
                "drill": self.drill, "warnings": self.warnings, "notes": self.notes,
                "suppressed": self.suppressed}


@dataclass
class PackageResult:
    """What was built."""

    out: Path
    target: str
    counts: dict[str, int]
    relations: dict[str, int]
    entities: dict[str, dict[str, int]]
    sample: dict[str, int]
    duplicates: int
    valid: bool
    validation_errors: list[str]
    warnings: list[str]
    fingerprint: str
    files: int
    provenance: Provenance
    placement: dict[str, Any] = field(default_factory=dict)
    """Where every record went (``Placement.as_json()``)."""
    mapping: dict[str, Any] = field(default_factory=dict)
    """The canonical mapping used: its file, or ``inferred`` with per-field confidence."""
    archive: Path | None = None

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"out": str(self.out), "target": self.target, "counts": self.counts,
                "relations": self.relations, "entities": self.entities, "sample": self.sample,
                "duplicate_candidates": self.duplicates, "valid": self.valid,
                "validation_errors": self.validation_errors, "warnings": self.warnings,
                "signing_key_fingerprint": self.fingerprint, "files": self.files,
                "source": self.provenance.as_json(),
                "suppressed": self.provenance.suppressed, "placement": self.placement,
                "gap_records": self.placement.get("gap_records", 0), "mapping": self.mapping,
                "archive": str(self.archive) if self.archive else None}


def prepare_out(out: Path) -> None:
    """A new or empty folder, created private (the package holds personal data)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if out.is_dir() and (out / "data").is_dir() and not (out / CHECKSUMS).exists():
            raise UsageError(f"{out} holds a package a stopped run left half-written (it has "
                             f"data/ but no {CHECKSUMS}, the last file a build writes)",
                             "delete that folder (it holds personal data), then run again; "
                             "a package is never written over another")
        raise UsageError(f"{out} exists and is not an empty folder",
                         "choose a new --out folder (a package is never written over another)")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    out.chmod(0o700)
