"""HubSpot as a rehearsal target: its objects, free-text home, built-in mappings and openers."""

from __future__ import annotations

from vaultkeeper import registry
from vaultkeeper.connectors.hubspot import HubSpotConnector
from vaultkeeper.connectors.hubspot_imports import HubSpotImports
from vaultkeeper.connectors.writer import LEGACY_ID_PROPERTY

NAME = HubSpotConnector.name
LEGACY = f"prop:{LEGACY_ID_PROPERTY}"
_SYSTEM = "none:set by HubSpot when the record is created"
_FLAGS = "none:archived and inactive records are the rows of the inactive/ files"


def _with_flags(**fields: str) -> dict[str, str]:
    return {**fields, "archived": _FLAGS, "inactive": _FLAGS}


IMPORT_MAPPING: dict[str, dict[str, str]] = {
    "organisation": _with_flags(
        legacy_id=LEGACY, name="prop:name", domain="prop:domain",
        website="prop:website", phone="prop:phone", street="prop:address", city="prop:city",
        region="prop:state", postcode="prop:zip", country="prop:country",
        industry="prop:vaultkeeper_industry", type="prop:vaultkeeper_type",
        created_at=_SYSTEM, updated_at=_SYSTEM),
    "person": _with_flags(
        legacy_id=LEGACY, first_name="prop:firstname", last_name="prop:lastname",
        salutation="prop:salutation", email="prop:email", phone="prop:phone",
        mobile="prop:mobilephone", street="prop:address", city="prop:city",
        region="prop:state", postcode="prop:zip", country="prop:country",
        birth_date="prop:date_of_birth", job_title="prop:jobtitle",
        organisation_id="link:companies", created_at=_SYSTEM, updated_at=_SYSTEM,
        email_opt_out="prop:hs_email_optout"),
    "membership": _with_flags(
        legacy_id="prop:vaultkeeper_membership_id", person_id="same",
        number="prop:membership_number", level="prop:membership_level",
        status="prop:membership_status", start_date="prop:membership_start_date",
        end_date="prop:membership_renewal_date", branch="prop:branch",
        organisation_id="link:companies"),
    "donation": _with_flags(
        legacy_id=LEGACY, name="prop:dealname", amount="prop:amount",
        date="prop:closedate", status="prop:vaultkeeper_deal_stage",
        type="prop:vaultkeeper_donation_type", campaign="prop:campaign_code",
        payment_method="prop:vaultkeeper_payment_method", reference="prop:payment_reference",
        fund="prop:vaultkeeper_fund", gift_aid="prop:vaultkeeper_gift_aid",
        person_id="link:contacts", organisation_id="link:companies",
        currency="prop:deal_currency_code"),
    "activity": _with_flags(
        legacy_id=LEGACY, body="prop:hs_note_body", date="prop:hs_timestamp",
        type="prop:vaultkeeper_activity_type", person_id="link:contacts",
        organisation_id="link:companies", donation_id="link:deals",
        subject="none:notes.csv has no subject column (a HubSpot note is its body)",
        owner="none:owners are users of the new portal, assigned there"),
}
"""Where each canonical field goes, for the package's own import files (``--via import``):
the one table of HubSpot's properties and associations, ``none:why`` for fields not imported."""

_API_FIELDS: dict[str, tuple[str, ...]] = {
    "organisation": ("legacy_id", "name", "domain", "website", "phone", "street", "city",
                     "region", "postcode", "country"),
    "person": ("legacy_id", "first_name", "last_name", "salutation", "email", "phone", "mobile",
               "street", "city", "region", "postcode", "country", "job_title",
               "organisation_id"),
    "membership": ("legacy_id", "person_id", "number", "branch"),
    "donation": ("legacy_id", "name", "amount", "campaign", "reference", "person_id",
                 "organisation_id"),
    "activity": ("legacy_id", "body", "person_id", "organisation_id", "donation_id"),
}
"""The fields the write API (``--via api``) puts in their property or association, as in
IMPORT_MAPPING; the rest go to the free-text home."""


REHEARSAL = registry.Rehearsal(
    name=NAME,
    objects={"person": "contacts", "organisation": "companies", "membership": "contacts",
             "donation": "deals", "activity": "notes"},
    text_home="vaultkeeper_text",
    mapping={entity: {f: IMPORT_MAPPING[entity][f] for f in fields}
             for entity, fields in _API_FIELDS.items()},
    reader=HubSpotConnector,
    fillers={"notes": {"hs_timestamp": "1900-01-01T00:00:00Z"}},
    creates_properties=True,   # as the runbook asks: custom properties are created first
    imports=HubSpotImports,
)
registry.register_rehearsal(REHEARSAL)
