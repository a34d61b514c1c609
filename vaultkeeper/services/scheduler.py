"""``vaultkeeper run``: the long-running scheduler, built on ``schedule.Scheduler``.

Time across restarts: the state database keeps when each job last *finished* a run (an
interrupted run does not count). At start-up each job is placed as follows:

* a job that never ran runs now;
* a job with a time of day (``every day at 02:00``, ``every monday at 06:00``, ``every hour at
  :15``) runs now once if its latest scheduled time passed since its last run — however many
  times were missed — and otherwise waits for its next time;
* an interval job (``every 6 hours``) runs one interval after its last run, now if that passed.

So a restart neither repeats a run nor skips one, and a machine that was off for a week catches
up with one backup, not seven. Jobs run one at a time, in the order backup, drill, check, risk.
SIGTERM (or Ctrl-C) interrupts the running job cleanly (its staging folder is removed, the run is
recorded as interrupted so the next start catches it up) and ends the loop.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import schedule

from vaultkeeper.config import DEFAULT_SCHEDULE, Settings
from vaultkeeper.db import jobs as jobdb
from vaultkeeper.errors import ConfigError, VaultkeeperError
from vaultkeeper.privatefs import daemon_lock
from vaultkeeper.services.context import CommandContext

log = logging.getLogger("vaultkeeper.run")
_PHRASE = re.compile(
    r"every(?: (?P<n>\d+))? (?P<unit>second|minute|hour|day|week|monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday)s?(?: at (?P<at>\S+))?")


@dataclass(frozen=True)
class Cadence:
    """A parsed schedule phrase."""

    phrase: str
    n: int
    unit: str
    at: str | None

    @property
    def period(self) -> timedelta:
        """The time between two runs."""
        if self.unit in ("second", "minute", "hour", "day", "week"):
            return timedelta(**{self.unit + "s": self.n})
        return timedelta(weeks=1)   # a weekday

    @property
    def timed(self) -> bool:
        """True for phrases with a time (``at …``) or a weekday: calendar-anchored."""
        return self.at is not None or self.unit not in ("second", "minute", "hour", "day", "week")


def parse_cadence(phrase: str) -> Cadence:
    """Parse a phrase that config validation accepted."""
    m = _PHRASE.fullmatch(" ".join(phrase.lower().split()))
    if m is None:
        raise ConfigError(f'"{phrase}" is not a schedule', 'use e.g. "every day at 02:00"',
                          key="[schedule]")
    return Cadence(phrase, int(m["n"] or 1), m["unit"], m["at"])


def add_job(scheduler: schedule.Scheduler, cadence: Cadence,
            action: Callable[[], Any]) -> schedule.Job:
    """Register ``action`` on ``scheduler`` at ``cadence`` (schedule computes its next run)."""
    job = getattr(scheduler.every(cadence.n), cadence.unit + ("s" if cadence.n > 1 else ""))
    if cadence.at:
        job = job.at(cadence.at)
    return job.do(action)


def _local(moment: datetime) -> datetime:
    """Aware → naive local time, the ``schedule`` library's clock."""
    return moment.astimezone().replace(tzinfo=None)


def _aware(naive_local: datetime) -> datetime:
    return naive_local.astimezone(UTC)


def place(job: schedule.Job, cadence: Cadence, last: datetime | None,
          now: datetime) -> tuple[datetime, str]:
    """When ``job`` should first run given its last finished run; sets ``job.next_run``.

    Returns the (aware) time and the reason, for the log and ``status``.
    """
    assert job.next_run is not None
    upcoming = _aware(job.next_run)            # schedule's own choice: the next time >= now
    if last is None:
        when, why = now, "never ran: running now"
    elif cadence.timed:
        previous = upcoming - cadence.period      # the latest scheduled time not in the future
        if upcoming <= now:
            previous = upcoming
        if last < previous:
            when, why = now, (f"missed its run at {_local(previous):%Y-%m-%d %H:%M}: "
                              "catching up once now")
        else:
            when, why = upcoming, "as scheduled"
    else:
        due = last + cadence.period
        when, why = (now, "interval passed since its last run: running now") if due <= now \
            else (due, f"one interval after its last run at {_local(last):%Y-%m-%d %H:%M:%S}")
    job.next_run = _local(when)
    return when, why


@dataclass
class JobOutcome:
    """What one job run did."""

    status: str                     # ok | partial | failed | skipped
    summary: str
    data: Any = None                # what the job produced (a manual run renders it)


