"""Salesforce metadata and record values: the same people and organisations, Salesforce-shaped."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from vaultkeeper.sandbox import hs_schema as hs
from vaultkeeper.sandbox.data import SALESFORCE_OBJECTS, Dataset, ObjectStore, iso_ms
from vaultkeeper.sandbox.gen_hubspot import properties_of

KEY_PREFIX = {"Account": "001", "Contact": "003", "Opportunity": "006", "Task": "00T",
              "User": "005"}
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_B62_INDEX = {c: k for k, c in enumerate(_B62)}
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_SEQ_BASE = 1_000_000  # ids start at a realistic-looking offset
_POD = "5g0"
ORG_ID = "00D5g000004SbXkEAK"

# (name, type, label, length, nillable, custom, referenceTo, relationshipName, picklist)
Field = tuple[str, str, str, int, bool, bool, tuple[str, ...], str | None, tuple[str, ...]]


def _f(name: str, type_: str, label: str = "", length: int = 0, nillable: bool = True,
       ref: tuple[str, ...] = (), rel: str | None = None, picklist: tuple[str, ...] = ()
       ) -> Field:
    if not length and type_ in ("string", "picklist", "phone", "url", "email", "combobox"):
        length = 255 if type_ != "phone" else 40
    if type_ == "textarea" and not length:
        length = 32000
    if type_ in ("id", "reference"):
        length = 18
    return (name, type_, label or re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name.replace("__c", "")
                                         .replace("_", " ")),
            length, nillable, name.endswith("__c"), ref, rel, picklist)


def _system() -> list[Field]:
    return [_f("OwnerId", "reference", "Owner ID", nillable=False, ref=("User",), rel="Owner"),
            _f("CreatedDate", "datetime", nillable=False),
            _f("CreatedById", "reference", "Created By ID", nillable=False, ref=("User",),
               rel="CreatedBy"),
            _f("LastModifiedDate", "datetime", nillable=False),
            _f("LastModifiedById", "reference", "Last Modified By ID", nillable=False,
               ref=("User",), rel="LastModifiedBy"),
            _f("SystemModstamp", "datetime", "System Modstamp", nillable=False)]


def _address(prefix: str) -> list[Field]:
    return [_f(f"{prefix}Street", "textarea", length=255), _f(f"{prefix}City", "string",
                                                              length=40),
            _f(f"{prefix}State", "string", length=80), _f(f"{prefix}PostalCode", "string",
                                                          length=20),
            _f(f"{prefix}Country", "string", length=80), _f(f"{prefix}Latitude", "double"),
            _f(f"{prefix}Longitude", "double"),
            _f(f"{prefix}GeocodeAccuracy", "picklist", picklist=("Address", "City", "Zip")),
            _f(f"{prefix}Address", "address")]


STAGES = tuple(s[1] for p in hs.DEAL_PIPELINES for s in p[2])
FIELDS: dict[str, list[Field]] = {
    "Account": [
        _f("Id", "id", "Account ID", nillable=False), _f("IsDeleted", "boolean", "Deleted",
                                                         nillable=False),
        _f("MasterRecordId", "reference", "Master Record ID", ref=("Account",),
           rel="MasterRecord"),
        _f("Name", "string", "Account Name", nillable=False),
        _f("Type", "picklist", "Account Type", picklist=("Charity", "School", "Company",
                                                         "Public Body", "Sponsor", "Other")),
        _f("ParentId", "reference", "Parent Account ID", ref=("Account",), rel="Parent"),
        *_address("Billing"),
        _f("Phone", "phone", "Account Phone"), _f("Website", "url"),
        _f("Industry", "picklist", picklist=hs.INDUSTRIES),
        _f("AnnualRevenue", "currency"), _f("NumberOfEmployees", "int", "Employees"),
        _f("Description", "textarea", "Account Description"),
        _f("AccountSource", "picklist", picklist=hs.SOURCES),
        *_system(), _f("LastActivityDate", "date"),
        _f("Organisation_Type__c", "picklist", picklist=hs.ORG_TYPES),
        _f("Charity_Number__c", "string", length=20),
        _f("Sponsor_Level__c", "picklist", picklist=hs.SPONSOR_LEVELS),
        _f("Legacy_Org_Id__c", "string", length=40),
        _f("HubSpot_Id__c", "string", "HubSpot ID", length=30)],
    "Contact": [
        _f("Id", "id", "Contact ID", nillable=False), _f("IsDeleted", "boolean", "Deleted",
                                                         nillable=False),
        _f("MasterRecordId", "reference", "Master Record ID", ref=("Contact",),
           rel="MasterRecord"),
        _f("AccountId", "reference", "Account ID", ref=("Account",), rel="Account"),
        _f("LastName", "string", length=80, nillable=False),
        _f("FirstName", "string", length=40),
        _f("Salutation", "picklist", picklist=("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.", "Mx.")),
        _f("Name", "string", "Full Name", length=121, nillable=False),
        *_address("Mailing"),
        _f("Phone", "phone", "Business Phone"), _f("MobilePhone", "phone", "Mobile Phone"),
        _f("Email", "email"), _f("Title", "string", length=128), _f("Birthdate", "date"),
        _f("Description", "textarea", "Contact Description"),
        _f("HasOptedOutOfEmail", "boolean", "Email Opt Out", nillable=False),
        _f("DoNotCall", "boolean", "Do Not Call", nillable=False),
        _f("LeadSource", "picklist", picklist=hs.SOURCES),
        *_system(), _f("LastActivityDate", "date"),
        _f("Membership_Number__c", "string", length=20),
        _f("Membership_Level__c", "picklist", picklist=hs.MEMBERSHIP_LEVELS),
        _f("Membership_Status__c", "picklist", picklist=hs.MEMBERSHIP_STATUS),
        _f("Membership_Start_Date__c", "date"),
        _f("Gift_Aid_Declared__c", "boolean", nillable=False),
        _f("First_Donation_Date__c", "date"), _f("Total_Donations__c", "currency"),
        _f("Is_Volunteer__c", "boolean", nillable=False),
        _f("Date_Joined_Text__c", "string", "Date Joined (text)", length=40),
        _f("Legacy_Email__c", "string", "Legacy E-mail (unvalidated)", length=255),
        _f("HubSpot_Id__c", "string", "HubSpot ID", length=30)],
    "Opportunity": [
        _f("Id", "id", "Opportunity ID", nillable=False), _f("IsDeleted", "boolean", "Deleted",
                                                             nillable=False),
        _f("AccountId", "reference", "Account ID", ref=("Account",), rel="Account"),
        _f("ContactId", "reference", "Contact ID", ref=("Contact",), rel="Contact"),
        _f("Name", "string", "Name", length=120, nillable=False),
        _f("Description", "textarea"),
        _f("StageName", "picklist", "Stage", nillable=False, picklist=STAGES),
        _f("Amount", "currency"), _f("Probability", "percent", "Probability (%)"),
        _f("CloseDate", "date", "Close Date", nillable=False),
        _f("Type", "picklist", "Opportunity Type", picklist=("Donation", "Membership",
                                                             "Event")),
        _f("LeadSource", "picklist", picklist=hs.SOURCES),
        _f("IsClosed", "boolean", "Closed", nillable=False),
        _f("IsWon", "boolean", "Won", nillable=False),
        _f("ForecastCategoryName", "picklist", "Forecast Category",
           picklist=("Pipeline", "Best Case", "Commit", "Closed", "Omitted")),
        *_system(), _f("FiscalYear", "int", "Fiscal Year"),
        _f("Donation_Type__c", "picklist", picklist=hs.DONATION_TYPES),
        _f("Gift_Aid_Eligible__c", "boolean", nillable=False),
        _f("Payment_Method__c", "picklist", picklist=hs.PAYMENT_METHODS),
        _f("Campaign_Code__c", "string", length=20),
        _f("HubSpot_Id__c", "string", "HubSpot ID", length=30)],
    "Task": [
        _f("Id", "id", "Activity ID", nillable=False),
        _f("WhoId", "reference", "Name ID", ref=("Contact", "Lead"), rel="Who"),
        _f("WhatId", "reference", "Related To ID", ref=("Account", "Opportunity"), rel="What"),
        _f("Subject", "combobox", nillable=True),
        _f("ActivityDate", "date", "Due Date Only"),
        _f("Status", "picklist", nillable=False, picklist=("Not Started", "In Progress",
                                                          "Completed", "Deferred")),
        _f("Priority", "picklist", nillable=False, picklist=("High", "Normal", "Low")),
        _f("IsHighPriority", "boolean", "High Priority", nillable=False),
        _f("Description", "textarea"), _f("IsDeleted", "boolean", "Deleted", nillable=False),
        _f("IsClosed", "boolean", "Closed", nillable=False),
        *_system(),
        _f("TaskSubtype", "picklist", "Task Subtype", picklist=("Task", "Email", "Call")),
        _f("Type", "picklist", picklist=("Call", "Email", "Meeting", "Other")),
        _f("Activity_Type__c", "picklist", picklist=hs.ACTIVITY_TYPES),
        _f("HubSpot_Id__c", "string", "HubSpot ID", length=30)],
}
_SOAP = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "double": "xsd:double",
         "currency": "xsd:double", "percent": "xsd:double", "int": "xsd:int",
         "date": "xsd:date", "datetime": "xsd:dateTime", "address": "urn:address"}
# Platform objects that appear in describeGlobal but cannot be queried.
NON_QUERYABLE = (("AggregateResult", "Aggregate Result", None),
                 ("BatchApexErrorEvent", "Batch Apex Error Event", "e00"))
# Their fields: every object describeGlobal lists can be described, as in a real org.
DESCRIBE_ONLY: dict[str, list[Field]] = {
    "AggregateResult": [_f("Id", "id", "Aggregate Result ID", nillable=False)],
    "BatchApexErrorEvent": [
        _f("ReplayId", "string", "Replay ID", length=255),
        _f("CreatedDate", "datetime", "Created Date", nillable=False),
        _f("CreatedById", "reference", "Created By ID", nillable=False, ref=("User",),
           rel="CreatedBy"),
        _f("EventUuid", "string", "Event UUID", length=36),
        _f("AsyncApexJobId", "reference", "Async Apex Job ID", ref=("AsyncApexJob",)),
        _f("DoesExceedJobScopeMaxLength", "boolean", "Exceeds Job Scope Max Length",
           nillable=False),
        _f("ExceptionType", "string", "Exception Type", length=255),
        _f("JobScope", "textarea", "Job Scope", length=40000),
        _f("Message", "textarea", length=5000), _f("Phase", "string", length=40),
        _f("RequestId", "string", "Request ID", length=40),
        _f("StackTrace", "textarea", "Stack Trace", length=5000)],
}


def sf_id(prefix: str, seq: int) -> str:
    """An 18-character Salesforce id: prefix + pod + base62 sequence + case-safe suffix."""
    digits = []
    n = seq + _SEQ_BASE
    for _ in range(9):
        n, d = divmod(n, 62)
        digits.append(_B62[d])
    return full_id(prefix + _POD + "".join(reversed(digits)))


def full_id(value: str) -> str:
    """Append the 3-character case-safe suffix to a 15-character id (18 chars pass through)."""
    if len(value) != 15:
        return value
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << k for k, c in enumerate(value[chunk * 5:chunk * 5 + 5])
                   if "A" <= c <= "Z")
        suffix += _SUFFIX[bits]
    return value + suffix


def id_index(prefix: str, value: str) -> int | None:
    """Record index of an id we issued (15 or 18 chars); None when it is not one of ours."""
    if len(value) not in (15, 18) or value[:3] != prefix or value[3:6] != _POD:
        return None
    n = 0
    for c in value[6:15]:
        if c not in _B62_INDEX:
            return None
        n = n * 62 + _B62_INDEX[c]
    return n - _SEQ_BASE


def sf_datetime(ms: int) -> str:
    """``2024-01-02T03:04:05.000+0000`` as Salesforce writes datetimes."""
    return iso_ms(ms)[:-1] + "+0000"


USER_IDS = tuple(sf_id("005", k) for k in range(len(hs.OWNERS)))
_INTEGRATION_USER = USER_IDS[0]
_OWNER_MAP = dict(zip(hs.OWNER_IDS, USER_IDS, strict=True))


@cache
def field_map(sobject: str) -> dict[str, Field]:
    """Lower-case field name → field, for SOQL's case-insensitive names."""
    return {f[0].lower(): f for f in FIELDS[sobject]}


