"""The Data Loader files the emergency package writes for a Salesforce org, keyed on the
``Legacy_Id__c`` external id, and how each is imported."""

from __future__ import annotations

from vaultkeeper.canonical import ImportFile

LEGACY_FIELD = "Legacy_Id__c"
_SF = LEGACY_FIELD

IMPORT_FILES: tuple[ImportFile, ...] = (
    ImportFile("organisation", "Account.csv", (
        ("Name", "name"), ("Website", "website"), ("Phone", "phone"),
        ("BillingStreet", "street"), ("BillingCity", "city"), ("BillingState", "region"),
        ("BillingPostalCode", "postcode"), ("BillingCountry", "country"),
        ("Industry", "industry"), ("Type", "type"), (_SF, "legacy_id")),
        f"Data Loader: upsert Account on the External ID field {_SF} (create it: Text, "
        "External ID, Unique)."),
    ImportFile("person", "Contact.csv", (
        ("FirstName", "first_name"), ("LastName", "last_name"), ("Salutation", "salutation"),
        ("Email", "@valid_email"), ("Phone", "phone"), ("MobilePhone", "mobile"),
        ("MailingStreet", "street"), ("MailingCity", "city"), ("MailingState", "region"),
        ("MailingPostalCode", "postcode"), ("MailingCountry", "country"),
        ("Birthdate", "birth_date|date"), ("Title", "job_title"),
        ("HasOptedOutOfEmail", "email_opt_out|bool"), (_SF, "legacy_id"),
        (f"Account.{_SF}", "organisation_id")),
        f"Data Loader: upsert Contact on {_SF}; map Account.{_SF} to the Account lookup by "
        "external id. LastName is required by Salesforce."),
    ImportFile("membership", "Membership__c.csv", (
        ("Name", "number"), (f"Contact__r.{_SF}", "person_id"), ("Level__c", "level"),
        ("Status__c", "status"), ("Start_Date__c", "start_date|date"),
        ("End_Date__c", "end_date|date"), ("Branch__c", "branch"), (_SF, "legacy_id"),
        (f"Account__r.{_SF}", "organisation_id")),
        "Data Loader: upsert into a custom object Membership__c (or your membership app's "
        "object) on its legacy id; the contact lookup resolves by external id."),
    ImportFile("donation", "Opportunity.csv", (
        ("Name", "name"), ("Amount", "amount"), ("CloseDate", "date|date"),
        ("StageName", "status"), ("Type", "=Donation"), ("Donation_Type__c", "type"),
        ("Campaign_Code__c", "campaign"), ("Payment_Method__c", "payment_method"),
        ("Gift_Aid_Eligible__c", "gift_aid|bool"), (_SF, "legacy_id"),
        (f"Account.{_SF}", "organisation_id"), (f"Primary_Contact__r.{_SF}", "person_id")),
        f"Data Loader: upsert Opportunity on {_SF}; Name, CloseDate and StageName are required "
        "(stages must exist)."),
    ImportFile("activity", "Task.csv", (
        ("Subject", "subject"), ("Description", "body"), ("ActivityDate", "date|date"),
        ("Type", "type"), ("OwnerId_legacy", "owner"), (_SF, "legacy_id"),
        ("Who_Legacy_Id", "person_id"), ("What_Legacy_Id", "donation_id"),
        ("What_Account_Legacy_Id", "organisation_id")),
        "Data Loader: insert Task; WhoId/WhatId are polymorphic, so fill them from the id-map "
        "files (legacy id → new id) before the import."),
)
