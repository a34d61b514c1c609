"""The vendor targets: an empty HubSpot portal or Salesforce org, loaded through the writers.

The records go in as an administrator's API import would: HubSpot batch create with the legacy
id in a custom property (created first, like the runbook says) and v4 associations;
Salesforce sObject Collections with lookups set in the same insert. Then vaultkeeper's own
reader exports everything back. Mapping destinations:

- ``prop:NAME``: a property (HubSpot; a missing one is created as text) or field (Salesforce);
- ``text``: a ``entity.field: value`` line in the record's free-text home (HubSpot: the
  ``vaultkeeper_text`` property; Salesforce: ``Description``);
- ``link:OBJECT`` (HubSpot association) / ``link:OBJECT:LookupField`` (Salesforce);
- ``same``: the membership lives on its person's record (an update of that contact).

A record the vendor refuses (an invalid e-mail, a duplicate e-mail, an option it does not
know) is retried once with its mapped values moved to the free-text home, and said so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from vaultkeeper import registry
from vaultkeeper.connectors import make_writer
from vaultkeeper.connectors.writer import LinkSpec, NewRecord, RecordUpdate
from vaultkeeper.errors import UsageError
from vaultkeeper.models import Record, Relation
from vaultkeeper.services.rehearse.hs_import import load_by_csv
from vaultkeeper.services.rehearse.model import (
    TEXT_HEADER,
    LoadStats,
    PackageData,
    Returned,
    TargetMapping,
    appended,
    entity_fields,
    fields_to,
    parse_lines,
    ref_target,
    text_lines,
)
from vaultkeeper.services.rehearse.targets import Target

ORDER = ("organisation", "person", "membership", "donation", "activity")


def default_mapping(kind: str) -> dict[str, dict[str, str]]:
    """The built-in mapping for a vendor target (its own record's, the rest as text)."""
    given = registry.rehearsal(kind).mapping
    return {entity: fields_to("text", entity, given[entity]) for entity in ORDER}


def destinations(kind: str) -> frozenset[str]:
    """Destinations a vendor mapping may use (any ``prop:``/``link:`` is checked later)."""
    return _AnyDest()


class _AnyDest(frozenset[str]):
    """Accepts ``text``, ``same``, ``prop:NAME`` and ``link:…``."""

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and (item in ("text", "same")
                                          or item.startswith(("prop:", "link:")))

    def __iter__(self) -> Iterator[str]:
        return iter(("text", "same", "prop:NAME", "link:OBJECT[:LookupField]"))


@contextmanager
def _endpoint(target: Target) -> Iterator[tuple[str, str, Any]]:
    """(url, token, ca_file) of the target; a sandbox is started empty and stopped after."""
    if target.sandbox:
        # Lazy: the built-in CRM loads only for `--into sandbox:…` targets.
        from vaultkeeper.sandbox import Sandbox

        with Sandbox(records=0, seed=1) as sb:
            yield sb.url, sb.token, sb.ca_file
        return
    if not target.url or target.token is None:
        raise UsageError(f"target {target.label} needs url and token",
                         'set url and token = { env = "…" } in its [rehearsal.NAME] section')
    yield target.url, target.token.reveal(), target.ca_file


class VendorLoader:
    """Imports canonical rows through a writer and reads them back through a connector."""

    def __init__(self, kind: str, writer: Any, mapping: TargetMapping,
                 progress: Callable[[str, int], None]) -> None:
        self.kind = kind
        self.writer = writer
        self.mapping = mapping
        self.progress = progress
        self.vendor = registry.rehearsal(kind)
        self.objects = self.vendor.objects
        self.home = self.vendor.text_home
        self.ids: dict[str, dict[str, str]] = {e: {} for e in ORDER}   # legacy → vendor id
        self.texts: dict[str, str] = {}                                 # vendor id → text

    def _dest(self, entity: str, name: str) -> str:
        return self.mapping.dest(entity, name) or ""

    def _writable(self, obj: str) -> set[str]:
        wanted = {d[5:] for e, o in self.objects.items() if o == obj
                  for d in self.mapping.fields.get(e, {}).values() if d.startswith("prop:")}
        wanted.add(self.home)
        fields = self.writer.writable_fields(obj)
        have = set(fields.createable)
        if self.vendor.creates_properties:
            for name in sorted(wanted - have):   # as the runbook asks: create them first
                self.writer.ensure_legacy_id_property(obj, name)
                have.add(name)
        return have

    def load(self, pkg: PackageData) -> LoadStats:
        """Create every record and link; memberships update their person's record."""
        stats = LoadStats()
        writable = {o: self._writable(o) for o in set(self.objects.values())}
        for entity in ORDER:
            rows = pkg.rows.get(entity, {})
            obj = self.objects[entity]
            stats.sent[entity] = len(rows)
            if not rows:
                continue
            built = {legacy: self._build(entity, row, writable[obj])
                     for legacy, row in rows.items()}
            if self._dest(entity, "person_id") == "same":
                self._update_person(entity, built, rows, stats, RecordUpdate)
                continue
            records = [NewRecord(legacy, props, links=[LinkSpec(obj, "", to_obj, to_id, kind)
                                                       for to_obj, to_id, kind in links])
                       for legacy, (props, links) in built.items()]
            result = self.writer.create(obj, records)
            retry = []
            for outcome in result.outcomes:
                if outcome.ok and outcome.id:
                    self.ids[entity][outcome.key] = outcome.id
                    self._remember(outcome.id, built[outcome.key][0])
                else:
                    retry.append(outcome)
            for outcome in retry:   # once more with the mapped values as text
                props, links = self._build(entity, rows[outcome.key], writable[obj],
                                           as_text=True)
                again = self.writer.create(obj, [NewRecord(outcome.key, props, links=[
                    LinkSpec(obj, "", t, i, k) for t, i, k in links])]).outcomes[0]
                if again.ok and again.id:
                    self.ids[entity][outcome.key] = again.id
                    self._remember(again.id, props)
                    stats.notes.append(f"{entity} {outcome.key}: {self.kind} refused it "
                                       f"({_reason(outcome)}); imported with its values "
                                       f"as text in {self.home}")
                else:
                    stats.refused.setdefault(entity, []).append(
                        f"{entity}:{outcome.key}: {_reason(again)}")
            self._link_after(entity, built, LinkSpec)
            self.progress(entity, len(rows))
        return stats

    def _remember(self, vendor_id: str, props: dict[str, Any]) -> None:
        """Keep a record's free text, so a later update (membership) appends to it."""
        text = str(props.get(self.home) or "")
        if text:
            self.texts[vendor_id] = text

    def _update_person(self, entity: str, built: dict[str, Any], rows: dict[str, Any],
                       stats: LoadStats, update_cls: Any) -> None:
        updates = []
        for legacy, (props, _links) in built.items():
            person = self.ids["person"].get(rows[legacy].get("person_id", ""))
            if person is None:
                stats.refused.setdefault(entity, []).append(
                    f"{entity}:{legacy}: its person {rows[legacy].get('person_id')!r} was not "
                    "imported")
                continue
            text = props.pop(self.home, "")
            if text:   # append to the person's own text lines
                self.texts[person] = appended(self.texts.get(person, ""), text)
                props[self.home] = self.texts[person]
            updates.append(update_cls(person, props, key=legacy))
            self.ids[entity][legacy] = person
        for outcome in self.writer.update(self.objects[entity], updates).outcomes:
            if not outcome.ok:
                stats.refused.setdefault(entity, []).append(
                    f"{entity}:{outcome.key}: {_reason(outcome)}")
                self.ids[entity].pop(outcome.key, None)
        self.progress(entity, len(rows))

    def _build(self, entity: str, row: dict[str, str], writable: set[str], *,
               as_text: bool = False) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
        props: dict[str, Any] = {}
        links: list[tuple[str, str, str]] = []
        text: list[tuple[str, str]] = []
        for name in ("legacy_id", *entity_fields(entity)):
            dest, value = self._dest(entity, name), row.get(name, "")
            if not value or not dest or dest == "same" or dest.startswith("none:"):
                continue
            if dest.startswith("prop:") and dest[5:] in writable and (
                    not as_text or name == "legacy_id"):
                props[dest[5:]] = value
            elif dest.startswith("link:"):
                _, to_obj, *kind = dest.split(":")
                target = ref_target(entity, name) or ""
                to_id = self.ids.get(target, {}).get(value)
                if to_id and not (kind and kind[0] in {k for _, _, k in links}):
                    links.append((to_obj, to_id, kind[0] if kind else ""))
                else:
                    text.append((f"{entity}.{name}", value))
            else:
                text.append((f"{entity}.{name}", value))
        if self._dest(entity, "person_id") != "same":   # an update needs no fillers
            for prop, filler in (self.vendor.fillers or {}).get(self.objects[entity], {}).items():
                props.setdefault(prop, filler)
        if text:
            props[self.home] = text_lines(TEXT_HEADER, text)
        return props, links

    def _link_after(self, entity: str, built: dict[str, Any], link_cls: Any) -> None:
        """HubSpot writes associations after the records (unless the writer inlines them)."""
        if getattr(self.writer.capabilities, "inline_links", False):
            return
        specs = [link_cls(self.objects[entity], self.ids[entity][legacy], to_obj, to_id, kind)
                 for legacy, (_p, links) in built.items() if legacy in self.ids[entity]
                 for to_obj, to_id, kind in links]
        if specs:
            self.writer.link(specs)

    # -- export back ---------------------------------------------------------------------------
    def export(self, connector: Any) -> Returned:
        """Read every object back with vaultkeeper's reader and map it to canonical rows."""
        back = Returned()
        wanted = set(self.objects.values())
        records: dict[str, dict[str, dict[str, Any]]] = {o: {} for o in wanted}
        edges: set[tuple[str, str, str, str]] = set()
        for spec in connector.discover():
            if spec.name not in wanted:
                continue
            for item in connector.read(spec):
                if isinstance(item, Record):
                    data = item.data
                    rid = str(data.get("id") or data.get("Id"))
                    props = data.get("properties", data)
                    records[spec.name][rid] = props
                elif isinstance(item, Relation):
                    edges.add((item.from_object, item.from_id, item.to_object, item.to_id))
                    edges.add((item.to_object, item.to_id, item.from_object, item.from_id))
                    edges.add((item.from_object, item.from_id, item.type, item.to_id))
        legacy_of: dict[tuple[str, str], str] = {}   # (entity, vendor id) → legacy id
        for entity in ORDER:
            obj = self.objects[entity]
            for rid, props in records[obj].items():
                text = parse_lines(str(props.get(self.home) or ""))[1]
                legacy = self._value(entity, "legacy_id", props, text)
                if legacy:
                    legacy_of[(entity, rid)] = legacy
                    back.put(entity, legacy, "legacy_id", legacy)
        for (entity, rid), legacy in legacy_of.items():
            obj = self.objects[entity]
            props = records[obj][rid]
            text = parse_lines(str(props.get(self.home) or ""))[1]
            for name in entity_fields(entity):
                dest = self._dest(entity, name)
                if dest == "same":
                    person = legacy_of.get(("person", rid))
                    if person:
                        back.put(entity, legacy, name, person)
                elif dest.startswith("link:"):
                    _, to_obj, *kind = dest.split(":")
                    target = ref_target(entity, name) or ""
                    hits = sorted(lg for (e, i), lg in legacy_of.items()
                                  if e == target and self.objects[e] == to_obj and
                                  ((obj, rid, kind[0] if kind else to_obj, i) in edges))
                    value = hits[0] if hits else text.get(f"{entity}.{name}", "")
                    back.put(entity, legacy, name, value)
                else:
                    back.put(entity, legacy, name, self._value(entity, name, props, text))
        return back

    def _value(self, entity: str, name: str, props: dict[str, Any],
               text: dict[str, str]) -> str:
        if f"{entity}.{name}" in text:
            return text[f"{entity}.{name}"]
        dest = self._dest(entity, name)
        if dest.startswith("prop:"):
            value = props.get(dest[5:])
            return "" if value is None else str(value)
        return ""


def _reason(outcome: Any) -> str:
    """The vendor's error code: its message quotes the refused values (CRM data)."""
    return str(outcome.code or "refused (no error code)")


def rehearse_vendor(target: Target, pkg: PackageData, mapping: TargetMapping,
                    progress: Callable[[str, int], None], *, via: str = "api"
                    ) -> tuple[LoadStats, Returned, dict[str, float]]:
    """Import into the vendor target (``via`` its write API, or HubSpot's CSV ``import`` of
    the package's files), export back with vaultkeeper's reader."""
    times: dict[str, float] = {}
    with _endpoint(target) as (url, token, ca_file):
        writer = make_writer(target.kind, url, token, ca_file=ca_file)
        try:
            loader = VendorLoader(target.kind, writer, mapping, progress)
            t0 = time.monotonic()
            if via == "import" and loader.vendor.imports is not None:
                imports = loader.vendor.imports(url, token, ca_file=ca_file)
                try:
                    stats = load_by_csv(target.kind, imports, writer, pkg, mapping, progress)
                finally:
                    imports.close()
            else:
                stats = loader.load(pkg)
            times["import_s"] = round(time.monotonic() - t0, 2)
        finally:
            writer.close()
        reader: Any = loader.vendor.reader(url, token, ca_file=ca_file)
        try:
            t0 = time.monotonic()
            back = loader.export(reader)
            times["export_s"] = round(time.monotonic() - t0, 2)
        finally:
            reader.close()
    return stats, back, times
