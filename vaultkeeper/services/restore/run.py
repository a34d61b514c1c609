"""``vaultkeeper restore``: source → selection → plan → (dry run stops) → journaled writes →
read-back verification → report. One restore at a time (``restore.lock``); a run that did not
finish is resumed by ``--resume RUN`` or by running the same command again."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from vaultkeeper.config import Settings
from vaultkeeper.db import restores as journal
from vaultkeeper.db.selection import MirrorReader
from vaultkeeper.errors import ExitCode, UsageError, VaultkeeperError
from vaultkeeper.privatefs import run_lock
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.restore.apply import Applier, Progress
from vaultkeeper.services.restore.files import (
    FileIdReader,
    file_map,
    file_properties,
    load_index,
    restore_files,
)
from vaultkeeper.services.restore.plan import build_plan
from vaultkeeper.services.restore.report import OUTCOMES, RestoreReport
from vaultkeeper.services.restore.selection import Choice, dependency_order, select
from vaultkeeper.services.restore.source import open_source, parse_date
from vaultkeeper.services.restore.target import Target, open_target
from vaultkeeper.services.restore.verify import WRITTEN, verify

LOCK = "restore.lock"


@dataclass(frozen=True)
class RestoreOptions:
    """The command line of one restore."""

    into: str | None = None
    snapshot: str | None = None
    location: str | None = None
    from_mirror: bool = False
    objects: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    where: str | None = None
    deleted_since: str | None = None
    fields: tuple[str, ...] = ()
    with_parents: int = 0
    with_children: int = 0
    dry_run: bool = False
    max_records: int = 1000
    yes: bool = False
    resume: int | None = None
    replace_changed_files: bool = False
    """Put the snapshot's version back over a file the CRM changed since (default: keep)."""

    def choice(self) -> Choice:
        """The selection part."""
        everything = bool(self.deleted_since) and not (self.objects or self.ids or self.where)
        return Choice(self.objects, self.ids, self.where, everything, None, self.with_parents,
                      self.with_children)


def fingerprint(target: str, snapshot_id: str, opts: RestoreOptions) -> str:
    """Same target, snapshot and selection → the same restore (resumed, never doubled)."""
    key = {"target": target, "snapshot": snapshot_id, "objects": sorted(opts.objects),
           "ids": sorted(opts.ids), "where": opts.where, "deleted_since": opts.deleted_since,
           "fields": sorted(opts.fields), "parents": opts.with_parents,
           "children": opts.with_children}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def run_restore(given: Settings | CommandContext, opts: RestoreOptions, *,
                progress: Progress | None = None) -> RestoreReport:
    """Run (or resume) one restore; the report's ``exit_code`` says how it ended."""
    ctx = CommandContext.of(given)
    settings = ctx.settings
    with run_lock(settings.state_dir, LOCK, "restore"):
        db = ctx.db
        journal.ensure(db)
        pinned: dict[str, Any] | None = None
        if opts.resume is not None:
            pinned = journal.get_run(db, opts.resume)
            if pinned is None or pinned["status"] not in journal.UNFINISHED:
                raise UsageError(f"restore run {opts.resume} is not an unfinished run",
                                 "see `vaultkeeper restore history`")
            stored = pinned["options"] or {}
            opts = RestoreOptions(**{**stored, "resume": opts.resume, "dry_run": False,
                                     "yes": True, "objects": tuple(stored.get("objects", ())),
                                     "ids": tuple(stored.get("ids", ())),
                                     "fields": tuple(stored.get("fields", ()))})
        since = opts.deleted_since
        before = parse_date(since) if since else None
        ref = pinned["snapshot_id"] if pinned else (
            opts.snapshot or (since if since and before is None else None))
        with open_target(settings, opts.into) as target, \
                open_source(ctx, snapshot=ref, location=opts.location,
                            from_mirror=opts.from_mirror and pinned is None,
                            before=None if ref else before) as src:
            if src.reader.connector != target.vendor:
                raise UsageError(f"the snapshot is a {src.reader.connector} export and the "
                                 f"target {target.name} is {target.vendor}",
                                 "restore into a target of the same vendor")
            fp = fingerprint(target.name, src.snapshot_id, opts)
            run_id = opts.resume or journal.unfinished(db, fp)
            return execute(db, src.reader, target, opts, run_id=run_id, fingerprint=fp,
                           snapshot_id=src.snapshot_id, source=src.description,
                           progress=progress, files_root=src.root)


