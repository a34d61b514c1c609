"""Load the policy files (or their built-in defaults) into one ``Policies``."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from vaultkeeper.canonical import CanonicalMapping, load_canonical
from vaultkeeper.errors import ConfigError
from vaultkeeper.policies.mappings import MappingPolicy, parse_mappings
from vaultkeeper.policies.privacy import PrivacyPolicy, parse_privacy
from vaultkeeper.policies.processes import Process, parse_processes
from vaultkeeper.policies.retention import RetentionPolicy, parse_retention
from vaultkeeper.policies.risk import RiskPolicy, parse_risk
from vaultkeeper.tomlcheck import read_toml, suggest

POLICY_NAMES = ("retention", "processes", "risk", "mappings", "privacy")
DEFAULTS_PACKAGE = "vaultkeeper.default_policies"
"""The default policy files ship as package data (``policies/`` in the source tree)."""
BUILT_IN = "built-in"


@dataclass(frozen=True)
class Policies:
    """All four policies, and where each came from (a file path or ``built-in``)."""

    retention: RetentionPolicy
    processes: tuple[Process, ...]
    risk: RiskPolicy
    mappings: MappingPolicy
    sources: dict[str, str]
    canonical: dict[str, CanonicalMapping] = field(default_factory=dict)
    """Canonical-model mappings of the emergency package, per connector (policies/mappings/)."""
    privacy: PrivacyPolicy = field(default_factory=PrivacyPolicy)
    """Erasure suppression, sensitive columns and roles (policies/privacy.toml)."""


def default_policy_texts() -> dict[str, str]:
    """The shipped default policy files: name → TOML text."""
    root = resources.files(DEFAULTS_PACKAGE)
    return {name: root.joinpath(f"{name}.toml").read_text(encoding="utf-8")
            for name in POLICY_NAMES}


def load_policies(policies_dir: Path | None) -> Policies:
    """Read every policy from ``policies_dir``; a missing file (or dir) uses the built-in one."""
    defaults = default_policy_texts()
    sources: dict[str, str] = {}
    docs: dict[str, tuple[dict[str, Any], str]] = {}
    if policies_dir is not None and policies_dir.is_dir():
        for extra in sorted(policies_dir.glob("*.toml")):
            if extra.stem not in POLICY_NAMES:
                near = suggest(extra.stem, POLICY_NAMES)
                raise ConfigError("not a policy file vaultkeeper knows, so it would be ignored",
                                  f"rename it to {near}.toml" if near else "remove it (policy "
                                  f"files are {', '.join(n + '.toml' for n in POLICY_NAMES)})",
                                  file=str(extra))
    for name in POLICY_NAMES:
        path = policies_dir / f"{name}.toml" if policies_dir is not None else None
        if path is not None and path.is_file():
            docs[name], sources[name] = (read_toml(path), str(path)), str(path)
        else:
            label = f"{BUILT_IN} {name}.toml"   # how errors name the file (a bug if ever seen)
            docs[name], sources[name] = (read_toml(Path(label), defaults[name]), label), BUILT_IN
    return Policies(retention=parse_retention(*docs["retention"]),
                    processes=parse_processes(*docs["processes"]), risk=parse_risk(*docs["risk"]),
                    mappings=parse_mappings(*docs["mappings"]), sources=sources,
                    canonical=load_canonical(policies_dir),
                    privacy=parse_privacy(*docs["privacy"]))
