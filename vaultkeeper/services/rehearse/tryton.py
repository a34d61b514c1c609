"""The generic target: load a package into a Tryton server over JSON-RPC and read it back.

Done the way an administrator's import script would: log in, create a company and currency,
then parties (``party.party``) with their address (``party.address``) and contact mechanisms
(``party.contact_mechanism``), person → organisation links as party relations
(``party_relationship``), memberships and donations as sales opportunities
(``sale_opportunity``) and activities as notes (``ir.note``) on the party or opportunity.
Every record carries its legacy id: the party ``code`` (``person:1001``), the opportunity
``reference`` (``donation:9000000001``), the note's first line. Fields without a home of their
own go to a free-text home as ``name: value`` lines (the party's note, the opportunity's
comment, the activity's message) when the mapping says ``note``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from vaultkeeper.errors import ConnectorError, UsageError
from vaultkeeper.services.rehearse.model import (
    TEXT_HEADER,
    LoadStats,
    PackageData,
    Returned,
    TargetMapping,
    entity_fields,
    fields_to,
    parse_lines,
    text_lines,
)
from vaultkeeper.targets.tryton_rpc import TrytonRpc

PARTY_ENTITIES = ("organisation", "person")
OPPORTUNITY_ENTITIES = ("membership", "donation")
DESTINATIONS = frozenset({
    "party.name", "address.street", "address.city", "address.postal_code", "address.country",
    "contact.email", "contact.phone", "contact.mobile", "contact.website", "relation", "note",
    "opportunity.description", "opportunity.amount", "opportunity.currency",
    "opportunity.start_date", "opportunity.end_date", "opportunity.party", "note.resource"})
RELATION_TYPE = "works for (vaultkeeper rehearsal)"
REVERSE_TYPE = "employs (vaultkeeper rehearsal)"
SETUP_CODE = "vaultkeeper-rehearsal-company"
_BATCH = 200

_TEXT = "note"


def _default_mapping() -> dict[str, dict[str, str]]:
    addr = {"street": "address.street", "city": "address.city",
            "postcode": "address.postal_code", "country": "address.country"}
    return {
        "person": fields_to(_TEXT, "person", {
            **addr, "email": "contact.email", "phone": "contact.phone",
            "mobile": "contact.mobile", "organisation_id": "relation"}),
        "organisation": fields_to(_TEXT, "organisation", {
            **addr, "name": "party.name", "phone": "contact.phone",
            "website": "contact.website"}),
        "membership": fields_to(_TEXT, "membership", {
            "number": "opportunity.description", "person_id": "opportunity.party",
            "organisation_id": "opportunity.party", "start_date": "opportunity.start_date",
            "end_date": "opportunity.end_date"}),
        "donation": fields_to(_TEXT, "donation", {
            "name": "opportunity.description", "amount": "opportunity.amount",
            "currency": "opportunity.currency", "date": "opportunity.start_date",
            "person_id": "opportunity.party", "organisation_id": "opportunity.party"}),
        "activity": fields_to(_TEXT, "activity", {
            "person_id": "note.resource", "organisation_id": "note.resource",
            "donation_id": "note.resource"}),
    }


DEFAULT_MAPPING = _default_mapping()


def scrub(text: str) -> str:
    """An error message without the quoted values in it (they are CRM data)."""
    return re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)[:200]


def _iso_date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def _decimal(value: str) -> Decimal | None:
    try:
        return Decimal(value)
    except (InvalidOperation, ValueError):
        return None


class TrytonLoader:
    """Imports one package into one (empty) Tryton database and exports it back."""

    def __init__(self, rpc: TrytonRpc, mapping: TargetMapping,
                 progress: Callable[[str, int], None] | None = None) -> None:
        self.rpc = rpc
        self.mapping = mapping
        self.progress = progress or (lambda _what, _n: None)
        self.party_ids: dict[str, int] = {}        # "person:1001" → party id
        self.opportunity_ids: dict[str, int] = {}  # "donation:9" → opportunity id
        self._countries: dict[str, int] = {}
        self._currencies: dict[str, int] = {}
        self.company = 0
        self.company_party = 0
        self.relation_type = 0

    # -- set-up ------------------------------------------------------------------------------
    def setup(self, currency: str) -> None:
        """Refuse a non-empty database; create the company, currency and relation types."""
        taken = self.rpc.call("party.party", "search_count",
                              [["code", "!=", SETUP_CODE]], 0, None)
        if taken:
            raise UsageError(f"the Tryton database {self.rpc.database!r} already holds "
                             f"{taken} part(y/ies): a rehearsal needs an empty database",
                             "create a fresh database (trytond-admin … --all) and rehearse "
                             "into that")
        cur = self._currency(currency or "EUR")
        party = self.rpc.create("party.party", [{"name": "Rehearsal organisation",
                                                 "code": SETUP_CODE}])
        self.company_party = party[0]
        self.company = self.rpc.create("company.company",
                                       [{"party": party[0], "currency": cur}])[0]
        users = self.rpc.call("res.user", "search", [["id", "=", self._uid()]], 0, None, None)
        self.rpc.call("res.user", "write", users,
                      {"companies": [["add", [self.company]]], "company": self.company})
        self.rpc.context = self.rpc.call("res.user", "get_preferences", True)
        forward = self.rpc.create("party.relation.type", [{"name": RELATION_TYPE}])[0]
        back = self.rpc.create("party.relation.type", [{"name": REVERSE_TYPE,
                                                        "reverse": forward}])[0]
        self.rpc.call("party.relation.type", "write", [forward], {"reverse": back})
        self.relation_type = forward

    def _uid(self) -> int:
        prefs = self.rpc.context
        return int(prefs.get("id") or self.rpc.call("res.user", "search", [], 0, 1, None)[0])

    def _currency(self, code: str) -> int:
        code = code.upper()
        if code not in self._currencies:
            found = self.rpc.call("currency.currency", "search", [["code", "=", code]], 0, 1,
                                  None)
            self._currencies[code] = found[0] if found else self.rpc.create(
                "currency.currency", [{"code": code, "name": code, "symbol": code,
                                       "digits": 2, "rounding": Decimal("0.01")}])[0]
        return self._currencies[code]

    def _country(self, name: str) -> int:
        if name not in self._countries:
            self._countries[name] = self.rpc.create("country.country", [{"name": name}])[0]
        return self._countries[name]

    # -- import ------------------------------------------------------------------------------
    def load(self, pkg: PackageData) -> LoadStats:
        """Import every canonical row; a record the server refuses is named, not fatal."""
        stats = LoadStats()
        currencies = [r.get("currency", "") for r in pkg.rows.get("donation", {}).values()]
        self.setup(next((c for c in currencies if c), "EUR"))
        for entity in PARTY_ENTITIES:
            self._create_all(entity, pkg.rows.get(entity, {}), self._party_values,
                             "party.party", self.party_ids, stats)
        self._party_notes(pkg, stats)
        self._relations(pkg, stats)
        for entity in OPPORTUNITY_ENTITIES:
            self._create_all(entity, pkg.rows.get(entity, {}), self._opportunity_values,
                             "sale.opportunity", self.opportunity_ids, stats)
        self._activities(pkg.rows.get("activity", {}), stats)
        return stats

    def _create_all(self, entity: str, rows: dict[str, dict[str, str]],
                    build: Callable[[str, dict[str, str]], dict[str, Any]], model: str,
                    ids: dict[str, int], stats: LoadStats) -> None:
        items = [(f"{entity}:{legacy}", build(entity, row)) for legacy, row in rows.items()]
        stats.sent[entity] = len(items)
        for start in range(0, len(items), _BATCH):
            chunk = items[start:start + _BATCH]
            try:
                new = self.rpc.create(model, [v for _, v in chunk])
            except ConnectorError:
                new = []
                for key, values in chunk:   # one by one, to name the refused records
                    try:
                        new.append(self.rpc.create(model, [values])[0])
                    except ConnectorError as exc:
                        new.append(0)
                        stats.refused.setdefault(entity, []).append(
                            f"{key}: {scrub(exc.message)}")
            ids.update((key, n) for (key, _), n in zip(chunk, new, strict=True) if n)
            self.progress(entity, len(chunk))

    def _fields_to(self, entity: str, dest: str) -> list[str]:
        return [f for f in entity_fields(entity) if self.mapping.dest(entity, f) == dest]

    def _party_values(self, entity: str, row: dict[str, str]) -> dict[str, Any]:
        legacy = row["legacy_id"]
        name = " ".join(row.get(f, "") for f in self._fields_to(entity, "party.name")
                        if row.get(f))
        if not name and entity == "person":
            name = " ".join(filter(None, (row.get("first_name"), row.get("last_name"))))
        values: dict[str, Any] = {"code": f"{entity}:{legacy}",
                                  "name": name or row.get("email") or f"{entity} {legacy}"}
        address: dict[str, Any] = {}
        for dest, key in (("address.street", "street"), ("address.city", "city"),
                          ("address.postal_code", "postal_code")):
            text = " ".join(row[f] for f in self._fields_to(entity, dest) if row.get(f))
            if text:
                address[key] = text
        for f in self._fields_to(entity, "address.country"):
            if row.get(f):
                address["country"] = self._country(row[f])
                break
        if address:
            values["addresses"] = [["create", [address]]]
        mechanisms = []
        for dest in ("contact.email", "contact.phone", "contact.mobile", "contact.website"):
            kind = dest.split(".", 1)[1]
            for f in self._fields_to(entity, dest):
                if row.get(f):
                    mechanisms.append({"type": kind, "value": row[f]})
        if mechanisms:
            values["contact_mechanisms"] = [["create", mechanisms]]
        return values

    def _text_pairs(self, entity: str, row: dict[str, str],
                    extra: Iterable[str] = ()) -> list[tuple[str, str]]:
        names = [*self._fields_to(entity, _TEXT), *extra]
        return [(f, row[f]) for f in entity_fields(entity) if f in names and row.get(f)]

    def _party_notes(self, pkg: PackageData, stats: LoadStats) -> None:
        notes = []
        for entity in PARTY_ENTITIES:
            for legacy, row in pkg.rows.get(entity, {}).items():
                key = f"{entity}:{legacy}"
                pairs = self._text_pairs(entity, row)
                if pairs and key in self.party_ids:
                    notes.append({"resource": f"party.party,{self.party_ids[key]}",
                                  "message": text_lines(f"{TEXT_HEADER} {key}", pairs)})
        for start in range(0, len(notes), _BATCH):
            self.rpc.create("ir.note", notes[start:start + _BATCH])

    def _relations(self, pkg: PackageData, stats: LoadStats) -> None:
        writes: list[Any] = []
        for entity in PARTY_ENTITIES:
            for f in self._fields_to(entity, "relation"):
                target = "organisation" if f == "organisation_id" else "person"
                for legacy, row in pkg.rows.get(entity, {}).items():
                    src = self.party_ids.get(f"{entity}:{legacy}")
                    dst = self.party_ids.get(f"{target}:{row.get(f, '')}")
                    if row.get(f) and src and dst:
                        writes += [[src], {"relations": [["create", [
                            {"to": dst, "type": self.relation_type}]]]}]
                    elif row.get(f):
                        stats.notes.append(f"{entity} {legacy}: {f} {row[f]} is not in the "
                                           "package; relation not created")
        for start in range(0, len(writes), 2 * _BATCH):
            self.rpc.call("party.party", "write", *writes[start:start + 2 * _BATCH])

    def _party_ref(self, f: str, value: str) -> int | None:
        target = {"person_id": "person", "organisation_id": "organisation"}.get(f)
        return self.party_ids.get(f"{target}:{value}") if target and value else None

    def _opportunity_values(self, entity: str, row: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {"reference": f"{entity}:{row['legacy_id']}",
                                  "company": self.company,
                                  "currency": self._currency(row.get("currency") or "EUR")}
        fallback: list[str] = []
        for f in entity_fields(entity):
            dest, value = self.mapping.dest(entity, f), row.get(f, "")
            if not value or dest is None or dest == _TEXT:
                continue
            if dest == "opportunity.party":
                party = self._party_ref(f, value)
                if party and "party" not in values:
                    values["party"] = party
                else:
                    fallback.append(f)
            elif dest == "opportunity.description":
                values["description"] = value
            elif dest == "opportunity.amount" and _decimal(value) is not None:
                values["amount"] = _decimal(value)
            elif dest == "opportunity.currency":
                values["currency"] = self._currency(value)
            elif dest in ("opportunity.start_date", "opportunity.end_date") and _iso_date(value):
                values[dest.split(".", 1)[1]] = _iso_date(value)
            else:
                fallback.append(f)   # the typed field cannot hold it: keep it as text
        values.setdefault("start_date", dt.date(1900, 1, 1))   # required by Tryton
        pairs = self._text_pairs(entity, row, fallback)
        if pairs:
            values["comment"] = text_lines(f"{TEXT_HEADER} {entity}:{row['legacy_id']}", pairs)
        return values

    def _activities(self, rows: dict[str, dict[str, str]], stats: LoadStats) -> None:
        notes = []
        for legacy, row in rows.items():
            resource, fallback = None, []
            for f in self._fields_to("activity", "note.resource"):
                value = row.get(f, "")
                if not value:
                    continue
                if f == "donation_id":
                    opp = self.opportunity_ids.get(f"donation:{value}")
                    ref = f"sale.opportunity,{opp}" if opp else None
                else:
                    party = self._party_ref(f, value)
                    ref = f"party.party,{party}" if party else None
                if ref and resource is None:
                    resource = ref
                else:
                    fallback.append(f)
            if resource is None:   # linked to nothing imported: kept on the company
                resource = f"party.party,{self.company_party}"
            pairs = self._text_pairs("activity", row, fallback)
            notes.append({"resource": resource,
                          "message": text_lines(f"{TEXT_HEADER} activity:{legacy}", pairs)})
        stats.sent["activity"] = len(notes)
        for start in range(0, len(notes), _BATCH):
            self.rpc.create("ir.note", notes[start:start + _BATCH])
            self.progress("activity", len(notes[start:start + _BATCH]))

    # -- export back ---------------------------------------------------------------------------
    def export(self) -> Returned:
        """Read everything back (search_read) into canonical rows keyed by legacy id."""
        back = Returned()
        party_key: dict[int, str] = {}
        for p in self.rpc.search_read("party.party", [["code", "!=", SETUP_CODE]],
                                      ["code", "name"]):
            entity, _, legacy = str(p["code"]).partition(":")
            if entity not in PARTY_ENTITIES:
                back.notes.append(f"party {p['code']!r} is not from the package")
                continue
            party_key[p["id"]] = p["code"]
            self._put_dest(back, entity, legacy, "party.name", p.get("name") or "")
        for a in self.rpc.search_read("party.address", [],
                                      ["party", "street", "city", "postal_code", "country.name"]):
            key = party_key.get(a["party"])
            if key:
                entity, _, legacy = key.partition(":")
                self._put_dest(back, entity, legacy, "address.street", a.get("street") or "")
                self._put_dest(back, entity, legacy, "address.city", a.get("city") or "")
                self._put_dest(back, entity, legacy, "address.postal_code",
                               a.get("postal_code") or "")
                country = (a.get("country.") or {}).get("name") or ""
                self._put_dest(back, entity, legacy, "address.country", country)
        for c in self.rpc.search_read("party.contact_mechanism", [],
                                      ["party", "type", "value"]):
            key = party_key.get(c["party"])
            if key:
                entity, _, legacy = key.partition(":")
                self._put_dest(back, entity, legacy, f"contact.{c['type']}", c["value"] or "")
        for r in self.rpc.search_read("party.relation.all", [["type.name", "=", RELATION_TYPE]],
                                      ["from_", "to"]):
            src, dst = party_key.get(r["from_"]), party_key.get(r["to"])
            if src and dst:
                entity, _, legacy = src.partition(":")
                for f in self._fields_to(entity, "relation"):
                    if dst.startswith("organisation:" if f == "organisation_id"
                                       else "person:"):
                        back.put(entity, legacy, f, dst.partition(":")[2])
        opp_key = self._export_opportunities(back, party_key)
        self._export_notes(back, party_key, opp_key)
        return back

    def _put_dest(self, back: Returned, entity: str, legacy: str, dest: str,
                  value: str) -> None:
        """Assign a value read from one destination to the fields mapped there."""
        back.put(entity, legacy, "legacy_id", legacy)
        for name in self._fields_to(entity, dest):
            back.put(entity, legacy, name, value)

    def _export_opportunities(self, back: Returned, party_key: dict[int, str]) -> dict[int, str]:
        opp_key: dict[int, str] = {}
        fields = ["reference", "party", "description", "amount", "currency.code", "start_date",
                  "end_date", "comment"]
        for o in self.rpc.search_read("sale.opportunity", [], fields):
            entity, _, legacy = str(o.get("reference") or "").partition(":")
            if entity not in OPPORTUNITY_ENTITIES:
                back.notes.append(f"opportunity {o['id']} has no legacy reference")
                continue
            opp_key[o["id"]] = f"{entity}:{legacy}"
            back.put(entity, legacy, "legacy_id", legacy)
            for f in self._fields_to(entity, "opportunity.description"):
                back.put(entity, legacy, f, o.get("description") or "")
            for f in self._fields_to(entity, "opportunity.amount"):
                amount = o.get("amount")
                back.put(entity, legacy, f, "" if amount is None else str(amount))
            for f in self._fields_to(entity, "opportunity.currency"):
                back.put(entity, legacy, f, (o.get("currency.") or {}).get("code") or "")
            for dest in ("opportunity.start_date", "opportunity.end_date"):
                value = o.get(dest.split(".", 1)[1]) or ""
                for f in self._fields_to(entity, dest):
                    back.put(entity, legacy, f, "" if value == "1900-01-01" else value)
            party = party_key.get(o.get("party") or 0, "")
            for f in self._fields_to(entity, "opportunity.party"):
                target = "person" if f == "person_id" else "organisation"
                if party.startswith(f"{target}:"):
                    back.put(entity, legacy, f, party.partition(":")[2])
            self._put_text(back, entity, legacy, o.get("comment") or "")
        return opp_key

    def _put_text(self, back: Returned, entity: str, legacy: str, text: str) -> None:
        header, values = parse_lines(text)
        if text and header != f"{TEXT_HEADER} {entity}:{legacy}":
            back.notes.append(f"{entity} {legacy}: its text does not name it ({header!r})")
        for name, value in values.items():
            if name in entity_fields(entity):
                back.put(entity, legacy, name, value)

    def _export_notes(self, back: Returned, party_key: dict[int, str],
                      opp_key: dict[int, str]) -> None:
        for n in self.rpc.search_read("ir.note", [], ["resource", "message"]):
            header, _ = parse_lines(n.get("message") or "")
            tag, _, key = header.partition(" ")
            if tag != TEXT_HEADER:
                continue
            entity, _, legacy = key.partition(":")
            back.put(entity, legacy, "legacy_id", legacy)
            self._put_text(back, entity, legacy, n["message"])
            if entity != "activity":
                continue
            model, _, rid = str(n.get("resource") or "").partition(",")
            owner = (party_key if model == "party.party" else opp_key).get(int(rid or 0), "")
            kind, _, owner_legacy = owner.partition(":")
            field = {"person": "person_id", "organisation": "organisation_id",
                     "donation": "donation_id"}.get(kind)
            if field and self.mapping.dest("activity", field) == "note.resource":
                back.put("activity", legacy, field, owner_legacy)
