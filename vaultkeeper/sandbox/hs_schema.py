"""HubSpot metadata served by the sandbox: object types, property definitions, owners, pipelines."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from vaultkeeper.sandbox.pools import INDUSTRIES, ORG_TYPES

# plural name → (objectTypeId, singular, default properties when none are requested)
OBJECT_TYPES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "contacts": ("0-1", "contact", ("firstname", "lastname", "email")),
    "companies": ("0-2", "company", ("name", "domain")),
    "deals": ("0-3", "deal", ("dealname", "amount", "closedate", "pipeline", "dealstage")),
    "tickets": ("0-5", "ticket", ("content", "hs_pipeline", "hs_pipeline_stage",
                                  "hs_ticket_category", "hs_ticket_priority", "subject")),
    "notes": ("0-46", "note", ()),
    "calls": ("0-48", "call", ()),
    "emails": ("0-49", "email", ()),
    "meetings": ("0-47", "meeting", ()),
    "tasks": ("0-27", "task", ()),
    "products": ("0-7", "product", ("name", "price", "description")),
    "line_items": ("0-8", "line_item", ("name", "quantity", "price", "amount")),
    "quotes": ("0-14", "quote", ("hs_title", "hs_expiration_date", "hs_status")),
    "communications": ("0-18", "communication", ()),
    "postal_mail": ("0-116", "postal_mail", ()),
    "leads": ("0-136", "lead", ("hs_lead_name",)),
}
TIER_DENIED: dict[str, tuple[str, str]] = {
    "goal_targets": ("0-74", "crm.objects.goals.read"),
    "deal_split": ("deal_split", "crm.objects.deals.read (Sales Hub Enterprise)"),
    "feedback_submissions": ("0-19", "crm.objects.feedback_submissions.read"),
}
"""Standard object types this portal's tier lacks: 403 MISSING_SCOPES, like a real portal."""
_ALIASES = {alias: plural for plural, (type_id, singular, _) in OBJECT_TYPES.items()
            for alias in (plural, singular, type_id)}
# Real HubSpot ids are per-object sequences; large bases make them look like production ids.
ID_BASES = {"contacts": 1001, "companies": 5_000_000_001, "deals": 9_000_000_001,
            "notes": 40_000_000_001, "tickets": 2_000_000_001, "calls": 41_000_000_001,
            "emails": 42_000_000_001, "meetings": 43_000_000_001, "tasks": 44_000_000_001,
            "products": 1_500_000_001, "line_items": 11_000_000_001,
            "quotes": 12_000_000_001, "communications": 45_000_000_001,
            "postal_mail": 46_000_000_001, "leads": 13_000_000_001}
SCHEMA_TIME = "2016-01-01T00:00:00.000Z"

OWNERS = (
    ("61000001", "ops@sandbox.example.org", "Helen", "Ashworth"),
    ("61000002", "fundraising@sandbox.example.org", "Kwame", "Mensah"),
    ("61000003", "membership@sandbox.example.org", "Zoë", "Lefèvre"),
    ("61000004", "events@sandbox.example.org", "Łukasz", "Nowak"),
    ("61000005", "volunteers@sandbox.example.org", "Priya", "Raman"),
    ("61000006", "schools@sandbox.example.org", "Seán", "Ó Briain"),
    ("61000007", "director@sandbox.example.org", "Margaret", "Hughes"),
    ("61000008", "former.staff@sandbox.example.org", "David", "Old"),
)
OWNER_IDS = tuple(o[0] for o in OWNERS)

