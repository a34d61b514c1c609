"""Settings loader (defaults < file < ``VAULTKEEPER_*`` environment < flags) and the Secret type.

``secrets`` (the Secret reference type), ``settings`` (one dataclass per section), ``fields``
(the field tables and converters of every section) and ``loader`` (find, read, layer and check
the file). Every public name is re-exported here: ``from vaultkeeper.config import …`` works.
"""

from vaultkeeper.config.fields import (
    ALERT_FIELDS,
    EMERGENCY_FIELDS,
    ESCROW_FIELDS,
    LOCATION_FIELDS,
    SECTIONS,
    SOURCE_FIELDS,
    as_refresh,
    as_region,
    as_secret,
    as_url_or_secret,
    env_var,
    inline_secret,
    secret_hint,
)
from vaultkeeper.config.loader import find_config_file, load_settings
from vaultkeeper.config.secrets import COMMAND_TIMEOUT, Secret
from vaultkeeper.config.settings import (
    ALERT_EVENTS,
    CONFIG_NAME,
    CONNECTORS,
    DEFAULT_SCHEDULE,
    EMERGENCY_TARGETS,
    ESCROW_RELEASE_CONDITIONS,
    FLAVOURS,
    SCHEDULE_JOBS,
    AlertSettings,
    EmergencySettings,
    EscrowSettings,
    LocationSettings,
    RiskSettings,
    Settings,
    SourceSettings,
)

__all__ = [
    "ALERT_EVENTS", "ALERT_FIELDS", "COMMAND_TIMEOUT", "CONFIG_NAME", "CONNECTORS",
    "DEFAULT_SCHEDULE", "EMERGENCY_FIELDS", "EMERGENCY_TARGETS", "ESCROW_FIELDS",
    "ESCROW_RELEASE_CONDITIONS", "FLAVOURS", "LOCATION_FIELDS", "SCHEDULE_JOBS",
    "SECTIONS", "SOURCE_FIELDS", "AlertSettings", "EmergencySettings", "EscrowSettings",
    "LocationSettings", "RiskSettings", "Secret", "Settings", "SourceSettings", "as_refresh",
    "as_region", "as_secret", "as_url_or_secret", "env_var", "find_config_file",
    "inline_secret", "load_settings", "secret_hint",
]