JobFn = Callable[[Settings, Any], JobOutcome]
"""A job: (settings, alerter) → outcome; raises only for unexpected errors."""


@dataclass
class PlannedJob:
    """A job as ``status`` shows it."""

    job: str
    phrase: str
    last_run: str | None
    next_run: str
    reason: str


def plan(settings: Settings | CommandContext, schedule_map: dict[str, str], *,
         now: datetime | None = None) -> list[PlannedJob]:
    """Where each job would be placed if the scheduler started now (read-only)."""
    now = now or datetime.now(UTC)
    served = jobdb.last_served(CommandContext.of(settings).db)
    scratch = schedule.Scheduler()
    planned = []
    for job in ordered(schedule_map):
        cadence = parse_cadence(schedule_map[job])
        sj = add_job(scratch, cadence, lambda: None)
        when, why = place(sj, cadence, served.get(job), now)
        last = served.get(job)
        planned.append(PlannedJob(job, cadence.phrase, last.isoformat() if last else None,
                                  when.isoformat(timespec="seconds"), why))
    return planned


def configured_schedule(settings: Settings) -> tuple[dict[str, str], list[str]]:
    """The phrases from ``[schedule]`` (defaults when the file has no such section)."""
    if settings.schedule:
        return dict(settings.schedule), []
    return dict(DEFAULT_SCHEDULE), ["no [schedule] in the configuration: defaults"]


JOB_ORDER = ("backup", "priority_backup", "drill", "check", "risk", "escrow", "emergency")
"""The order jobs due at the same moment run in (a drill proves the backup just made)."""


def ordered(schedule_map: dict[str, str] | list[str]) -> list[str]:
    """Jobs in their fixed order (backup, priority_backup, drill, check, risk, emergency)."""
    return [j for j in JOB_ORDER if j in schedule_map]


