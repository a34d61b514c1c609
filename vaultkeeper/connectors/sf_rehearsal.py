"""Salesforce as a rehearsal target: its objects, free-text home, built-in mapping, reader."""

from __future__ import annotations

from vaultkeeper import registry
from vaultkeeper.connectors.salesforce import SalesforceConnector

NAME = SalesforceConnector.name
LEGACY = "prop:HubSpot_Id__c"


REHEARSAL = registry.Rehearsal(
    name=NAME,
    objects={"person": "Contact", "organisation": "Account", "membership": "Contact",
             "donation": "Opportunity", "activity": "Task"},
    text_home="Description",
    mapping={
        "organisation": dict(
            legacy_id=LEGACY, name="prop:Name", website="prop:Website", phone="prop:Phone",
            street="prop:BillingStreet", city="prop:BillingCity",
            region="prop:BillingState", postcode="prop:BillingPostalCode",
            country="prop:BillingCountry"),
        "person": dict(
            legacy_id=LEGACY, first_name="prop:FirstName", last_name="prop:LastName",
            email="prop:Email", phone="prop:Phone", mobile="prop:MobilePhone",
            street="prop:MailingStreet", city="prop:MailingCity",
            region="prop:MailingState", postcode="prop:MailingPostalCode",
            country="prop:MailingCountry", job_title="prop:Title",
            organisation_id="link:Account:AccountId"),
        "membership": dict(
            legacy_id="text", person_id="same", number="prop:Membership_Number__c",
            level="prop:Membership_Level__c", status="prop:Membership_Status__c"),
        "donation": dict(
            legacy_id=LEGACY, name="prop:Name", amount="prop:Amount",
            campaign="prop:Campaign_Code__c", person_id="link:Contact:ContactId",
            organisation_id="link:Account:AccountId"),
        "activity": dict(
            legacy_id=LEGACY, subject="prop:Subject", person_id="link:Contact:WhoId",
            donation_id="link:Opportunity:WhatId", organisation_id="link:Account:WhatId"),
    },
    reader=SalesforceConnector,
    fillers={"Contact": {"LastName": "(none)"}, "Account": {"Name": "(none)"},
             "Opportunity": {"Name": "(none)", "CloseDate": "1900-01-01",
                             "StageName": "Closed Won"}},
)
registry.register_rehearsal(REHEARSAL)
