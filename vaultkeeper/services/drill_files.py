"""The drill's files check: every restored file's bytes against the manifest, every link against
the mirror, and the mirror's ``_files`` / ``_file_links`` tables.

A file whose SHA-256 or size differs from its index line, a missing blob, an index that is not
the one the manifest names, or a link to a record the snapshot does not hold is a failure
naming the file; links to objects the export does not hold cannot be checked and are said so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultkeeper.db import mirror_files
from vaultkeeper.exportfmt import ExportFolder
from vaultkeeper.exportfmt_files import FileRecord, hash_file
from vaultkeeper.services.drill_checks import DrillReport, Failure

_SHOWN = 10


@dataclass
class FilesCheck:
    """What the files check found (``row`` goes into the drill report)."""

    row: dict[str, Any] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)
    """(what, problem): ``file NAME (kind id)`` or ``files``."""
    warnings: list[str] = field(default_factory=list)


def _label(rec: FileRecord) -> str:
    return f"file {rec.name or rec.id} ({rec.kind} {rec.id})"


def check_files(root: Path, mirror: Path) -> FilesCheck:
    """Verify the files part of the export at ``root`` and load it into ``mirror``."""
    check = FilesCheck()
    folder = ExportFolder(root)
    entry = folder.manifest.files
    if entry is None:
        return check
    index = root / entry.index
    if not index.exists():
        check.problems.append(("files", f"{entry.index} is missing from the snapshot"))
        return check
    if hash_file(index)[0] != entry.sha256:
        check.problems.append(("files", f"{entry.index} differs from the manifest (sha256 "
                                        "mismatch): the file list was changed after the export"))
    verified = 0
    records = list(folder.file_records())
    for rec in records:
        blob = root / rec.path
        if not blob.is_file():
            check.problems.append((_label(rec), f"its content {rec.path} is missing from the "
                                                "snapshot"))
            continue
        sha, size = hash_file(blob)
        if sha != rec.sha256 or size != rec.size:
            check.problems.append((_label(rec), f"bytes changed since the export (sha256 "
                                                f"{sha[:12]}… ≠ {rec.sha256[:12]}…, {size} vs "
                                                f"{rec.size} bytes)"))
            continue
        verified += 1
    if len(records) != entry.count:
        check.problems.append(("files", f"{len(records)} files listed, the manifest says "
                                        f"{entry.count}"))
    mirror_files.load_files(mirror, records)
    links = mirror_files.unresolved_links(mirror)
    names = {(rec.kind, rec.id): rec for rec in records}
    for kind, file_id, obj, record_id in links.unresolved:
        rec = names[(kind, file_id)]
        check.problems.append((_label(rec), f"its link to {obj} {record_id} does not resolve: "
                                            "the snapshot has no such record"))
    for obj, count in sorted(links.unchecked_objects.items()):
        check.warnings.append(f"files: {count} link(s) to {obj} not checked (the export does not "
                              "hold that object)")
    if entry.skipped:
        check.warnings.append(f"files: {len(entry.skipped)} file(s) were skipped at export "
                              "([source] files limits, or values that name no file; listed "
                              "in the manifest)")
    check.row = {"files": len(records), "bytes": entry.bytes, "verified": verified,
                 "links_checked": links.checked, "links_unresolved": len(links.unresolved),
                 "skipped": len(entry.skipped), "failed_at_export": len(entry.failed),
                 "ok": not check.problems,
                 "problems": [f"{what}: {why}" for what, why in check.problems[:_SHOWN]]}
    return check


_FIX = ("drill another location or an older snapshot; this snapshot does not hold the files "
        "that were exported")


def report_files(check: FilesCheck, location: str, report: DrillReport) -> None:
    """Add the files check to the drill report: its row, warnings and one failure a problem."""
    report.files = check.row
    report.warnings.extend(check.warnings)
    for what, why in check.problems:
        report.failures.append(Failure(location, what, why, _FIX))
