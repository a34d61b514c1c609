"""Re-check a package: checksums, signature, the data package against its schema, counts.

Every check runs (a failure does not hide the next one); each problem names the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from vaultkeeper import crypto
from vaultkeeper.errors import UsageError
from vaultkeeper.services.emergency.descriptor import validate_descriptor
from vaultkeeper.services.emergency.files import all_files, count_rows, sha256_file
from vaultkeeper.services.emergency.placement import check_placement
from vaultkeeper.services.emergency.result import (
    CHECKSUMS,
    EXPORT_MANIFEST,
    PACKAGE_JSON,
    PUBLIC_KEY,
    SIGNATURE,
)


@dataclass
class VerifyReport:
    """The outcome of each check, and every problem found."""

    path: Path
    checks: dict[str, str] = field(default_factory=dict)     # name → ok | failed | skipped
    problems: list[str] = field(default_factory=list)
    fingerprint: str = ""
    pinned: bool = False
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems

    def fail(self, check: str, problem: str) -> None:
        """Record a problem under a check."""
        self.checks[check] = "failed"
        self.problems.append(problem)

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"path": str(self.path), "ok": self.ok, "checks": self.checks,
                "problems": self.problems, "signing_key_fingerprint": self.fingerprint,
                "key_pinned": self.pinned, "counts": self.counts}


def verify_package(root: Path, *, public_key: Path | None = None,
                   frictionless: bool = True) -> VerifyReport:
    """Run every check on the package folder ``root``."""
    if not (root / PACKAGE_JSON).is_file():
        raise UsageError(f"{root} is not an emergency package (no {PACKAGE_JSON})",
                         "point at the folder `vaultkeeper emergency --out` wrote")
    report = VerifyReport(root)
    _checksums(root, report)
    manifest = _signature(root, report, public_key)
    if manifest is not None:
        _inventory(root, manifest, report)
        _counts(root, manifest, report)
        for problem in check_placement(root, manifest):
            report.fail("placement", problem)
        report.checks.setdefault("placement", "ok")
    if frictionless:
        errors = validate_descriptor(root)
        for error in errors:
            report.fail("datapackage", f"datapackage.json: {error}")
        report.checks.setdefault("datapackage", "ok")
    else:
        report.checks["datapackage"] = "skipped"
    return report


def _checksums(root: Path, report: VerifyReport) -> None:
    path = root / CHECKSUMS
    if not path.is_file():
        report.fail("checksums", f"{CHECKSUMS} is missing")
        return
    listed: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        if name:
            listed[name] = digest
    for name, digest in listed.items():
        target = root / name
        if not target.is_file():
            report.fail("checksums", f"{name}: missing")
        elif sha256_file(target) != digest:
            report.fail("checksums", f"{name}: checksum mismatch (changed since the package was "
                                     "built)")
    for name in all_files(root, skip=(CHECKSUMS,)):
        if name not in listed:
            report.fail("checksums", f"{name}: not listed in {CHECKSUMS} (added afterwards)")
    report.checks.setdefault("checksums", "ok")


def _signature(root: Path, report: VerifyReport,
               public_key: Path | None) -> dict[str, Any] | None:
    data = (root / PACKAGE_JSON).read_bytes()
    key_file = root / PUBLIC_KEY
    sig_file = root / SIGNATURE
    if not key_file.is_file() or not sig_file.is_file():
        report.fail("signature", f"{PUBLIC_KEY} or {SIGNATURE} is missing")
        return None
    in_package = key_file.read_bytes()
    try:
        report.fingerprint = crypto.fingerprint(in_package)
    except ValueError:
        report.fail("signature", f"{PUBLIC_KEY} is not a public key")
        return None
    key = in_package
    if public_key is not None:
        key = public_key.read_bytes()
        report.pinned = True
        try:
            if crypto.fingerprint(key) != report.fingerprint:
                report.fail("signature", f"{PUBLIC_KEY}: not the key you pinned "
                                         f"({public_key})")
        except ValueError:
            raise UsageError(f"{public_key} is not a PEM public key",
                             "pass the signing-key.pub you received out of band") from None
    if not crypto.verify_signature(key, data, sig_file.read_bytes()):
        report.fail("signature", f"{PACKAGE_JSON}: the Ed25519 signature does not match")
    report.checks.setdefault("signature", "ok")
    try:
        manifest: dict[str, Any] = orjson.loads(data)
    except orjson.JSONDecodeError:
        report.fail("signature", f"{PACKAGE_JSON} is not JSON")
        return None
    return manifest


def _inventory(root: Path, manifest: dict[str, Any], report: VerifyReport) -> None:
    """The signed inventory must match the files (so SHA256SUMS cannot be rewritten)."""
    for name, entry in manifest.get("files", {}).items():
        target = root / name
        if not target.is_file():
            report.fail("inventory", f"{name}: missing (listed in the signed {PACKAGE_JSON})")
        elif sha256_file(target) != entry["sha256"]:
            report.fail("inventory", f"{name}: differs from the signed {PACKAGE_JSON}")
    report.checks.setdefault("inventory", "ok")


def _counts(root: Path, manifest: dict[str, Any], report: VerifyReport) -> None:
    """Rows per object and relation against the snapshot's export manifest."""
    export_path = root / EXPORT_MANIFEST
    if not export_path.is_file():
        report.fail("counts", f"{EXPORT_MANIFEST} is missing")
        return
    export = orjson.loads(export_path.read_bytes())
    for section, noun in (("objects", "object"), ("relations", "relation")):
        for name, entry in export.get(section, {}).items():
            item = manifest.get(section, {}).get(name)
            if item is None:
                report.fail("counts", f"{noun} {name} of the export is not in the package")
                continue
            path = root / item["file"]
            rows = count_rows(path) if path.is_file() else -1
            counted = {"manifest": entry["count"], "csv": rows}
            dangling, also = 0, ""
            if section == "relations":  # links whose other end is not in the export
                dangling = counted["dangling"] = item.get("dangling", 0)
                also = f" + {dangling} dangling"
            report.counts[name] = counted
            if rows + dangling != entry["count"]:
                report.fail("counts", f"{item['file']}: {rows} rows{also} but the export "
                                      f"manifest says {entry['count']}")
    report.checks.setdefault("counts", "ok")
