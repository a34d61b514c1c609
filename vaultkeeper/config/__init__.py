"""Settings loader (defaults < file < ``VAULTKEEPER_*`` environment < flags) and the Secret type.

``secrets`` (the Secret reference type), ``settings`` (one dataclass per section), ``fields``
(the field tables and converters of every section) and ``loader`` (find, read, layer and check
the file). The names the rest of vaultkeeper uses are re-exported here.
"""

from vaultkeeper.config.fields import LOCATION_FIELDS, SECTIONS, env_var
from vaultkeeper.config.loader import find_config_file, load_settings
from vaultkeeper.config.secrets import Secret
from vaultkeeper.config.settings import (
    CONFIG_NAME,
    CONNECTORS,
    DEFAULT_SCHEDULE,
    EMERGENCY_TARGETS,
    FLAVOURS,
    SCHEDULE_JOBS,
    AlertSettings,
    LocationSettings,
    Settings,
    SourceSettings,
)

__all__ = [
    "CONFIG_NAME", "CONNECTORS", "DEFAULT_SCHEDULE", "EMERGENCY_TARGETS", "FLAVOURS",
    "LOCATION_FIELDS", "SCHEDULE_JOBS", "SECTIONS", "AlertSettings", "LocationSettings",
    "Secret", "Settings", "SourceSettings", "env_var", "find_config_file", "load_settings",
]