# pipeline id, label, [(stage id, label, probability, closed)]
DEAL_PIPELINES = (
    ("default", "Donations", (
        ("pledged", "Pledged", "0.2", False), ("promised", "Promised", "0.6", False),
        ("closedwon", "Gift received", "1.0", True), ("closedlost", "Cancelled", "0.0", True))),
    ("memberships", "Memberships", (
        ("membership_application", "Application", "0.3", False),
        ("membership_payment_pending", "Payment pending", "0.7", False),
        ("membership_active", "Active", "1.0", True),
        ("membership_lapsed", "Lapsed", "0.0", True))),
    ("events", "Event tickets", (
        ("event_reserved", "Reserved", "0.5", False), ("event_paid", "Paid", "1.0", True),
        ("event_refunded", "Refunded", "0.0", True))),
)
TICKET_PIPELINES = (
    ("0", "Support Pipeline", (("1", "New", "0.0", False), ("2", "Waiting on contact", "0.0",
                                False), ("3", "Waiting on us", "0.0", False),
                               ("4", "Closed", "0.0", True))),
)

A = tuple[str, ...]
LIFECYCLE: A = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
                "opportunity", "customer", "evangelist", "other")
LEAD_STATUS: A = ("NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED",
                  "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING")
SOURCES: A = ("ORGANIC_SEARCH", "PAID_SEARCH", "EMAIL_MARKETING", "SOCIAL_MEDIA", "REFERRALS",
              "OTHER_CAMPAIGNS", "DIRECT_TRAFFIC", "OFFLINE", "PAID_SOCIAL")
LANGUAGES: A = ("en", "en-gb", "de", "fr", "nl", "pl", "sv", "es", "zh-cn")
TIMEZONES: A = ("europe_slash_london", "europe_slash_dublin", "europe_slash_berlin",
                "europe_slash_paris", "europe_slash_amsterdam", "europe_slash_warsaw",
                "europe_slash_stockholm", "europe_slash_zurich", "europe_slash_copenhagen",
                "us_slash_eastern", "america_slash_toronto", "pacific_slash_auckland",
                "africa_slash_lagos")
OBJECT_SOURCES: A = ("IMPORT", "FORMS", "CRM_UI", "INTEGRATION", "API")
MEMBERSHIP_LEVELS: A = ("standard", "concession", "family", "life", "honorary", "student")
MEMBERSHIP_STATUS: A = ("active", "lapsed", "pending", "cancelled", "deceased")
BRANCHES: A = ("north", "south", "east", "west", "scotland", "wales", "northern_ireland",
               "overseas")
PAYMENT_METHODS: A = ("direct_debit", "card", "cash", "cheque", "standing_order", "paypal")
SKILLS: A = ("first_aid", "driving", "fundraising", "events", "admin", "it", "languages",
             "gardening", "mentoring", "photography")
CONTACT_METHODS: A = ("email", "phone", "post", "sms", "none")
HEARD: A = ("friend", "event", "social", "website", "press", "school", "workplace", "other")
EMPLOYEES: A = ("1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+")
PERSONAS: A = ("persona_1", "persona_2", "persona_3")
COMPANY_TYPES: A = ("PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER")
SPONSOR_LEVELS: A = ("none", "bronze", "silver", "gold", "platinum")
DONATION_TYPES: A = ("one_off", "regular", "legacy", "in_memory", "sponsorship", "membership_fee",
                     "event_ticket")
FUNDS: A = ("general", "building", "scholarships", "emergency")
CURRENCIES: A = ("GBP", "EUR", "USD")
PRIORITIES: A = ("LOW", "MEDIUM", "HIGH")
ACTIVITY_TYPES: A = ("call_log", "meeting", "visit", "email_summary", "complaint", "thank_you")
BOOL: A = ("true", "false")

S, N, D, DT, E, B = "string", "number", "date", "datetime", "enumeration", "bool"
# (name, label, type, fieldType, group, options, hubspotDefined)
Prop = tuple[str, str, str, str, str, A, bool]


DEAL_PIPELINE_IDS: A = tuple(p[0] for p in DEAL_PIPELINES)
DEAL_STAGES: A = tuple(s[0] for p in DEAL_PIPELINES for s in p[2])


_OPTIONS: dict[str, A] = {name: value for name, value in globals().items()
                          if name.isupper() and isinstance(value, tuple)}
_OPTIONS |= {"INDUSTRIES": INDUSTRIES, "ORG_TYPES": ORG_TYPES}


