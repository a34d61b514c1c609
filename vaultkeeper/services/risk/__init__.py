"""Vendor risk: parse and store signals, score them (pure functions), collect public signals, and
turn the level into schedule changes and actions.

Scoring (see policies/risk.toml and docs/risk.md): each weighed signal's latest value becomes a
severity in [0, 1] (``level``/``change``/``age``/``flag`` measures), fades with its half-life,
and contributes ``100 · weight · severity · fading / Σ weight`` points. The level is the highest
whose ``min_score`` the score reaches, or a hard trigger's level if that is higher.

The package: ``values`` (parse and format recorded values), ``scoring`` (pure assessment, trend,
history), ``schedule`` (pure: what a level does to the schedule), ``service`` (record and report
from the state DB), ``collectors`` (public signals and export health), ``chart`` (the board
chart). Everything public is re-exported here, so ``from vaultkeeper.services.risk import …``
and ``risk.report(…)`` keep working.
"""

from vaultkeeper.services.risk.collectors import (
    INCIDENT_WINDOW_DAYS,
    RELEASES_CONSIDERED,
    Collected,
    CollectError,
    collect,
    export_health_signals,
    release_cadence,
    statuspage_incidents,
    statuspage_summary,
)
from vaultkeeper.services.risk.schedule import (
    DEFAULT_BACKUP,
    PRIORITY_BACKUP_JOB,
    LevelAction,
    effective_schedule,
    entering_actions,
    interval_phrase,
    level_actions,
    schedule_interval,
)
from vaultkeeper.services.risk.scoring import (
    TREND_DAYS,
    Assessment,
    Contribution,
    Trend,
    assess,
    fading,
    history,
    ramp,
    severity,
    signal_series,
    trend,
    trigger_events,
)
from vaultkeeper.services.risk.service import (
    RiskReport,
    current_level,
    load_observations,
    record,
    report,
)
from vaultkeeper.services.risk.values import (
    Observation,
    Value,
    format_value,
    observations_from_rows,
    parse_value,
)

__all__ = [
    "DEFAULT_BACKUP", "INCIDENT_WINDOW_DAYS", "PRIORITY_BACKUP_JOB", "RELEASES_CONSIDERED",
    "TREND_DAYS", "Assessment", "CollectError", "Collected", "Contribution", "LevelAction",
    "Observation", "RiskReport", "Trend", "Value", "assess", "collect", "current_level",
    "effective_schedule", "entering_actions", "export_health_signals", "fading",
    "format_value", "history", "interval_phrase", "level_actions", "load_observations",
    "observations_from_rows", "parse_value", "ramp", "record", "release_cadence", "report",
    "schedule_interval", "severity", "signal_series", "statuspage_incidents",
    "statuspage_summary", "trend", "trigger_events",
]
