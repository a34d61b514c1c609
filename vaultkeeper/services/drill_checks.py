"""What a drill checks in a restored snapshot, and the report it fills: the manifest's tag and
signature, then every object and relation of the mirror against the manifest."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vaultkeeper.crypto import SIGNATURE_TAG, signature_matches
from vaultkeeper.db import mirror as mirrordb
from vaultkeeper.exportfmt import MANIFEST
from vaultkeeper.restic import Snapshot
from vaultkeeper.services.drill_run import DrillRun


@dataclass
class Failure:
    """One reason a drill failed, with what to do about it."""

    location: str
    object: str
    problem: str
    fix: str

    def line(self) -> str:
        """``location nas: contacts: … Fix: …``."""
        return f"location {self.location}: {self.object}: {self.problem}"


@dataclass
class DrillReport(DrillRun):
    """Everything one drill of a location found; ``as_json`` is the ``--json`` shape and the
    stored report."""

    location_url: str = ""
    location_snapshot_id: str = ""
    snapshot_time: str = ""
    age_s: int | None = None
    read_data_subset: str = ""
    relations: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    against_source: list[dict[str, Any]] | None = None
    acceptance: list[dict[str, Any]] = field(default_factory=list)
    suppressed: dict[str, Any] = field(default_factory=dict)
    mirror_path: str = ""
    export: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Any] = field(default_factory=dict)
    """The files check (services/drill_files.py); empty when the export has no files."""

    def as_json(self) -> dict[str, Any]:
        """The machine-readable report (shapes only ever gain fields)."""
        data = asdict(self)
        data["failures"] = [asdict(f) | {"message": f.line()} for f in self.failures]
        return data

    def summary(self) -> str:
        """One line naming the location and the failed objects."""
        if not self.failures:
            return f"location {self.location}: snapshot {self.short_id} verified"
        first = self.failures[0].line()
        more = f" (and {len(self.failures) - 1} more problem(s))" if len(self.failures) > 1 else ""
        return f"drill of snapshot {self.short_id} failed: {first}{more}"


def check_manifest_tag(snap: Snapshot, root: Path, report: DrillReport) -> None:
    """The backup tagged the snapshot with the manifest's SHA-256 prefix: it must still match."""
    tags = [t.split(":", 1)[1] for t in snap.tags if t.startswith("manifest:")]
    if not tags:
        return
    actual = hashlib.sha256((root / MANIFEST).read_bytes()).hexdigest()
    if not actual.startswith(tags[0]):
        report.failures.append(Failure(
            report.location, "manifest.json",
            f"differs from the one backed up (sha256 {actual[:16]}, tag {tags[0]})",
            "drill another snapshot or location; this snapshot was altered"))


def check_signature(snap: Snapshot, root: Path, report: DrillReport, password: str,
                     accept_unsigned: bool, foreign_signature: bool = False) -> bool:
    """The manifest's HMAC (keyed by the repository password) must match the snapshot's
    ``sig:`` tag; False (with a failure) when the snapshot must not be loaded."""
    tags = [t[len(SIGNATURE_TAG):] for t in snap.tags if t.startswith(SIGNATURE_TAG)]
    data = (root / "manifest.json").read_bytes()
    where = f"snapshot {report.short_id} ({snap.id[:16]})"
    if not tags:
        if accept_unsigned:
            report.warnings.append(f"{where} is not signed by vaultkeeper; accepted because "
                                   "--accept-unsigned was given")
            return True
        report.failures.append(Failure(
            report.location, where,
            "is not signed by vaultkeeper (no sig: tag): it was not made by `vaultkeeper "
            "backup`, or by a version before manifest signatures",
            "drill a snapshot made by vaultkeeper; for an old snapshot you trust, run the "
            "drill again with --accept-unsigned"))
        return False
    if not signature_matches(password, data, tags[0]):
        if foreign_signature:   # the escrow agent's key cannot check the organisation's
            report.warnings.append(f"{where} carries a signature made with another key (the "
                                   "organisation's); accepted because --foreign-signature was "
                                   "given")
            return True
        report.failures.append(Failure(
            report.location, where,
            "carries a signature that does not match its manifest: the snapshot was altered "
            "or written by someone else",
            "drill another snapshot or location; investigate who wrote this one"))
        return False
    return True


