"""Business processes: priority order, per-object cadence, acceptance checks and readiness.

Readiness of a process is the conjunction of four facts, each reported with its reason:
its objects are in the last good backup, that backup is younger than its RPO, its fields and
acceptance checks hold on the last drilled mirror, and the drill's measured restore time fits
its RTO. A process is green (ready), amber (ready, with a warning) or red (not ready).

The mirror contract (written by ``vaultkeeper drill``): ``<state_dir>/mirror/mirror.db``, one
table per object with primary key ``id``, ``_archived`` 0/1, ``_raw`` (the vendor JSON) and one
column per property; the state DB table ``drills`` (id, started_at, finished_at, location,
snapshot_id, result 'verified'|'failed'|'error', restore_s, load_s, total_s, mirror_path,
report).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vaultkeeper.config import Settings
from vaultkeeper.db import readiness as readdb
from vaultkeeper.db import runs as rundb
from vaultkeeper.db.rehearsals import latest_rehearsal
from vaultkeeper.policies import Process
from vaultkeeper.services.context import CommandContext
from vaultkeeper.services.rehearse.verdict import survival

MIRROR_DIR = "mirror"
MIRROR_FILE = "mirror.db"
GREEN, AMBER, RED = "green", "amber", "red"
_SEVERITY = {GREEN: 0, AMBER: 1, RED: 2}


# ------------------------------------------------------------------------- pure: priorities
def priority_order(processes: Sequence[Process]) -> list[str]:
    """Objects by the best (lowest) rank of the processes needing them; within a rank, in the
    order the processes (then their objects) are written in the policy."""
    order: dict[str, None] = {}
    for process in by_priority(processes):
        order.update(dict.fromkeys(process.objects))
    return list(order)


def object_cadences(processes: Sequence[Process]) -> dict[str, timedelta]:
    """Each object's backup cadence: the tightest RPO of the processes that need it, in
    priority order."""
    cadence: dict[str, timedelta] = {}
    for process in processes:
        for obj in process.objects:
            cadence[obj] = min(cadence.get(obj, process.rpo), process.rpo)
    return {obj: cadence[obj] for obj in priority_order(processes)}


def priority_objects(processes: Sequence[Process], max_rank: int = 1) -> list[str]:
    """Objects needed by the processes ranked ``max_rank`` or better (the red level's hourly
    export), in priority order."""
    return priority_order([p for p in processes if p.priority <= max_rank])


def by_priority(processes: Sequence[Process]) -> list[Process]:
    """Processes in restore order (rank, then file order): for runbooks and reports."""
    return sorted(processes, key=lambda p: p.priority)


# ------------------------------------------------------------------------ acceptance checks
@dataclass(frozen=True)
class CheckResult:
    """One acceptance check run against a mirror."""

    process: str
    name: str
    sql: str
    expect: str
    value: Any
    passed: bool
    error: str | None = None

    @property
    def reason(self) -> str:
        """Why it failed (or passed), in one line."""
        if self.error:
            return f"check '{self.name}' could not run: {self.error}"
        shown = "no value (NULL)" if self.value is None else f"{_fmt(self.value)}"
        verdict = "meets" if self.passed else "expected"
        return f"check '{self.name}': got {shown}, {verdict} {self.expect}"

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"name": self.name, "sql": self.sql, "expect": self.expect,
                "value": self.value, "passed": self.passed, "error": self.error,
                "reason": self.reason}


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def run_acceptance_checks(mirror_path: Path, process: Process) -> list[CheckResult]:
    """Run a process's acceptance checks on the mirror (read-only); never raises for a bad
    query or a missing mirror: each check then fails with the reason."""
    if not process.checks:
        return []
    try:
        values = readdb.first_values(mirror_path, [c.sql for c in process.checks])
    except readdb.MirrorError as exc:
        values = [(None, str(exc))] * len(process.checks)
    results = []
    for check, (value, error) in zip(process.checks, values, strict=True):
        passed = error is None and value is not None and check.passes(value)
        results.append(CheckResult(process.name, check.name, check.sql, check.expect, value,
                                   passed, error))
    return results


# -------------------------------------------------------------------------------- readiness
@dataclass(frozen=True)
class Finding:
    """One aspect of readiness: ``ok`` green, ``warn`` amber, ``fail`` red."""

    aspect: str            # data | fresh | drill | fields | checks | rto | crm
    state: str             # ok | warn | fail
    message: str


@dataclass
class Readiness:
    """A process and whether the last backup and drill can bring it back in time."""

    process: Process
    findings: list[Finding] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    rehearsal: tuple[str, str] = ("warn", "never rehearsed")
    """Whether its objects survived the last ``emergency rehearse``: (ok|warn|fail, why)."""

    @property
    def colour(self) -> str:
        """red if anything failed, amber if anything warns, otherwise green."""
        states = {f.state for f in self.findings}
        return RED if "fail" in states else AMBER if "warn" in states else GREEN

    @property
    def reasons(self) -> list[str]:
        """What is wrong (fails first), one line each."""
        order = {"fail": 0, "warn": 1}
        bad = [f for f in self.findings if f.state != "ok"]
        return [f.message for f in sorted(bad, key=lambda f: order[f.state])]

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        p = self.process
        return {"name": p.name, "title": p.title, "owner": p.owner, "priority": p.priority,
                "rto_s": int(p.rto.total_seconds()), "rpo_s": int(p.rpo.total_seconds()),
                "mtd_s": None if p.mtd is None else int(p.mtd.total_seconds()),
                "objects": list(p.objects), "status": self.colour,
                "ready": self.colour != RED, "reasons": self.reasons,
                "findings": [f.__dict__ for f in self.findings],
                "checks": [c.as_json() for c in self.checks],
                "rehearsal": {"state": self.rehearsal[0], "message": self.rehearsal[1]}}


@dataclass
class Facts:
    """What readiness is judged on, gathered once for every process."""

    now: datetime
    last_good_run: dict[str, Any] | None
    drill: dict[str, Any] | None
    mirror_path: Path | None
    mirror_columns: dict[str, set[str]] | None
    mirror_error: str | None = None
    crm_drills: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per CRM target, the last ``drill --into-crm`` (restored into a CRM and reconciled)."""
    rehearsal: dict[str, Any] | None = None
    """The last ``emergency rehearse`` (db/rehearsals.py), None before the first."""


