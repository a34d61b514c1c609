"""The canonical model of the emergency package and its editable mappings (policies/mappings/).

Five entities every CRM migration talks about — person, organisation, membership, donation,
activity — each with a fixed list of fields (so import files for any target can rely on them).
``policies/mappings/<connector>.toml`` says which exported object feeds each entity and which
source field feeds each canonical field. Source fields no mapping names are never dropped: the
package writes them to the entity's extra-fields file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from vaultkeeper import registry
from vaultkeeper.errors import ConfigError
from vaultkeeper.tomlcheck import Bad, Field, Origin, as_str, read_fields, read_toml, suggest

MAPPINGS_DIR = "mappings"
"""Sub-folder of the policies folder holding one canonical mapping per connector."""
CONNECTOR_FILES = registry.exporters()
"""One mapping file per source an export can come from (the sandbox exports as its flavour)."""



@dataclass(frozen=True)
class ImportFile:
    """One import file the emergency package writes for a target CRM (``--target``).

    A column's source is a canonical field, ``legacy_id``, a lookup of the related record
    (``@org_domain``, ``@person_email``, ``@valid_email``), a constant (``=Donations``) or a
    field with a filter (``birth_date|date``); see services/emergency/targets.py.
    """

    entity: str
    name: str
    columns: tuple[tuple[str, str], ...]
    how: str
    """One line for the runbook: what the importer matches on."""


# Fields people and organisations share, in the order both list them.
_POSTAL_ADDRESS: dict[str, tuple[str, str]] = {
    "street": ("string", "Street address"),
    "city": ("string", "City"),
    "region": ("string", "State, county or region"),
    "postcode": ("string", "Postal code"),
    "country": ("string", "Country as written in the source"),
}
_CHANGE_TIMES: dict[str, tuple[str, str]] = {
    "created_at": ("datetime", "Created in the old CRM"),
    "updated_at": ("datetime", "Last modified in the old CRM"),
}

# name → (type, description). Types: string, email, phone, date, datetime, number, boolean, ref.
ENTITIES: dict[str, dict[str, tuple[str, str]]] = {
    "person": {
        "first_name": ("string", "Given name"),
        "last_name": ("string", "Family name"),
        "salutation": ("string", "Mr, Ms, Dr …"),
        "email": ("email", "E-mail address (trimmed; invalid ones listed in the quality report)"),
        "phone": ("phone", "Phone number, E.164 where it could be normalised"),
        "mobile": ("phone", "Mobile number, E.164 where it could be normalised"),
        **_POSTAL_ADDRESS,
        "birth_date": ("date", "Date of birth, ISO 8601 where unambiguous"),
        "organisation_id": ("ref:organisation", "Legacy id of the person's organisation"),
        "reference": ("string", "External reference number (member or customer number)"),
        "job_title": ("string", "Job title"),
        "email_opt_out": ("boolean", "Opted out of e-mail"),
        **_CHANGE_TIMES,
    },
    "organisation": {
        "name": ("string", "Organisation name"),
        "domain": ("string", "Web domain (HubSpot matches companies on it)"),
        "website": ("string", "Website URL"),
        "phone": ("phone", "Phone number, E.164 where it could be normalised"),
        **_POSTAL_ADDRESS,
        "industry": ("string", "Industry"),
        "type": ("string", "Kind of organisation"),
        **_CHANGE_TIMES,
    },
    "membership": {
        "person_id": ("ref:person", "Legacy id of the member"),
        "organisation_id": ("ref:organisation", "Legacy id of a member organisation"),
        "number": ("string", "Membership number"),
        "level": ("string", "Membership level or type"),
        "status": ("string", "Membership status"),
        "start_date": ("date", "Membership start, ISO 8601"),
        "end_date": ("date", "Renewal or end date, ISO 8601"),
        "branch": ("string", "Branch or chapter"),
    },
    "donation": {
        "person_id": ("ref:person", "Legacy id of the donor"),
        "organisation_id": ("ref:organisation", "Legacy id of the donating organisation"),
        "name": ("string", "Name of the gift or pledge"),
        "amount": ("number", "Amount"),
        "currency": ("string", "Currency code"),
        "date": ("date", "Date received or expected, ISO 8601"),
        "type": ("string", "Kind of gift"),
        "status": ("string", "Stage or status"),
        "campaign": ("string", "Campaign or appeal"),
        "payment_method": ("string", "Payment method"),
        "reference": ("string", "Payment reference"),
        "fund": ("string", "Fund or designation"),
        "gift_aid": ("boolean", "Eligible for Gift Aid / tax relief"),
    },
    "activity": {
        "person_id": ("ref:person", "Legacy id of the person it concerns"),
        "organisation_id": ("ref:organisation", "Legacy id of the organisation it concerns"),
        "donation_id": ("ref:donation", "Legacy id of the donation it concerns"),
        "type": ("string", "Call, meeting, letter …"),
        "subject": ("string", "Subject or first line"),
        "body": ("string", "Text"),
        "date": ("datetime", "When it happened"),
        "owner": ("string", "Owner (user id in the old CRM)"),
    },
}
ENTITY_ORDER = tuple(ENTITIES)
_REL = re.compile(r"@rel:([A-Za-z0-9_.-]+__[A-Za-z0-9_.-]+)")


@dataclass(frozen=True)
class Source:
    """Where one canonical field comes from: a field, the record id, or a relation."""

    kind: str          # "field" | "fields" | "id" | "rel"
    name: str = ""     # field name or relation stem
    names: tuple[str, ...] = ()
    """``fields``: source fields joined by a blank (``["Tussenvoegsel", "Achternaam"]``)."""

    def describe(self) -> str:
        """As written in the mapping file."""
        if self.kind == "fields":
            return " + ".join(self.names)
        return {"field": self.name, "id": "@id", "rel": f"@rel:{self.name}"}[self.kind]

    def columns(self) -> tuple[str, ...]:
        """The source fields this source reads."""
        return self.names if self.kind == "fields" else (
            (self.name,) if self.kind == "field" else ())

    def value(self, row: dict[str, str]) -> str:
        """The value of a field source for a flattened record (a join: non-empty parts)."""
        if self.kind == "fields":
            return " ".join(v for v in (row.get(n, "").strip() for n in self.names) if v)
        return row.get(self.name, "")


@dataclass(frozen=True)
class EntityMapping:
    """How one canonical entity is fed from one exported object."""

    entity: str
    object: str
    fields: dict[str, Source]
    when: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Only records where each field is set (empty tuple) or has one of the values."""
    inactive: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Records whose field has one of these values are inactive (kept in separate files)."""
    text_dates: tuple[str, ...] = ()
    """Free-text source fields holding dates, normalised in the quality report."""
    id_field: str = ""
    """The source field holding the legacy id when the export has no id column."""

    def source_fields(self) -> set[str]:
        """Source fields this mapping reads (so the rest are extra fields)."""
        return ({c for s in self.fields.values() for c in s.columns()} | set(self.when)
                | set(self.inactive))

    def accepts(self, values: dict[str, str]) -> bool:
        """Whether a flattened record belongs to this entity."""
        for name, allowed in self.when.items():
            value = values.get(name, "")
            if not value or (allowed and value not in allowed):
                return False
        return True

    def is_inactive(self, values: dict[str, str]) -> bool:
        """Whether a flattened record is inactive (lapsed, cancelled, deceased …)."""
        return any(values.get(name, "").strip().lower() in {v.lower() for v in allowed}
                   for name, allowed in self.inactive.items())


@dataclass(frozen=True)
class CanonicalMapping:
    """All entity mappings for one connector, and the file they came from."""

    connector: str
    entities: tuple[EntityMapping, ...]
    source: str

    def entity(self, name: str) -> EntityMapping | None:
        """The mapping of entity ``name``, if the file maps it."""
        return next((e for e in self.entities if e.entity == name), None)


def default_mapping_texts() -> dict[str, str]:
    """The shipped canonical mappings: connector → TOML text."""
    root = resources.files("vaultkeeper.default_policies").joinpath(MAPPINGS_DIR)
    return {p.name[:-5]: p.read_text(encoding="utf-8") for p in root.iterdir()
            if p.name.endswith(".toml")}


def load_canonical(policies_dir: Path | None) -> dict[str, CanonicalMapping]:
    """Every canonical mapping: ``policies/mappings/<connector>.toml`` or the built-in one."""
    found: dict[str, CanonicalMapping] = {}
    folder = policies_dir / MAPPINGS_DIR if policies_dir is not None else None
    if folder is not None and folder.is_dir():
        for path in sorted(folder.glob("*.toml")):
            if path.stem not in CONNECTOR_FILES:
                near = suggest(path.stem, CONNECTOR_FILES)
                raise ConfigError("not a connector vaultkeeper knows, so it would be ignored",
                                  f"rename it to {near}.toml" if near else
                                  f"name it after the connector: {', '.join(CONNECTOR_FILES)}",
                                  file=str(path))
            found[path.stem] = parse_mapping(path.stem, read_toml(path), str(path))
    for name, text in default_mapping_texts().items():
        if name not in found:
            label = f"built-in {MAPPINGS_DIR}/{name}.toml"
            found[name] = parse_mapping(name, read_toml(Path(label), text), label)
    return found


def _as_source(value: Any, origin: Origin) -> Source:
    if isinstance(value, list):
        if not value or not all(isinstance(v, str) and v and not v.startswith("@")
                                for v in value):
            raise Bad("must be a field name, or a list of field names joined by a blank",
                      fix=f'{origin.name} = ["Tussenvoegsel", "Achternaam"]')
        return Source("fields", names=tuple(value)) if len(value) > 1 else Source(
            "field", value[0])
    text = as_str(value, origin)
    if text == "@id":
        return Source("id")
    if text.startswith("@"):
        m = _REL.fullmatch(text)
        if not m:
            raise Bad("is not a field name, @id or @rel:<from>__<to>",
                      fix=f'{origin.name} = "@rel:contacts__companies" (a relation file stem)')
        return Source("rel", m[1])
    return Source("field", text)


def _as_filter(value: Any, origin: Origin) -> dict[str, tuple[str, ...]]:
    if isinstance(value, str) and value:
        return {value: ()}
    if not isinstance(value, dict) or not value:
        raise Bad("must be a field name or a table field = value(s)",
                  fix=f'{origin.name} = {{ pipeline = "default" }} or '
                      f'{origin.name} = "membership_number"')
    out: dict[str, tuple[str, ...]] = {}
    for key, item in value.items():
        items = [item] if isinstance(item, str) else item
        if not isinstance(items, list) or not items or not all(
                isinstance(v, str) and v for v in items):
            raise Bad(f"{key} must be a string or a list of strings",
                      fix=f'{origin.name} = {{ {key} = ["value"] }}')
        out[key] = tuple(items)
    return out


def _as_text_list(value: Any, origin: Origin) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise Bad("must be a list of field names", fix=f'{origin.name} = ["date_joined_text"]')
    return tuple(value)


def _as_table(value: Any, origin: Origin) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Bad("must be a table", fix=f"write it as [{origin.section.strip('[]')}."
                                         f"{origin.name}]")
    return value


_ENTITY_KEYS = {"object": Field(as_str, "contacts"), "id": Field(as_str, "Lidnummer"),
                "when": Field(_as_filter, None),
                "inactive": Field(_as_filter, None), "text_dates": Field(_as_text_list, None),
                "fields": Field(_as_table, None)}


def parse_mapping(connector: str, doc: dict[str, Any], file: str) -> CanonicalMapping:
    """Validate one mapping file; errors name the file, the key and the fix."""
    top = read_fields(doc, {name: Field(_as_table, None) for name in ENTITIES},
                      Origin(file, ""))
    entities: list[EntityMapping] = []
    for name, table in top.items():
        section = f"[{name}]"
        values = read_fields(table, _ENTITY_KEYS, Origin(file, section))
        if "object" not in values:
            raise ConfigError("missing", 'object = "contacts" (the exported object that feeds '
                              "this entity)", file=file, key=f"{section} object")
        spec = {f: Field(_as_source, "firstname") for f in ENTITIES[name]}
        sources = read_fields(values.get("fields", {}), spec, Origin(file, f"[{name}.fields]"))
        for fname, src in sources.items():
            kind = ENTITIES[name][fname][0]
            if kind.startswith("ref:") and src.kind in ("field", "fields"):
                continue   # a field holding the other record's id (CSV exports) is fine
            if src.kind in ("rel", "id") and not kind.startswith("ref:"):
                raise ConfigError(f"{src.describe()} gives a record id, but {fname} is not a "
                                  "reference field", f'map {fname} to a source field name',
                                  file=file, key=f"[{name}.fields] {fname}")
        entities.append(EntityMapping(entity=name, object=values["object"], fields=sources,
                                      when=values.get("when", {}),
                                      inactive=values.get("inactive", {}),
                                      text_dates=values.get("text_dates", ()),
                                      id_field=values.get("id", "")))
    return CanonicalMapping(connector=connector, entities=tuple(entities), source=file)
