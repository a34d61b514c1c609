"""``vaultkeeper schedule install``: systemd units/timers or crontab lines for the platform's
scheduler, for people who prefer it to ``vaultkeeper run``.

Two shapes: the *daemon* (one long-running ``vaultkeeper run`` service, restarted on failure) or
*jobs* (one timer or crontab line per ``[schedule]`` job, each running
``vaultkeeper run --job NAME``, which records the run and sends alerts exactly like the daemon).
Only phrases the platform can express exactly are translated; the others are refused with the
reason rather than approximated.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from vaultkeeper.config import Settings
from vaultkeeper.errors import ConfigError
from vaultkeeper.services.scheduler import Cadence, ordered, parse_cadence

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Untranslatable(ConfigError):
    """A phrase the platform scheduler cannot express exactly."""


@dataclass(frozen=True)
class Slot:
    """One time field of a calendar: a fixed value, every value (``value`` None), or every
    ``step``-th value from 0."""

    value: int | None = None
    step: int = 1


@dataclass(frozen=True)
class Calendar:
    """When a phrase fires, in the terms both platforms share: a weekday (None: every day) and
    the hour, minute and second."""

    weekday: str | None
    hour: Slot
    minute: Slot
    second: Slot


@dataclass(frozen=True)
class _Platform:
    """What one platform scheduler cannot say, and why (its refusals name the reason)."""

    name: str
    seconds: bool
    no_days_step: str
    no_seconds: str
    nothing_like: str


SYSTEMD = _Platform("systemd", True, "calendar timers have no every-N-days", "",
                    "no calendar equivalent")
CRON = _Platform("cron", False, "cron has no every-N-days", "cron counts whole minutes",
                 "no crontab equivalent")
_SYSTEMD_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_CRON_DAYS = ("1", "2", "3", "4", "5", "6", "0")


def _hms(at: str) -> tuple[int, int, int]:
    parts = [int(p) for p in at.split(":")] + [0, 0]
    return parts[0], parts[1], parts[2]


def _refuse(c: Cadence, platform: str, why: str) -> Untranslatable:
    return Untranslatable(f'"{c.phrase}" cannot be expressed exactly for {platform} ({why})',
                          "pick a phrase such as \"every day at 02:00\", \"every 6 hours\" or "
                          "\"every hour at :15\", or use `vaultkeeper run` (the daemon)",
                          key="[schedule]")


def _minute_of_hour(c: Cadence, at: str, platform: str) -> int:
    """``every hour at :15`` → 15; neither platform has "every N hours at a minute"."""
    if c.n != 1:
        raise _refuse(c, platform, "every N hours at a minute")
    return int(at.strip(":").split(":")[0])


def calendar(c: Cadence, p: _Platform) -> Calendar:
    """The phrase as a calendar platform ``p`` can say exactly, or Untranslatable."""
    at, zero, every, nth = c.at or "", Slot(0), Slot(), Slot(None, c.n)
    if c.unit in _WEEKDAYS or c.unit == "day":
        if c.unit == "day" and c.n != 1:
            raise _refuse(c, p.name, p.no_days_step)
        h, m, s = _hms(at or "00:00")
        cal = Calendar(c.unit if c.unit != "day" else None, Slot(h), Slot(m), Slot(s))
    elif c.unit == "week" and c.n == 1 and not at:
        cal = Calendar("monday", zero, zero, zero)
    elif c.unit == "hour" and at:
        cal = Calendar(None, every, Slot(_minute_of_hour(c, at, p.name)), zero)
    elif c.unit == "hour" and not at:
        cal = Calendar(None, nth, zero, zero)
    elif c.unit == "minute" and not at:
        cal = Calendar(None, every, nth, zero)
    elif c.unit == "second" and not at:
        cal = Calendar(None, every, every, nth)
    else:
        raise _refuse(c, p.name, p.nothing_like)
    if not p.seconds and cal.second != zero:
        raise _refuse(c, p.name, p.no_seconds)
    for slot, whole in ((cal.hour, 24), (cal.minute, 60), (cal.second, 60)):
        if whole % slot.step:
            raise _refuse(c, p.name, f"{slot.step} does not divide {whole}")
    return cal


def on_calendar(c: Cadence) -> str:
    """A systemd ``OnCalendar=`` expression for the phrase."""
    cal = calendar(c, SYSTEMD)

    def slot(s: Slot) -> str:
        return f"00/{s.step}" if s.step > 1 else "*" if s.value is None else f"{s.value:02d}"

    day = f"{_SYSTEMD_DAYS[_WEEKDAYS.index(cal.weekday)]} " if cal.weekday else ""
    return f"{day}*-*-* {slot(cal.hour)}:{slot(cal.minute)}:{slot(cal.second)}"


def cron_spec(c: Cadence) -> str:
    """The five crontab time fields for the phrase."""
    cal = calendar(c, CRON)

    def slot(s: Slot) -> str:
        return f"*/{s.step}" if s.step > 1 else "*" if s.value is None else str(s.value)

    day = _CRON_DAYS[_WEEKDAYS.index(cal.weekday)] if cal.weekday else "*"
    return f"{slot(cal.minute)} {slot(cal.hour)} * * {day}"


def vaultkeeper_argv(config: Path) -> list[str]:
    """How the platform starts vaultkeeper: this interpreter, so the venv is used."""
    return [sys.executable, "-m", "vaultkeeper", "--config", str(config.absolute())]


def _exec(argv: list[str]) -> str:
    # systemd splits ExecStart like a shell and honours double quotes.
    return " ".join(f'"{a}"' if any(ch.isspace() for ch in a) else a for a in argv)


@dataclass(frozen=True)
class UnitFile:
    """A file to write: its name and text."""

    name: str
    text: str


def systemd_units(config: Path, schedule_map: dict[str, str], *, daemon: bool,
                  env_file: Path | None = None, user: bool = True) -> list[UnitFile]:
    """Unit (and timer) files for the daemon or for each scheduled job."""
    base = vaultkeeper_argv(config)
    env = f"EnvironmentFile={env_file.absolute()}\n" if env_file else ""
    wanted = "default.target" if user else "multi-user.target"
    workdir = f"WorkingDirectory={config.absolute().parent}\n"
    if daemon:
        return [UnitFile("vaultkeeper.service", (
            "[Unit]\nDescription=vaultkeeper scheduler (CRM backups, drills, alerts)\n"
            "After=network-online.target\nWants=network-online.target\n\n"
            f"[Service]\nType=simple\nExecStart={_exec([*base, 'run'])}\n{workdir}{env}"
            "Restart=on-failure\nRestartSec=60\n"
            "# SIGTERM lets the running job clean up its staging folder before exit.\n"
            "KillSignal=SIGTERM\nTimeoutStopSec=120\nUMask=0077\n\n"
            f"[Install]\nWantedBy={wanted}\n"))]
    files = []
    for job in ordered(schedule_map):
        calendar = on_calendar(parse_cadence(schedule_map[job]))
        files.append(UnitFile(f"vaultkeeper-{job}.service", (
            f"[Unit]\nDescription=vaultkeeper {job}\nAfter=network-online.target\n"
            f"Wants=network-online.target\n\n[Service]\nType=oneshot\n"
            f"ExecStart={_exec([*base, 'run', '--job', job])}\n{workdir}{env}"
            "KillSignal=SIGTERM\nUMask=0077\n")))
        files.append(UnitFile(f"vaultkeeper-{job}.timer", (
            f"[Unit]\nDescription=vaultkeeper {job} ({schedule_map[job]})\n\n"
            f"[Timer]\nOnCalendar={calendar}\n"
            "# Run once at boot if a time was missed while the machine was off.\n"
            "Persistent=true\nRandomizedDelaySec=0\n\n[Install]\nWantedBy=timers.target\n")))
    return files


def crontab(config: Path, schedule_map: dict[str, str], *,
            env_file: Path | None = None) -> str:
    """Crontab lines, one per scheduled job (``crontab -e`` or a file for ``crontab FILE``)."""
    base = " ".join(_shell_quote(a) for a in vaultkeeper_argv(config))
    source = f". {_shell_quote(str(env_file.absolute()))} && " if env_file else ""
    lines = ["# vaultkeeper jobs (written by `vaultkeeper schedule install --cron`).",
             "# Each line runs one job; `vaultkeeper run --job` records it and sends alerts.",
             "SHELL=/bin/sh"]
    for job in ordered(schedule_map):
        spec = cron_spec(parse_cadence(schedule_map[job]))
        # cron turns an unescaped % into a newline.
        command = f"{source}{base} run --job {job}".replace("%", "\\%")
        lines.append(f"{spec} {command}  # {schedule_map[job]}")
    return "\n".join(lines) + "\n"


def _shell_quote(text: str) -> str:
    return shlex.quote(text)


def env_file_names(path: Path) -> set[str]:
    """The variable names an EnvironmentFile (or a cron ``.`` file) defines; values unread."""
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[7:].lstrip()
        name, eq, _ = line.partition("=")
        if eq and name and not line.startswith("#"):
            names.add(name.strip())
    return names


def check_unit_secrets(settings: Settings, env_file: Path | None, platform: str) -> list[str]:
    """Refuse a schedule that would fail at night: under systemd or cron a job sees only the
    variables of its environment file, not this shell's. Returns notes on references that can
    only be checked by running them (commands); raises ConfigError naming every gap."""
    if env_file is not None:
        if not env_file.is_file():
            raise ConfigError(f"--env-file {env_file} does not exist: the {platform} job "
                              "would fail to start",
                              "create it (NAME=value lines, chmod 600) or leave --env-file out")
        if env_file.stat().st_mode & 0o077:
            raise ConfigError(f"--env-file {env_file} is readable by others and holds secrets",
                              f"chmod 600 {env_file}")
    defined = env_file_names(env_file) if env_file is not None else set()
    missing, notes = [], []
    for secret in settings.secrets():
        if secret.kind == "env" and secret.ref not in defined:
            missing.append(f"{secret.setting or 'a setting'} = {{ env = \"{secret.ref}\" }}")
        elif secret.kind == "command":
            notes.append(f"{secret.setting or 'a setting'} runs `{secret.ref}` under {platform}: "
                         "check it works without your login session (no desktop keyring "
                         "or gpg-agent prompt)")
    if missing:
        where = f"{env_file}" if env_file else "an --env-file"
        raise ConfigError(
            f"under {platform} the job will not see this shell's environment, so "
            f"{'; '.join(missing)} would fail every night",
            f"put those variables in {where} (NAME=value lines, chmod 600) and pass "
            "--env-file, or use { file = \"…\" } references")
    return notes
