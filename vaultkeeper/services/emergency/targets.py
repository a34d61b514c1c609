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

from collections.abc import Callable

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


GENERIC_ASSOCIATIONS_HOW = (
    "Links the columns cannot hold (a second organisation, further contacts): legacy ids of "
    "both sides; create them after both imports, through the id-map.")
"""The runbook step for ``import/generic/associations/*.csv`` (vendors say their own)."""


def associations_how(target: str) -> str:
    """How to import the links no column holds, for ``target``."""
    kind = registry.find(target) if target in registry.import_targets() else None
    return (kind.associations_how if kind is not None and kind.associations_how
            else GENERIC_ASSOCIATIONS_HOW)


def legacy_column(spec: ImportFile) -> str:
    """The column of an import file that holds the record's own legacy id."""
    return next((h for h, src in spec.columns if src == "legacy_id"), "")


def other_name(spec: ImportFile, object_: str) -> str:
    """The import file for records of ``object_`` that the entity's ``when`` rule leaves out
    (deals of other pipelines): same columns as ``spec``."""
    stem, dot, ext = spec.name.rpartition(".")
    return f"{stem}-other-{object_}.{ext}" if dot else f"{spec.name}-other-{object_}"


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


Resolver = Callable[[dict[str, str], dict[str, str]], str]
_BOOL = {"true": "true", "false": "false"}


def resolver(source: str) -> Resolver:
    """``resolve`` for one column, its kind decided once: (row, lookup) → value."""
    if source.startswith("="):
        constant = source[1:]
        return lambda row, lookup: constant
    if source.startswith("@"):
        return lambda row, lookup: lookup.get(source, "")
    name, _, flt = source.partition("|")
    if flt == "date":
        return lambda row, lookup: v if len(v := row.get(name, "")) == 10 and v[4] == "-" \
            and v[7] == "-" else ""
    if flt == "bool":
        return lambda row, lookup: _BOOL.get(row.get(name, "").lower(), "")
    return lambda row, lookup: row.get(name, "")
