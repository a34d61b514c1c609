"""HubSpot as a rehearsal target: its objects, free-text home, built-in mapping and openers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vaultkeeper import registry
from vaultkeeper.connectors.hubspot import HubSpotConnector
from vaultkeeper.connectors.hubspot_imports import HubSpotImports

NAME = HubSpotConnector.name
LEGACY = "prop:vaultkeeper_legacy_id"


def _reader(url: str, token: str, ca_file: Path | None) -> Any:
    return HubSpotConnector(url, token, ca_file=ca_file)


def _imports(url: str, token: str, ca_file: Path | None) -> Any:
    return HubSpotImports(url, token, ca_file=ca_file)


REHEARSAL = registry.Rehearsal(
    name=NAME,
    objects={"person": "contacts", "organisation": "companies", "membership": "contacts",
             "donation": "deals", "activity": "notes"},
    text_home="vaultkeeper_text",
    mapping={
        "organisation": dict(
            legacy_id=LEGACY, name="prop:name", domain="prop:domain",
            website="prop:website", phone="prop:phone", street="prop:address",
            city="prop:city", region="prop:state", postcode="prop:zip",
            country="prop:country"),
        "person": dict(
            legacy_id=LEGACY, first_name="prop:firstname", last_name="prop:lastname",
            salutation="prop:salutation", email="prop:email", phone="prop:phone",
            mobile="prop:mobilephone", street="prop:address", city="prop:city",
            region="prop:state", postcode="prop:zip", country="prop:country",
            job_title="prop:jobtitle", organisation_id="link:companies"),
        "membership": dict(
            legacy_id="prop:vaultkeeper_membership_id", person_id="same",
            number="prop:membership_number", branch="prop:branch"),
        "donation": dict(
            legacy_id=LEGACY, name="prop:dealname", amount="prop:amount",
            campaign="prop:campaign_code", reference="prop:payment_reference",
            person_id="link:contacts", organisation_id="link:companies"),
        "activity": dict(
            legacy_id=LEGACY, body="prop:hs_note_body", person_id="link:contacts",
            organisation_id="link:companies", donation_id="link:deals"),
    },
    reader=_reader,
    fillers={"notes": {"hs_timestamp": "1900-01-01T00:00:00Z"}},
    creates_properties=True,   # as the runbook asks: custom properties are created first
    imports=_imports,
)
registry.register_rehearsal(REHEARSAL)