def reconcile(loaded: mirrordb.LoadResult, location: str, report: DrillReport) -> None:
    """Compare every object and relation of the mirror with the manifest."""
    manifest = loaded.manifest
    if manifest.get("status") != "complete":
        report.warnings.append("the export itself was incomplete: "
                               + "; ".join(manifest.get("problems") or ["(no detail)"]))
    fix_changed = ("drill another location or an older snapshot; this snapshot does not hold "
                   "what was exported")
    for name, entry in (manifest.get("objects") or {}).items():
        got = loaded.objects[name]
        row: dict[str, Any] = {
            "object": name, "expected": entry.get("count"), "restored": got.lines,
            "mirror_rows": got.rows, "archived": got.archived,
            "expected_archived": entry.get("archived"), "duplicates": got.duplicates,
            "digest_ok": got.content_digest == entry.get("content_digest"),
            "file_ok": got.file_sha256 == entry.get("sha256"),
            "schema_ok": got.schema_sha256 == (entry.get("schema") or {}).get("sha256"),
            "columns": len(got.columns), "ok": True,
            # False: the source reported no count; the drill proves the snapshot holds what
            # was exported, not that the export held everything the source had.
            "count_verified": entry.get("count_verified") is not False}
        problems = []
        if got.missing_file:
            problems.append(f"its file {entry.get('file')} is missing from the snapshot")
        else:
            if got.lines != entry.get("count"):
                problems.append(f"{got.lines} records restored, the manifest says "
                                f"{entry.get('count')}")
            if not row["digest_ok"]:
                problems.append("content differs from the manifest (content digest mismatch): "
                                "records were changed after the export")
            elif not row["file_ok"]:
                problems.append("file bytes differ from the manifest (sha256 mismatch)")
            if got.unparsable:
                problems.append(f"{got.unparsable} line(s) are not JSON records")
        if not row["schema_ok"]:
            problems.append("the schema file is missing or differs from the manifest")
        if not problems and not got.missing_file:
            count, digest = mirrordb.recompute_digest(loaded.path, name)
            row["mirror_digest_ok"] = digest == entry.get("content_digest") or bool(got.duplicates)
            if count != got.rows or not row["mirror_digest_ok"]:
                problems.append("the mirror does not hold what was loaded (digest recomputed "
                                "from the mirror differs)")
        if got.duplicates:
            report.warnings.append(f"{name}: {got.duplicates} record(s) share an id with an "
                                   f"earlier one (e.g. {', '.join(got.duplicate_ids[:3])}); the "
                                   "mirror keeps the later line, the digest covers both")
        if entry.get("quarantined"):
            report.warnings.append(f"{name}: {entry['quarantined']} record(s) were quarantined "
                                   f"at export (kept raw in {entry.get('quarantine_file')})")
        for problem in problems:
            report.failures.append(Failure(location, name, problem, fix_changed))
        row["ok"] = not problems
        report.records += got.lines
        report.objects.append(row)
    for stem, entry in (manifest.get("relations") or {}).items():
        rel = loaded.relations[stem]
        row = {"relation": stem, "expected": entry.get("count"), "restored": rel.lines,
               "digest_ok": rel.content_digest == entry.get("content_digest"),
               "dangling_from": rel.dangling_from, "dangling_to": rel.dangling_to,
               "dangling_samples": rel.dangling_samples, "endpoints_checked": rel.checked,
               "ok": True}
        problems = []
        if rel.missing_file:
            problems.append("its file is missing from the snapshot")
        elif rel.lines != entry.get("count") or not row["digest_ok"]:
            problems.append(f"{rel.lines} relations restored (manifest {entry.get('count')}), "
                            f"digest {'ok' if row['digest_ok'] else 'differs'}")
        dangling = rel.dangling_from + rel.dangling_to
        if dangling:
            problems.append(f"{dangling} relation endpoint(s) missing from the snapshot: "
                            + ", ".join(rel.dangling_samples[:5]))
        if not rel.checked:
            report.warnings.append(f"{stem}: endpoints not checked ({rel.from_object} or "
                                   f"{rel.to_object} is not in the snapshot)")
        for problem in problems:
            report.failures.append(Failure(
                location, f"relations {stem}", problem,
                "the export referenced records it does not contain: re-run the backup; if it "
                "persists, the CRM holds associations to deleted records"))
        row["ok"] = not problems
        report.relations.append(row)
    unverified = [r["object"] for r in report.objects if not r["count_verified"]]
    if unverified:
        report.warnings.append(
            f"counts unverified: {', '.join(unverified)} (the source reports no totals; the "
            "snapshot holds what was exported, its completeness against the source is unknown)")
    report.export = {"connector": (manifest.get("connector") or {}).get("name"),
                     "unverified_counts": unverified,
                     "started_at": manifest.get("started_at"),
                     "finished_at": manifest.get("finished_at"),
                     "status": manifest.get("status"), "manifest_sha256": loaded.manifest_sha256,
                     "mirror_bytes": loaded.bytes}
