"""Cross-check the policies against the settings: objects a process needs that the source
cannot have or does not back up."""

from __future__ import annotations

from vaultkeeper import registry
from vaultkeeper.config import Settings
from vaultkeeper.errors import ConfigError
from vaultkeeper.policies.loader import BUILT_IN, Policies
from vaultkeeper.tomlcheck import suggest


def known_objects(settings: Settings) -> tuple[set[str], str] | None:
    """The objects the configured source can have, and a pattern description; None = unknown.

    Each source's record answers (``vaultkeeper.registry``): HubSpot its standard objects plus
    whatever [source] objects lists (custom objects must be listed there); Salesforce sObject
    names (capitalised); the sandbox exactly its objects; CSV whatever files the vendor
    delivered, so nothing is known in advance unless [source] objects lists them.
    """
    return registry.get(settings.source.connector).known_objects(settings.source)


def cross_check(policies: Policies, settings: Settings) -> list[str]:
    """Warnings where policies and settings disagree (a process needing an object not backed up).

    A process naming an object the source cannot have at all is an error (ConfigError naming the
    file and key), unless the processes are the built-in defaults, which only warn.
    """
    warnings = []
    source = settings.source
    known = known_objects(settings)
    file = policies.sources.get("processes", BUILT_IN)
    for i, process in enumerate(policies.processes, 1):
        for obj in process.objects:
            if known is not None and obj not in known[0]:
                near = suggest(obj, known[0]) or _salesforce_name(obj, known[0])
                if file == BUILT_IN:
                    warnings.append(f"the built-in process {process.name} needs {obj}, which "
                                    f"the {source.connector} source does not have: run "
                                    "`vaultkeeper init` and edit policies/processes.toml")
                    continue
                raise ConfigError(f"names object {obj}, which the {source.connector} source "
                                  "cannot have", f"did you mean {near}?" if near else
                                  f"{known[1]}", file=file,
                                  key=f'[[process]] #{i} "{process.name}" objects')
            if obj in source.exclude or (source.objects and obj not in source.objects):
                where = "excluded by" if obj in source.exclude else "not listed in"
                warnings.append(f"process {process.name} needs {obj}, which is {where} "
                                f"[source] {'exclude' if obj in source.exclude else 'objects'}")
    return warnings


def _salesforce_name(obj: str, known: set[str]) -> str | None:
    """``contacts`` → ``Contact`` when the source speaks Salesforce."""
    single = obj.rstrip("s").lower()
    aliases = {"company": "Account", "deal": "Opportunity"}
    guess = aliases.get(single) or next((k for k in known if k.lower() == single), None)
    return guess if guess in known else None