def _prop(row: list[Any]) -> Prop:
    """One row of hs_properties.json; options name a constant of this module or are listed."""
    name, label, type_, field, group, options, hubspot_defined = row
    if type_ == B:
        options = BOOL
    elif isinstance(options, str):
        options = _OPTIONS[options]
    return (name, label, type_, field, group, tuple(options), hubspot_defined)


# The property definitions are data: hs_properties.json beside this module (package data).
PROPERTIES: dict[str, list[Prop]] = {
    obj: [_prop(row) for row in rows] for obj, rows in json.loads(
        resources.files("vaultkeeper.sandbox").joinpath("hs_properties.json")
        .read_text(encoding="utf-8")).items() if not obj.startswith("_")}
CONTACT_PROPS = PROPERTIES["contacts"]
COMPANY_PROPS = PROPERTIES["companies"]
DEAL_PROPS = PROPERTIES["deals"]
NOTE_PROPS = PROPERTIES["notes"]

def resolve_type(name: str) -> str | None:
    """Canonical plural object name for ``contacts``/``contact``/``0-1``; None if unknown."""
    return _ALIASES.get(name.lower())


def modified_property(obj: str) -> str:
    """``lastmodifieddate`` for contacts, ``hs_lastmodifieddate`` for everything else."""
    return "lastmodifieddate" if obj == "contacts" else "hs_lastmodifieddate"


@cache
def property_names(obj: str) -> tuple[str, ...]:
    """Every property name of ``obj`` in definition order."""
    return tuple(p[0] for p in PROPERTIES[obj])


@cache
def property_types(obj: str) -> dict[str, str]:
    """Property name → HubSpot type (``string``, ``number``, ``datetime`` …)."""
    return {p[0]: p[2] for p in PROPERTIES[obj]}


@cache
def default_properties(obj: str) -> tuple[str, ...]:
    """What a list/read returns when no ``properties`` are requested."""
    return (*OBJECT_TYPES[obj][2], "createdate", modified_property(obj), "hs_object_id")


def property_json(obj: str, prop: Prop, order: int) -> dict[str, Any]:
    """One HubSpot ``Property`` object with every field the SDK requires."""
    name, label, type_, field, group, options, hubspot_defined = prop
    out: dict[str, Any] = {
        "updatedAt": SCHEMA_TIME, "createdAt": SCHEMA_TIME, "name": name, "label": label,
        "type": type_, "fieldType": field,
        "description": "" if hubspot_defined else f"{label} (custom property of the sandbox)",
        "groupName": group,
        "options": [{"label": "Yes" if v == "true" else "No" if v == "false" else
                     v.replace("_", " ").capitalize(), "value": v, "description": "",
                     "displayOrder": k, "hidden": False} for k, v in enumerate(options)],
        "displayOrder": order if not hubspot_defined else -1,
        "calculated": False, "externalOptions": False, "hasUniqueValue": name == "hs_object_id",
        "hidden": False, "hubspotDefined": hubspot_defined,
        "modificationMetadata": {"archivable": not hubspot_defined,
                                 "readOnlyDefinition": hubspot_defined,
                                 "readOnlyValue": name in ("hs_object_id", "createdate",
                                                           modified_property(obj))},
        "formField": type_ != DT and hubspot_defined is False,
        "archived": False,
    }
    if not hubspot_defined:
        out["createdUserId"] = "61000001"
        out["updatedUserId"] = "61000001"
    return out


@cache
def properties_payload(obj: str) -> tuple[dict[str, Any], ...]:
    """The ``results`` of ``GET /crm/v3/properties/{obj}`` (built once)."""
    return tuple(property_json(obj, p, k) for k, p in enumerate(PROPERTIES[obj]))


def groups_payload(obj: str) -> list[dict[str, Any]]:
    """The ``results`` of ``GET /crm/v3/properties/{obj}/groups``."""
    seen: dict[str, None] = {}
    for p in PROPERTIES[obj]:
        seen.setdefault(p[4])
    return [{"name": g, "label": g.replace("_", " ").capitalize(), "displayOrder": k,
             "archived": False} for k, g in enumerate(seen)]
