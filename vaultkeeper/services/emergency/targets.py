"""Import files per target CRM, built from canonical rows.

A column's source is a canonical field, ``legacy_id``, a lookup of the related record
(``@org_domain``: the domain of the row's organisation, ``@person_email``: the e-mail of its
person — the columns HubSpot's importer associates records on; ``@valid_email``: the row's own
e-mail when it is valid, empty otherwise, since importers reject the whole row), a constant
(``=Donations``), or a field with a filter (``birth_date|date``: only full ISO dates, which
Salesforce requires).
"""

from __future__ import annotations

from dataclasses import dataclass

LEGACY_HEADER_HUBSPOT = "Legacy Record ID"
LEGACY_FIELD_SALESFORCE = "Legacy_Id__c"


@dataclass(frozen=True)
class ImportFile:
    """One import file of a target."""

    entity: str
    name: str
    columns: tuple[tuple[str, str], ...]
    how: str
    """One line for the runbook: what the importer matches on."""


def _cols(*pairs: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return pairs


_HS = LEGACY_HEADER_HUBSPOT
_SF = LEGACY_FIELD_SALESFORCE

HUBSPOT: tuple[ImportFile, ...] = (
    ImportFile("organisation", "companies.csv", _cols(
        ("Company name", "name"), ("Company Domain Name", "domain"), ("Website URL", "website"),
        ("Phone Number", "phone"), ("Street Address", "street"), ("City", "city"),
        ("State/Region", "region"), ("Postal Code", "postcode"), ("Country/Region", "country"),
        ("Industry", "industry"), ("Type", "type"), (_HS, "legacy_id")),
        "Import as Companies; HubSpot de-duplicates companies on Company Domain Name. Create a "
        f"single-line text property '{_HS}' first."),
    ImportFile("person", "contacts.csv", _cols(
        ("First Name", "first_name"), ("Last Name", "last_name"), ("Salutation", "salutation"),
        ("Email", "@valid_email"), ("Phone Number", "phone"), ("Mobile Phone Number", "mobile"),
        ("Street Address", "street"), ("City", "city"), ("State/Region", "region"),
        ("Postal Code", "postcode"), ("Country/Region", "country"),
        ("Date of birth", "birth_date"), ("Job Title", "job_title"), (_HS, "legacy_id"),
        ("Company Domain Name", "@org_domain"), ("Associated Company Legacy ID",
                                                 "organisation_id")),
        "Import as Contacts; HubSpot matches contacts on Email, and associates each with the "
        "company whose Company Domain Name is in the same row."),
    ImportFile("membership", "memberships.csv", _cols(
        ("Email", "@person_email"), (_HS, "person_id"), ("Membership number", "number"),
        ("Membership level", "level"), ("Membership status", "status"),
        ("Membership start date", "start_date"), ("Membership renewal date", "end_date"),
        ("Branch", "branch"), ("Membership Legacy ID", "legacy_id"),
        ("Associated Company Legacy ID", "organisation_id")),
        "Import as an update of Contacts (custom membership properties), matched on Email or on "
        f"'{_HS}'."),
    ImportFile("donation", "donations.csv", _cols(
        ("Deal Name", "name"), ("Amount", "amount"), ("Close Date", "date"),
        ("Pipeline", "=Donations"), ("Deal Stage", "status"), ("Donation type", "type"),
        ("Campaign", "campaign"), ("Payment method", "payment_method"),
        ("Payment reference", "reference"), ("Fund", "fund"), ("Gift Aid", "gift_aid"),
        (_HS, "legacy_id"), ("Email", "@person_email"),
        ("Associated Contact Legacy ID", "person_id"), ("Company Domain Name", "@org_domain"),
        ("Associated Company Legacy ID", "organisation_id")),
        "Import as Deals together with Contacts (two objects, one file): the Email column "
        "associates each deal with its contact. Create the Donations pipeline and stages first."),
    ImportFile("activity", "notes.csv", _cols(
        ("Note body", "body"), ("Activity date", "date"), ("Activity type", "type"),
        (_HS, "legacy_id"), ("Email", "@person_email"),
        ("Associated Contact Legacy ID", "person_id"),
        ("Associated Company Legacy ID", "organisation_id"),
        ("Associated Deal Legacy ID", "donation_id")),
        "Import as Notes associated with Contacts by Email; the Associated … Legacy ID columns "
        "name the contact, company and deal each note belongs to."),
)

SALESFORCE: tuple[ImportFile, ...] = (
    ImportFile("organisation", "Account.csv", _cols(
        ("Name", "name"), ("Website", "website"), ("Phone", "phone"),
        ("BillingStreet", "street"), ("BillingCity", "city"), ("BillingState", "region"),
        ("BillingPostalCode", "postcode"), ("BillingCountry", "country"),
        ("Industry", "industry"), ("Type", "type"), (_SF, "legacy_id")),
        f"Data Loader: upsert Account on the External ID field {_SF} (create it: Text, "
        "External ID, Unique)."),
    ImportFile("person", "Contact.csv", _cols(
        ("FirstName", "first_name"), ("LastName", "last_name"), ("Salutation", "salutation"),
        ("Email", "@valid_email"), ("Phone", "phone"), ("MobilePhone", "mobile"),
        ("MailingStreet", "street"), ("MailingCity", "city"), ("MailingState", "region"),
        ("MailingPostalCode", "postcode"), ("MailingCountry", "country"),
        ("Birthdate", "birth_date|date"), ("Title", "job_title"),
        ("HasOptedOutOfEmail", "email_opt_out|bool"), (_SF, "legacy_id"),
        (f"Account.{_SF}", "organisation_id")),
        f"Data Loader: upsert Contact on {_SF}; map Account.{_SF} to the Account lookup by "
        "external id. LastName is required by Salesforce."),
    ImportFile("membership", "Membership__c.csv", _cols(
        ("Name", "number"), (f"Contact__r.{_SF}", "person_id"), ("Level__c", "level"),
        ("Status__c", "status"), ("Start_Date__c", "start_date|date"),
        ("End_Date__c", "end_date|date"), ("Branch__c", "branch"), (_SF, "legacy_id"),
        (f"Account__r.{_SF}", "organisation_id")),
        "Data Loader: upsert into a custom object Membership__c (or your membership app's "
        "object) on its legacy id; the contact lookup resolves by external id."),
    ImportFile("donation", "Opportunity.csv", _cols(
        ("Name", "name"), ("Amount", "amount"), ("CloseDate", "date|date"),
        ("StageName", "status"), ("Type", "=Donation"), ("Donation_Type__c", "type"),
        ("Campaign_Code__c", "campaign"), ("Payment_Method__c", "payment_method"),
        ("Gift_Aid_Eligible__c", "gift_aid|bool"), (_SF, "legacy_id"),
        (f"Account.{_SF}", "organisation_id"), (f"Primary_Contact__r.{_SF}", "person_id")),
        f"Data Loader: upsert Opportunity on {_SF}; Name, CloseDate and StageName are required "
        "(stages must exist)."),
    ImportFile("activity", "Task.csv", _cols(
        ("Subject", "subject"), ("Description", "body"), ("ActivityDate", "date|date"),
        ("Type", "type"), ("OwnerId_legacy", "owner"), (_SF, "legacy_id"),
        ("Who_Legacy_Id", "person_id"), ("What_Legacy_Id", "donation_id"),
        ("What_Account_Legacy_Id", "organisation_id")),
        "Data Loader: insert Task; WhoId/WhatId are polymorphic, so fill them from the id-map "
        "files (legacy id → new id) before the import."),
)

TARGETS: dict[str, tuple[ImportFile, ...]] = {"hubspot": HUBSPOT, "salesforce": SALESFORCE}
LEGACY_COLUMN = {"hubspot": _HS, "salesforce": _SF}
"""The column of every vendor import file that holds the record's own legacy id."""
ASSOCIATIONS_HOW = {
    "generic": "Links the columns cannot hold (a second organisation, further contacts): "
               "legacy ids of both sides; create them after both imports, through the id-map.",
    "hubspot": "Import as associations between existing records (Import → 'Associations'), "
               "matching both sides on 'Legacy Record ID'.",
    "salesforce": "Data Loader: insert into the junction object (AccountContactRelation, "
                  "OpportunityContactRole …), both lookups by Legacy_Id__c.",
}


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