@dataclass
class Daemon:
    """The scheduler loop. ``jobs`` maps job names to functions; ``schedule_for`` gives the
    phrases in force (it is asked again at every housekeeping tick, so a risk level can change
    them); ``housekeeping`` runs between jobs (stale-backup checks, risk-driven changes)."""

    settings: Settings
    jobs: dict[str, JobFn]
    schedule_for: Callable[[], tuple[dict[str, str], list[str]]]
    alerter: Any
    housekeeping: Callable[[Daemon], None] = lambda d: None
    tick: float = 30.0
    once: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    stop_signal: int | None = None
    interrupted: bool = False
    """A job was interrupted (its run is recorded ``interrupted``)."""
    results: list[tuple[str, JobOutcome]] = field(default_factory=list)
    _scheduler: schedule.Scheduler = field(default_factory=schedule.Scheduler)
    _phrases: dict[str, str] = field(default_factory=dict)
    _soon: list[tuple[str, str]] = field(default_factory=list)
    _busy: bool = False
    context: CommandContext | None = None
    """The daemon's own context (its state database); made from ``settings`` when not given."""

    def _db(self) -> Any:
        """The state database, through the daemon's context."""
        if self.context is None:
            self.context = CommandContext(self.settings)
        return self.context.db

    def run_soon(self, job: str, reason: str) -> None:
        """Queue ``job`` to run once, right after the current step (risk-level actions)."""
        if job not in self.jobs:
            log.warning("%s: asked for (%s) but not available in this version", job, reason)
            return
        if job not in [j for j, _ in self._soon]:
            self._soon.append((job, reason))

    def run(self) -> int:
        """Run until stopped (or, with ``once``, until nothing is due); returns the exit code."""
        with daemon_lock(self.settings.state_dir):
            db = self._db()
            stale = jobdb.interrupt_stale(db)
            if stale:
                log.info("%d job run(s) left running by a previous scheduler marked interrupted",
                         stale)
            previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
            for sig in previous:
                signal.signal(sig, self._on_signal)
            try:
                self.reschedule(initial=True)
                self._loop()
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
                self._scheduler.clear()
        log.info("scheduler stopped%s", f" ({signal.Signals(self.stop_signal).name})"
                 if self.stop_signal else "")
        if self.stop_signal == signal.SIGINT:
            return 130
        if self.once and (self.stop_signal is not None or self.interrupted):
            return 130   # --once was stopped before its due jobs ran: a wrapper must see that
        return self._exit_code() if self.once else 0

    def run_now(self, names: list[str], reason: str = "requested") -> int:
        """Run the named jobs once, now, in order (``vaultkeeper run --job``); exit code."""
        unknown = [n for n in names if n not in self.jobs]
        if unknown:
            raise ConfigError(f"unknown or unavailable job {unknown[0]!r}",
                              f"choose from {', '.join(self.jobs)}")
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        for sig in previous:
            signal.signal(sig, self._on_signal)
        try:
            db = self._db()
            jobdb.ensure_jobs(db)
            for name in ordered(names):
                if self.stop.is_set():
                    break
                self._run_job(name, reason)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self.stop_signal is not None:
            return 130 if self.stop_signal == signal.SIGINT else 1
        return self._exit_code()

    def _exit_code(self) -> int:
        statuses = {outcome.status for _, outcome in self.results}
        return 1 if "failed" in statuses else 3 if "partial" in statuses else 0

    def _loop(self) -> None:
        while not self.stop.is_set():
            self._scheduler.run_pending()
            if self.stop.is_set():
                break
            self._safe_housekeeping()
            while self._soon and not self.stop.is_set():
                pending = sorted(self._soon, key=lambda item: JOB_ORDER.index(item[0])
                                 if item[0] in JOB_ORDER else len(JOB_ORDER))
                self._soon.clear()
                for job, reason in pending:
                    if not self.stop.is_set():
                        self._run_job(job, reason)
            if self.once:
                due = [j for j in self._scheduler.jobs if j.should_run]
                if not due:
                    break
                continue
            idle = self._scheduler.idle_seconds
            self.stop.wait(max(0.05, min(self.tick, idle if idle is not None else self.tick)))

    def _safe_housekeeping(self) -> None:
        try:
            self.housekeeping(self)
            self.reschedule()
        except VaultkeeperError as exc:
            log.warning("housekeeping: %s", exc.one_line())

    def reschedule(self, *, initial: bool = False) -> None:
        """(Re)build the jobs from the phrases in force; log why when they changed."""
        phrases, reasons = self.schedule_for()
        if not initial and phrases == self._phrases:
            return
        if not initial:
            changes = [f"{j}: {self._phrases.get(j, 'off')} → {phrases.get(j, 'off')}"
                       for j in JOB_ORDER if self._phrases.get(j) != phrases.get(j)]
            log.warning("schedule changed (%s): %s", "; ".join(reasons) or "configuration",
                        ", ".join(changes))
        self._scheduler.clear()
        self._phrases = dict(phrases)
        served = jobdb.last_served(self._db())
        now = datetime.now(UTC)
        for index, job in enumerate(ordered(phrases)):
            if job not in self.jobs:
                log.warning("%s: scheduled (%s) but not available in this version; skipped",
                            job, phrases[job])
                continue
            cadence = parse_cadence(phrases[job])
            sj = add_job(self._scheduler, cadence, functools.partial(self._run_job, job))
            sj.tag(job)
            when, why = place(sj, cadence, served.get(job), now)
            if when <= now:   # keep the fixed order among jobs due at the same moment
                sj.next_run = _local(now) + timedelta(microseconds=index)
            log.info("%s (%s): next run %s — %s", job, cadence.phrase,
                     _local(when).isoformat(sep=" ", timespec="seconds"), why)

    def _run_job(self, name: str, reason: str = "scheduled") -> None:
        db = self._db()
        run_id = jobdb.start_job(db, name, reason, os.getpid())
        log.info("%s: started (job run %d)", name, run_id)
        self._busy = True
        try:
            outcome = self.jobs[name](self.settings, self.alerter)
        except KeyboardInterrupt:
            jobdb.finish_job(db, run_id, "interrupted", "stopped by a signal")
            self.interrupted = True
            log.warning("%s: interrupted; it will be caught up at the next start", name)
            self.stop.set()
            return
        except Exception as exc:  # a bug in a job must not kill the scheduler
            outcome = JobOutcome("failed", f"unexpected {type(exc).__name__}: {exc}")
            log.exception("%s: unexpected error", name)
        finally:
            self._busy = False
        jobdb.finish_job(db, run_id, outcome.status, outcome.summary)
        self.results.append((name, outcome))
        level = logging.INFO if outcome.status in ("ok", "skipped") else logging.WARNING
        log.log(level, "%s: %s — %s", name, outcome.status, outcome.summary)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop_signal = signum
        self.stop.set()
        if self._busy:
            raise KeyboardInterrupt   # unwinds the running job through its cleanups
