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

_DAYS = {"monday": "Mon", "tuesday": "Tue", "wednesday": "Wed", "thursday": "Thu",
         "friday": "Fri", "saturday": "Sat", "sunday": "Sun"}
_CRON_DAYS = {"monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5,
              "saturday": 6, "sunday": 0}


class Untranslatable(ConfigError):
    """A phrase the platform scheduler cannot express exactly."""


def _hms(at: str) -> tuple[int, int, int]:
    parts = [int(p) for p in at.split(":")] + [0, 0]
    return parts[0], parts[1], parts[2]


def _refuse(c: Cadence, platform: str, why: str) -> Untranslatable:
    return Untranslatable(f'"{c.phrase}" cannot be expressed exactly for {platform} ({why})',
                          "pick a phrase such as \"every day at 02:00\", \"every 6 hours\" or "
                          "\"every hour at :15\", or use `vaultkeeper run` (the daemon)",
                          key="[schedule]")


def _step(c: Cadence, platform: str, whole: int) -> str:
    if whole % c.n:
        raise _refuse(c, platform, f"{c.n} does not divide {whole}")
    return "" if c.n == 1 else f"/{c.n}"


def _minute_of_hour(c: Cadence, at: str, platform: str) -> int:
    """``every hour at :15`` → 15; neither platform has "every N hours at a minute"."""
    if c.n != 1:
        raise _refuse(c, platform, "every N hours at a minute")
    return int(at.strip(":").split(":")[0])


def on_calendar(c: Cadence) -> str:
    """A systemd ``OnCalendar=`` expression for the phrase."""
    at = c.at or ""
    if c.unit in _DAYS:
        h, m, s = _hms(at or "00:00")
        return f"{_DAYS[c.unit]} *-*-* {h:02d}:{m:02d}:{s:02d}"
    if c.unit == "day":
        if c.n != 1:
            raise _refuse(c, "systemd", "calendar timers have no every-N-days")
        h, m, s = _hms(at or "00:00")
        return f"*-*-* {h:02d}:{m:02d}:{s:02d}"
    if c.unit == "week" and c.n == 1 and not at:
        return "Mon *-*-* 00:00:00"
    if c.unit == "hour":
        if at:
            return f"*-*-* *:{_minute_of_hour(c, at, 'systemd'):02d}:00"
        return f"*-*-* 00{_step(c, 'systemd', 24)}:00:00" if c.n > 1 else "*-*-* *:00:00"
    if c.unit == "minute" and not at:
        return f"*-*-* *:00{_step(c, 'systemd', 60)}:00" if c.n > 1 else "*-*-* *:*:00"
    if c.unit == "second" and not at:
        return f"*-*-* *:*:00{_step(c, 'systemd', 60)}" if c.n > 1 else "*-*-* *:*:*"
    raise _refuse(c, "systemd", "no calendar equivalent")


def cron_spec(c: Cadence) -> str:
    """The five crontab time fields for the phrase."""
    at = c.at or ""
    if c.unit in _CRON_DAYS:
        h, m, s = _hms(at or "00:00")
        if s:
            raise _refuse(c, "cron", "cron has no seconds")
        return f"{m} {h} * * {_CRON_DAYS[c.unit]}"
    if c.unit == "day":
        h, m, s = _hms(at or "00:00")
        if c.n != 1 or s:
            raise _refuse(c, "cron", "every N days or seconds")
        return f"{m} {h} * * *"
    if c.unit == "week" and c.n == 1 and not at:
        return "0 0 * * 1"
    if c.unit == "hour":
        if at:
            return f"{_minute_of_hour(c, at, 'cron')} * * * *"
        return f"0 */{c.n} * * *" if c.n > 1 and _step(c, "cron", 24) else "0 * * * *"
    if c.unit == "minute" and not at:
        return f"*/{c.n} * * * *" if c.n > 1 and _step(c, "cron", 60) else "* * * * *"
    raise _refuse(c, "cron", "cron counts whole minutes" if c.unit == "second" else
                  "no crontab equivalent")


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