def human(delta: timedelta | float) -> str:
    """``3.5 h``, ``2 d``, ``40 min``, ``12 s``."""
    s = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
    if s >= 86400 and s % 86400 == 0:
        return f"{s / 86400:.0f} d"
    if s >= 2 * 86400:
        return f"{s / 86400:.1f} d".replace(".0 d", " d")
    if s >= 3600:
        return f"{s / 3600:.1f} h".replace(".0 h", " h")
    if s >= 60:
        return f"{s / 60:.0f} min"
    return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def judge(process: Process, facts: Facts) -> list[Finding]:
    """The readiness findings of one process from the gathered facts (no I/O but the checks)."""
    out = [*_judge_backup(process, facts), *_judge_drill(process, facts),
           *_judge_crm_drills(process, facts)]
    state, message = survival(facts.rehearsal, process.objects)
    if state == "fail":
        # The backup can still restore it; the emergency exit would lose data: a warning.
        out.append(Finding("rehearsal", "warn", message))
    return out


def _judge_crm_drills(process: Process, facts: Facts) -> list[Finding]:
    """A drill into a CRM that failed on one of the process's objects makes it red."""
    out = []
    for target, drill in sorted(facts.crm_drills.items()):
        when = (drill.get("finished_at") or drill.get("started_at") or "?")[:16]
        if drill.get("result") == "verified":
            out.append(Finding("crm", "ok", f"restore into CRM {target} rehearsed: drill "
                                            f"#{drill.get('id')} verified ({when})"))
            continue
        report = drill.get("report") or {}
        objects = {str(f.get("object", "")).removeprefix("relations ").split("__")[0]
                   for f in report.get("failures") or []}
        hit = sorted(objects & set(process.objects))
        what = f" ({', '.join(hit)})" if hit else ""
        out.append(Finding("crm", "fail" if hit else "warn",
                           f"the last drill into CRM {target} (#{drill.get('id')}, {when}) "
                           f"ended {drill.get('result')}{what}"))
    return out


def _judge_backup(process: Process, facts: Facts) -> list[Finding]:
    run = facts.last_good_run
    if run is None:
        return [Finding("data", "fail", "no backup yet — run `vaultkeeper backup`")]
    out = []
    counts: dict[str, int] = json.loads(run.get("counts") or "{}")
    missing = [o for o in process.objects if o not in counts]
    empty = [o for o in process.objects if counts.get(o) == 0]
    if missing:
        out.append(Finding("data", "fail", f"{', '.join(missing)} not in the last backup "
                                           f"(run {run['id']})"))
    elif empty:
        out.append(Finding("data", "warn", f"{', '.join(empty)} backed up with 0 records "
                                           f"(run {run['id']})"))
    else:
        out.append(Finding("data", "ok", "in the last backup: " + ", ".join(
            f"{o} {counts[o]}" for o in process.objects)))
    if run.get("status") == "partial":
        problems = json.loads(run.get("problems") or "[]")
        detail = f": {problems[0]}" if problems else ""
        out.append(Finding("data", "warn", f"the last backup (run {run['id']}) was partial"
                                           f"{detail}"))
    finished = _parse_time(run.get("finished_at"))
    if finished is None:
        out.append(Finding("fresh", "fail", f"run {run['id']} has no finish time"))
    else:
        age = facts.now - finished
        state = "ok" if age <= process.rpo else "fail"
        verdict = "within" if state == "ok" else "older than"
        out.append(Finding("fresh", state, f"last good backup {human(age)} ago, {verdict} "
                                           f"the RPO of {human(process.rpo)}"))
    return out