def execute(db: Any, reader: MirrorReader, target: Target,
            opts: RestoreOptions, *, run_id: int | None, fingerprint: str, snapshot_id: str,
            source: str, choice: Choice | None = None, kind: str = "restore",
            progress: Progress | None = None, files_root: Path | None = None,
            ) -> RestoreReport:
    """Plan (or pick up the journal of ``run_id``), apply, put files back, verify, report."""
    writer = target.writer
    known_files = journal.previous_file_map(db, target.name)
    index = load_index(files_root)
    files_reader = FileIdReader(reader, file_map(db, target.name), file_properties(index)) \
        if index else None
    if files_reader is not None:
        reader = cast(MirrorReader, files_reader)
    report = RestoreReport(target=target.name, connector=target.vendor,
                           snapshot_id=snapshot_id, source=source, dry_run=opts.dry_run)
    row = journal.get_run(db, run_id) if run_id else None
    resumed = row is not None and row["status"] == "applying"
    if row is None:
        run_id = journal.start_run(db, {
            "fingerprint": fingerprint, "target": target.name, "connector": target.vendor,
            "snapshot_id": snapshot_id, "source": source, "kind": kind,
            "options": json.dumps(asdict(opts))})
    assert run_id is not None
    report.run_id, report.resumed = run_id, resumed
    try:
        previous = journal.previous_id_map(db, target.name, run_id)
        if not resumed:
            journal.clear_items(db, run_id)
            selection = select(reader, choice or opts.choice())
            plan = build_plan(reader, writer, selection, only_fields=opts.fields,
                              deleted_only=bool(opts.deleted_since), previous=previous)
            report.plan, report.warnings = plan.counts(), list(plan.warnings)
            if opts.dry_run:
                report.files = restore_files(
                    db, run_id, writer, files_root,
                    {} if opts.fields else {
                        (i.obj, i.old_id): (None if i.action == "create" else i.target_id)
                        for i in plan.items
                        if i.action != "anchor" and (i.action != "skip" or i.target_id)},
                    dry_run=True,
                    replace_changed=opts.replace_changed_files, reader=files_reader,
                    known=known_files).as_json()
                report.status = "planned"
                journal.set_status(db, run_id, "dry-run", plan=report.plan,
                                   report=report.as_json())
                report.requests = writer.request_stats()
                return report
            if report.to_write() > opts.max_records and not opts.yes:
                report.status, report.exit_code = "refused", int(ExitCode.USAGE)
                report.error = (f"the plan writes {report.to_write()} records, more than "
                                f"--max-records {opts.max_records}. Fix: check the plan; "
                                "re-run with --yes (or a higher --max-records)")
                journal.set_status(db, run_id, "refused", plan=report.plan,
                                   report=report.as_json())
                return report
            journal.add_items(db, run_id, ((i.obj, i.old_id, i.action, i.fields, i.target_id,
                                            "Skipped" if i.action == "skip" else "", i.reason)
                                           for i in plan.items))
            journal.add_links(db, run_id, plan.links)
            journal.set_status(db, run_id, "applying", plan=report.plan)
        else:
            report.plan = (row or {}).get("plan") or {}
        applier = Applier(db, run_id, reader, writer, progress)
        objects = [o for o in reader.objects if o in report.plan]
        applier.run(dependency_order(reader, objects))
        # Files of every selected record the CRM holds now (written or unchanged), so a file
        # that failed before or was deleted on its own comes back too; not for --fields.
        restored = {} if opts.fields else {
            (r["object"], r["old_id"]): r["new_id"] for r in journal.items(db, run_id)
            if r.get("outcome") in (*WRITTEN, "Skipped") and r["new_id"]}
        report.files = restore_files(
            db, run_id, writer, files_root, restored, dry_run=False,
            replace_changed=opts.replace_changed_files, reader=files_reader,
            known=known_files, progress=(lambda name, size: progress("files", name, size))
            if progress else None).as_json()
        report.mismatches = verify(db, run_id, applier, opts.fields)
        report.warnings += applier.warnings
    except VaultkeeperError as exc:
        report.exit_code, report.status = int(exc.exit_code), "error"
        report.error = exc.one_line()
        _fill(db, run_id, report)
        report.requests = writer.request_stats()
        # A CRM or location failure leaves the run resumable; a usage error ends it.
        state = ("error" if report.exit_code == ExitCode.USAGE else
                 "applying" if resumed or report.records else "planning")
        journal.set_status(db, run_id, state, report=report.as_json(),
                           exit_code=report.exit_code)
        return report
    _fill(db, run_id, report)
    report.requests = writer.request_stats()
    failed = bool(report.failed()) or report.links.get("failed", 0) > 0 or \
        report.files.get("failed", 0) > 0
    if report.mismatches:
        report.status, report.exit_code = "mismatch", int(ExitCode.VERIFICATION)
    elif failed:
        report.status, report.exit_code = "partial", int(ExitCode.PARTIAL)
    else:
        report.status, report.exit_code = "done", int(ExitCode.OK)
    journal.set_status(db, run_id, report.status, report=report.as_json(),
                       exit_code=report.exit_code)
    return report


def _fill(db: Any, run_id: int, report: RestoreReport) -> None:
    """Per-record outcomes, counts, the id map and relations from the journal."""
    report.records, report.outcomes, report.id_map = [], {}, {}
    for r in journal.items(db, run_id):
        if r["action"] == "anchor":
            continue
        report.records.append({"object": r["object"], "id": r["old_id"],
                               "target_id": r["new_id"], "action": r["action"],
                               "fields": r["fields"], "outcome": r["outcome"],
                               "reason": r["reason"], "code": r["code"]})
        counts = report.outcomes.setdefault(r["object"], {o: 0 for o in OUTCOMES})
        if r["outcome"] in counts:
            counts[r["outcome"]] += 1
        if r["outcome"] == "Created" and r["new_id"]:
            report.id_map.setdefault(r["object"], {})[r["old_id"]] = r["new_id"]
    links = journal.all_links(db, run_id)
    report.links = {"planned": len(links),
                    "linked": sum(1 for r in links if r["state"] == "done"),
                    "failed": sum(1 for r in links if r["state"] == "failed")}
    report.link_failures = [{"from": f"{r['from_object']} {r['from_id']}",
                             "to": f"{r['to_object']} {r['to_id']}", "reason": r["reason"]}
                            for r in links if r["state"] == "failed"][:100]
