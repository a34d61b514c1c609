"""Import files per target CRM, built from canonical rows.

Each target's files (``canonical.ImportFile``) belong to its vendor module and are found
through the registry (``SourceKind.import_files``). A column's source is a canonical field,
``legacy_id``, a lookup of the related record (``@org_domain``: the domain of the row's
organisation, ``@person_email``: the e-mail of its person — the columns HubSpot's importer
associates records on; ``@valid_email``: the row's own e-mail when it is valid, empty otherwise,
since importers reject the whole row), a constant (``=Donations``), or a field with a filter
(``birth_date|date``: only full ISO dates, which Salesforce requires).
"""

from __future__ import annotations

from vaultkeeper import registry
from vaultkeeper.canonical import ImportFile

GENERIC = "generic"
"""The target that needs no vendor: the objects' own columns, renamed by mappings.toml."""


def target_names() -> tuple[str, ...]:
    """Every ``--target``: generic, then each CRM with import files."""
    return (GENERIC, *registry.import_targets())


def import_files(target: str) -> tuple[ImportFile, ...]:
    """The import files of ``target`` (none for generic)."""
    return registry.get(target).import_files if target in registry.import_targets() else ()


def resolve(row: dict[str, str], source: str, lookup: dict[str, str]) -> str:
    """The value of one import column for one canonical row."""
    if source.startswith("="):
        return source[1:]
    if source.startswith("@"):
        return lookup.get(source, "")
    name, _, flt = source.partition("|")
    value = row.get(name, "")
    if flt == "date":
        return value if len(value) == 10 and value[4] == "-" and value[7] == "-" else ""
    if flt == "bool":
        return {"true": "true", "false": "false"}.get(value.lower(), "")
    return value
