"""Parse and validate ``policies/*.toml``: retention, business processes, vendor risk, mappings.

One module per policy file (``retention``, ``processes``, ``risk``, ``mappings``), what their
parsers share (``common``), the loader of all four (``loader``) and the cross-check against the
settings (``check``). ``from vaultkeeper.policies import …`` keeps working for every public name.
"""

from vaultkeeper.policies.check import cross_check, known_objects
from vaultkeeper.policies.loader import (
    BUILT_IN,
    DEFAULTS_PACKAGE,
    POLICY_NAMES,
    Policies,
    default_policy_texts,
    load_policies,
)
from vaultkeeper.policies.mappings import MappingPolicy, ObjectMapping
from vaultkeeper.policies.processes import AcceptanceCheck, Process, as_expect, as_sql, parse_expect
from vaultkeeper.policies.retention import RetentionPolicy
from vaultkeeper.policies.risk import (
    IMMEDIATE_JOBS,
    MEASURES,
    SIGNAL_KINDS,
    RiskLevel,
    RiskPolicy,
    RiskSignal,
    SignalKind,
)

__all__ = [
    "BUILT_IN", "DEFAULTS_PACKAGE", "IMMEDIATE_JOBS", "MEASURES", "POLICY_NAMES",
    "SIGNAL_KINDS", "AcceptanceCheck", "MappingPolicy", "ObjectMapping", "Policies", "Process",
    "RetentionPolicy", "RiskLevel", "RiskPolicy", "RiskSignal", "SignalKind", "as_expect",
    "as_sql", "cross_check", "default_policy_texts", "known_objects", "load_policies",
    "parse_expect",
]