def measured_rto(drill: dict[str, Any]) -> float | None:
    """The drill's measured RTO — restore + load, the figure its report shows — or, for drills
    recorded without those stages, its whole duration (which also counts check and reconcile)."""
    if drill.get("restore_s") is not None and drill.get("load_s") is not None:
        return float(drill["restore_s"]) + float(drill["load_s"])
    total = drill.get("total_s")
    return None if total is None else float(total)


def _judge_drill(process: Process, facts: Facts) -> list[Finding]:
    drill = facts.drill
    if drill is None:
        return [Finding("drill", "fail", "no drill yet — run `vaultkeeper drill`")]
    out = []
    when = (drill.get("finished_at") or drill.get("started_at") or "?")[:16]
    if drill.get("result") != "verified":
        out.append(Finding("drill", "fail", f"the last drill (#{drill.get('id')}, {when}) "
                                            f"ended {drill.get('result') or 'unfinished'}"))
    else:
        out.append(Finding("drill", "ok", f"drill #{drill.get('id')} verified snapshot "
                                          f"{str(drill.get('snapshot_id') or '?')[:8]} ({when})"))
    total = measured_rto(drill)
    if total is None:
        out.append(Finding("rto", "warn", "the drill recorded no restore time"))
    else:
        state = "ok" if timedelta(seconds=float(total)) <= process.rto else "fail"
        verdict = "within" if state == "ok" else "exceeds"
        out.append(Finding("rto", state, f"measured restore {human(float(total))}, {verdict} "
                                         f"the RTO of {human(process.rto)}"))
    columns = facts.mirror_columns
    if columns is None:
        out.append(Finding("fields", "fail", facts.mirror_error or "no mirror"))
        return out
    gaps = [o for o in process.objects if o not in columns]
    gaps += [f"{o}.{f}" for o, names in process.fields.items() if o in columns
             for f in names if f not in columns[o]]
    if gaps:
        out.append(Finding("fields", "fail", f"missing from the mirror: {', '.join(gaps)}"))
    else:
        out.append(Finding("fields", "ok", "objects and fields present in the mirror"))
    return out


def gather_facts(settings: Settings | CommandContext, *,
                 now: datetime | None = None) -> Facts:
    """Read the last good backup, the last drill and the mirror's tables from disk."""
    ctx = CommandContext.of(settings)
    settings = ctx.settings
    db = ctx.db
    rundb.ensure_runs(db)
    runs = list(db.table("backup_runs").rows_where(
        "status in ('ok', 'partial')", order_by="id desc", limit=1))
    drill = readdb.latest_drill(db)
    default = settings.state_dir / MIRROR_DIR / MIRROR_FILE
    given = Path(drill["mirror_path"]) if drill and drill.get("mirror_path") else None
    mirror = given if given is not None and given.exists() else default
    columns, error = None, None
    if drill is not None:
        try:
            columns = readdb.mirror_columns(mirror)
        except readdb.MirrorError as exc:
            error = f"{exc} — run `vaultkeeper drill`"
    return Facts(now=now or datetime.now(UTC), last_good_run=runs[0] if runs else None,
                 drill=drill, mirror_path=mirror if drill is not None else None,
                 mirror_columns=columns, mirror_error=error,
                 crm_drills=readdb.latest_crm_drills(db), rehearsal=latest_rehearsal(db))


def assess(process: Process, facts: Facts) -> Readiness:
    """Findings plus acceptance checks for one process."""
    result = Readiness(process, judge(process, facts),
                       rehearsal=survival(facts.rehearsal, process.objects))
    if facts.mirror_path is not None and facts.mirror_columns is not None:
        result.checks = run_acceptance_checks(facts.mirror_path, process)
        failed = [c for c in result.checks if not c.passed]
        for check in failed:
            result.findings.append(Finding("checks", "fail", check.reason))
        if result.checks and not failed:
            result.findings.append(Finding("checks", "ok", f"{len(result.checks)} acceptance "
                                                          "check(s) pass"))
    elif process.checks:
        result.findings.append(Finding("checks", "fail", f"{len(process.checks)} acceptance "
                                                         "check(s) not run: no drilled mirror"))
    return result


def check_processes(settings: Settings | CommandContext, *, now: datetime | None = None,
                    only: Sequence[str] = ()) -> list[Readiness]:
    """Readiness of every process (or those named in ``only``), in priority order."""
    ctx = CommandContext.of(settings)
    policies = ctx.policies
    facts = gather_facts(ctx, now=now)
    chosen = [p for p in by_priority(policies.processes) if not only or p.name in only]
    return [assess(p, facts) for p in chosen]


def worst(results: Sequence[Readiness]) -> str:
    """The worst colour among the results (green when there are none)."""
    return max((r.colour for r in results), key=_SEVERITY.__getitem__, default=GREEN)