def store_of(ds: Dataset, sobject: str) -> ObjectStore:
    """The object store behind an SObject."""
    return ds.stores[SALESFORCE_OBJECTS[sobject]]


def _addr(street: Any, city: Any, state: Any, zip_: Any, country: Any) -> dict[str, Any] | None:
    if not any((street, city, state, zip_, country)):
        return None
    return {"city": city, "country": country, "geocodeAccuracy": None, "latitude": None,
            "longitude": None, "postalCode": zip_, "state": state, "street": street}


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


def _num(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def values(ds: Dataset, sobject: str, i: int) -> dict[str, Any]:
    """Every field of record ``i`` as Salesforce returns it (JSON-ready, in describe order).

    Field values set through the Salesforce API (the store's ``sf_edits``) win; records
    created through it have only what was written plus system fields and lookups.
    """
    store = store_of(ds, sobject)
    if store.base <= i < store.count:
        return _created_values(ds, sobject, i)
    out = _generated_values(ds, sobject, i)
    if store.sf_edits:
        edits = store.sf_edits.get(i)
        if edits:
            out.update(edits)
            _derive(sobject, out)
    return out


# Lookup fields that are relations of the dataset (the rest are plain values).
REF_LINKS = {("Contact", "AccountId"): "contacts__companies",
             ("Opportunity", "AccountId"): "deals__companies",
             ("Opportunity", "ContactId"): "deals__contacts",
             ("Task", "WhoId"): "notes__contacts", ("Task", "WhatId"): "notes__deals"}


def _derive(sobject: str, out: dict[str, Any]) -> None:
    """Recompute the fields Salesforce derives from others (Contact.Name)."""
    if sobject == "Contact":
        first, last = out.get("FirstName"), out.get("LastName") or ""
        out["Name"] = f"{first} {last}" if first else last


def _created_values(ds: Dataset, sobject: str, i: int) -> dict[str, Any]:
    store = store_of(ds, sobject)
    deleted = store.is_archived(i)
    out: dict[str, Any] = {f[0]: (False if f[1] == "boolean" and not f[4] else None)
                           for f in FIELDS[sobject]}
    out.update({"Id": sf_id(KEY_PREFIX[sobject], i), "IsDeleted": deleted,
                "OwnerId": _INTEGRATION_USER, "CreatedById": _INTEGRATION_USER,
                "LastModifiedById": _INTEGRATION_USER,
                "CreatedDate": sf_datetime(store.created_ms(i)),
                "LastModifiedDate": sf_datetime(store.modified_ms(i)),
                "SystemModstamp": sf_datetime(store.sf_modstamp(i))})
    out.update(store.sf_edits.get(i, {}))
    for (name, field), link_name in REF_LINKS.items():
        if name == sobject:
            link = ds.links[link_name]
            j = link.target(i)
            out[field] = sf_id(_PREFIX_OF[link.dst.name], j) if j >= 0 else None
    _derive(sobject, out)
    return out


_PREFIX_OF = {"companies": "001", "contacts": "003", "deals": "006", "notes": "00T"}


def _generated_values(ds: Dataset, sobject: str, i: int) -> dict[str, Any]:
    store = store_of(ds, sobject)
    p = properties_of(ds, SALESFORCE_OBJECTS[sobject], i)
    deleted = store.is_archived(i)
    out: dict[str, Any] = {"Id": sf_id(KEY_PREFIX[sobject], i), "IsDeleted": deleted}
    owner = _OWNER_MAP.get(p.get("hubspot_owner_id") or "", _INTEGRATION_USER)
    system = {"OwnerId": owner, "CreatedDate": sf_datetime(store.created_ms(i)),
              "CreatedById": _INTEGRATION_USER,
              "LastModifiedDate": sf_datetime(store.modified_ms(i)),
              "LastModifiedById": owner,
              "SystemModstamp": sf_datetime(store.sf_modstamp(i))}
    links = ds.links
    if sobject == "Account":
        kind = p["organisation_type"] or ""
        out.update({
            "MasterRecordId": None, "Name": (p["name"] or "").strip(),
            "Type": {"charity": "Charity", "school": "School", "company": "Company",
                     "public_body": "Public Body", "sponsor": "Sponsor"}.get(kind, "Other"),
            "ParentId": None, "BillingStreet": p["address"], "BillingCity": p["city"],
            "BillingState": p["state"], "BillingPostalCode": p["zip"],
            "BillingCountry": p["country"], "BillingLatitude": None, "BillingLongitude": None,
            "BillingGeocodeAccuracy": None,
            "BillingAddress": _addr(p["address"], p["city"], p["state"], p["zip"], p["country"]),
            "Phone": p["phone"], "Website": p["website"], "Industry": p["industry"],
            "AnnualRevenue": _num(p["annualrevenue"]),
            "NumberOfEmployees": int(p["numberofemployees"]) if p["numberofemployees"] else None,
            "Description": p["description"], "AccountSource": None, **system,
            "LastActivityDate": (p["notes_last_updated"] or "")[:10] or None,
            "Organisation_Type__c": kind or None, "Charity_Number__c": p["charity_number"],
            "Sponsor_Level__c": p["sponsor_level"], "Legacy_Org_Id__c": p["legacy_org_id"],
        })
    elif sobject == "Contact":
        account = links["contacts__companies"].target(i)
        email = (p["email"] or "").strip()
        valid = bool(_EMAIL.match(email))
        first, last = p["firstname"], p["lastname"]
        # LastName is required in Salesforce; migrations fill the gap like this.
        last_sf = last or "[not provided]"
        dob = p["date_of_birth"]
        out.update({
            "MasterRecordId": None,
            "AccountId": sf_id("001", account) if account >= 0 else None,
            "LastName": last_sf, "FirstName": first, "Salutation": None,
            "Name": f"{first} {last_sf}" if first else last_sf,
            "MailingStreet": p["address"], "MailingCity": p["city"], "MailingState": p["state"],
            "MailingPostalCode": p["zip"], "MailingCountry": p["country"],
            "MailingLatitude": None, "MailingLongitude": None, "MailingGeocodeAccuracy": None,
            "MailingAddress": _addr(p["address"], p["city"], p["state"], p["zip"], p["country"]),
            "Phone": p["phone"], "MobilePhone": p["mobilephone"],
            "Email": email.lower() if valid else None, "Title": p["jobtitle"],
            "Birthdate": dob if dob and _ISO_DATE.match(dob) else None,
            "Description": p["notes_free_text"],
            "HasOptedOutOfEmail": p["hs_email_optout"] == "true", "DoNotCall": False,
            "LeadSource": p["hs_analytics_source"], **system,
            "LastActivityDate": (p["notes_last_updated"] or "")[:10] or None,
            "Membership_Number__c": p["membership_number"],
            "Membership_Level__c": p["membership_level"],
            "Membership_Status__c": p["membership_status"],
            "Membership_Start_Date__c": p["membership_start_date"],
            "Gift_Aid_Declared__c": p["gift_aid_declared"] == "true",
            "First_Donation_Date__c": p["first_donation_date"],
            "Total_Donations__c": _num(p["total_donations"]),
            "Is_Volunteer__c": p["is_volunteer"] == "true",
            "Date_Joined_Text__c": p["date_joined_text"],
            "Legacy_Email__c": p["email"] if p["email"] and not valid else None,
        })
    elif sobject == "Opportunity":
        account = links["deals__companies"].target(i)
        contact = links["deals__contacts"].target(i)
        stage = next(s for pl in hs.DEAL_PIPELINES for s in pl[2] if s[0] == p["dealstage"])
        close = p["closedate"] or p["createdate"] or ""
        out.update({
            "AccountId": sf_id("001", account) if account >= 0 else None,
            "ContactId": sf_id("003", contact) if contact >= 0 else None,
            "Name": p["dealname"], "Description": p["description"], "StageName": stage[1],
            "Amount": _num(p["amount"]), "Probability": float(stage[2]) * 100,
            "CloseDate": close[:10],
            "Type": {"default": "Donation", "memberships": "Membership"}.get(
                p["pipeline"] or "", "Event"),
            "LeadSource": p["hs_analytics_source"], "IsClosed": stage[3],
            "IsWon": stage[3] and stage[2] == "1.0",
            "ForecastCategoryName": "Closed" if stage[3] else "Pipeline", **system,
            "FiscalYear": int(close[:4]),
            "Donation_Type__c": p["donation_type"],
            "Gift_Aid_Eligible__c": p["gift_aid_eligible"] == "true",
            "Payment_Method__c": p["payment_method"], "Campaign_Code__c": p["campaign_code"],
        })
    else:
        who = links["notes__contacts"].target(i)
        what = links["notes__deals"].target(i)
        out.update({
            "WhoId": sf_id("003", who) if who >= 0 else None,
            "WhatId": sf_id("006", what) if what >= 0 else None,
            "Subject": (p["hs_body_preview"] or "")[:80] or None,
            "ActivityDate": (p["hs_timestamp"] or "")[:10] or None,
            "Status": "Completed", "Priority": "Normal", "IsHighPriority": False,
            "Description": p["hs_note_body"], "IsClosed": True, **system,
            "TaskSubtype": "Task", "Type": "Other", "Activity_Type__c": p["activity_type"],
        })
    out["HubSpot_Id__c"] = p["hs_object_id"]
    # Describe order, always: a missing field fails loudly here rather than in a client.
    return {f[0]: out[f[0]] for f in FIELDS[sobject]}


def field_describe(f: Field) -> dict[str, Any]:
    """One ``Field`` of a describe result."""
    name, type_, label, length, nillable, custom, ref, rel, picklist = f
    compound = None
    for suffix in ("Street", "City", "State", "PostalCode", "Country", "Latitude", "Longitude",
                   "GeocodeAccuracy"):
        if name.endswith(suffix) and name[:-len(suffix)] in ("Billing", "Mailing"):
            compound = name[:-len(suffix)] + "Address"
    system = name in ("Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate",
                      "LastModifiedById", "SystemModstamp", "LastActivityDate") \
        or type_ == "address" \
        or label == "Full Name"  # Contact.Name is compound (First + Last); Account.Name is not
    numeric = type_ in ("double", "currency", "percent", "int")
    return {
        "aggregatable": type_ not in ("textarea", "address"), "autoNumber": False,
        "byteLength": length * 3, "calculated": label == "Full Name",
        "calculatedFormula": None, "cascadeDelete": False, "caseSensitive": False,
        "compoundFieldName": compound, "controllerName": None, "createable": not system,
        "custom": custom, "defaultValue": False if type_ == "boolean" else None,
        "defaultValueFormula": None, "defaultedOnCreate": type_ == "boolean" or system,
        "dependentPicklist": False, "deprecatedAndHidden": False,
        "digits": 9 if type_ == "int" else 0, "encrypted": False,
        "externalId": name == "HubSpot_Id__c", "extraTypeInfo": None,
        "filterable": type_ not in ("textarea", "address"),
        "groupable": type_ not in ("textarea", "address", "double", "currency", "percent"),
        "htmlFormatted": False, "idLookup": name == "Id", "inlineHelpText": None,
        "label": label, "length": length, "name": name, "nameField": name == "Name",
        "namePointing": len(ref) > 1, "nillable": nillable, "permissionable": nillable,
        "picklistValues": [{"active": True, "defaultValue": False, "label": v, "validFor": None,
                            "value": v} for v in picklist],
        "polymorphicForeignKey": len(ref) > 1, "precision": 18 if numeric else 0,
        "referenceTargetField": None, "referenceTo": list(ref), "relationshipName": rel,
        "relationshipOrder": None, "restrictedPicklist": False,
        "scale": 2 if type_ in ("currency", "double", "percent") else 0,
        "soapType": _SOAP.get(type_, "xsd:string"), "sortable": type_ not in ("textarea",
                                                                               "address"),
        "type": type_, "unique": False, "updateable": not system and name != "IsDeleted",
    }


def global_entry(name: str, version: str) -> dict[str, Any]:
    """One ``sobjects`` entry of describeGlobal."""
    url = f"/services/data/v{version}/sobjects/{name}"
    queryable = name in FIELDS
    label = {"Opportunity": "Opportunity", "Task": "Task"}.get(name, name)
    prefix = KEY_PREFIX.get(name) or dict((n, p) for n, _, p in NON_QUERYABLE).get(name)
    return {"activateable": False, "createable": queryable, "custom": False,
            "customSetting": False, "deletable": queryable, "deprecatedAndHidden": False,
            "feedEnabled": queryable, "keyPrefix": prefix, "label": label,
            "labelPlural": label + "s", "layoutable": queryable, "mergeable": queryable,
            "mruEnabled": queryable, "name": name, "queryable": queryable,
            "replicateable": queryable, "retrieveable": queryable, "searchable": queryable,
            "triggerable": queryable, "undeletable": queryable, "updateable": queryable,
            "urls": {"sobject": url, "describe": f"{url}/describe",
                     "rowTemplate": f"{url}/{{ID}}"}}
