"""HubSpot metadata served by the sandbox: object types, property definitions, owners, pipelines."""

from __future__ import annotations

from functools import cache
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


def _p(name: str, label: str, type_: str = S, field: str = "", group: str = "",
       options: A = (), custom: bool = False) -> Prop:
    default_field = {S: "text", N: "number", D: "date", DT: "date", E: "select",
                     B: "booleancheckbox"}[type_]
    if type_ == B:
        options = BOOL
    return (name, label, type_, field or default_field, group, options, not custom)


def _defaults(contact: bool = False) -> list[Prop]:
    modified = "lastmodifieddate" if contact else "hs_lastmodifieddate"
    return [_p("createdate", "Create Date", DT, group="info"),
            _p(modified, "Last Modified Date", DT, group="info"),
            _p("hs_object_id", "Record ID", N, group="info")]


CONTACT_PROPS: list[Prop] = [
    _p("firstname", "First Name", group="contactinformation"),
    _p("lastname", "Last Name", group="contactinformation"),
    _p("email", "Email", group="contactinformation"),
    _p("phone", "Phone Number", field="phonenumber", group="contactinformation"),
    _p("mobilephone", "Mobile Phone Number", field="phonenumber", group="contactinformation"),
    _p("address", "Street Address", group="contactinformation"),
    _p("city", "City", group="contactinformation"),
    _p("state", "State/Region", group="contactinformation"),
    _p("zip", "Postal Code", group="contactinformation"),
    _p("country", "Country/Region", group="contactinformation"),
    _p("company", "Company Name", group="contactinformation"),
    _p("jobtitle", "Job Title", group="contactinformation"),
    _p("website", "Website URL", group="contactinformation"),
    _p("date_of_birth", "Date of birth", group="contactinformation"),
    _p("salutation", "Salutation", group="contactinformation"),
    _p("fax", "Fax Number", group="contactinformation"),
    _p("industry", "Industry", group="contactinformation"),
    _p("numemployees", "Number of Employees", E, group="contactinformation", options=EMPLOYEES),
    _p("annualrevenue", "Annual Revenue", group="contactinformation"),
    _p("lifecyclestage", "Lifecycle Stage", E, "radio", "contactinformation", LIFECYCLE),
    _p("hs_lead_status", "Lead Status", E, "radio", "sales_properties", LEAD_STATUS),
    _p("hubspot_owner_id", "Contact owner", E, group="sales_properties", options=OWNER_IDS),
    _p("hs_email_optout", "Unsubscribed from all email", B, group="emailinformation"),
    _p("hs_language", "Preferred language", E, group="contactinformation", options=LANGUAGES),
    _p("hs_timezone", "Time Zone", E, group="contactinformation", options=TIMEZONES),
    _p("hs_analytics_source", "Original Source", E, group="analyticsinformation",
       options=SOURCES),
    _p("hs_analytics_source_data_1", "Original Source Drill-Down 1", group="analyticsinformation"),
    _p("hs_analytics_num_page_views", "Number of Pageviews", N, group="analyticsinformation"),
    _p("hs_analytics_num_visits", "Number of Sessions", N, group="analyticsinformation"),
    _p("hs_analytics_first_timestamp", "Time First Seen", DT, group="analyticsinformation"),
    _p("hs_analytics_last_timestamp", "Time Last Seen", DT, group="analyticsinformation"),
    _p("hs_email_domain", "Email Domain", group="emailinformation"),
    _p("hs_email_bounce", "Marketing emails bounced", N, group="emailinformation"),
    _p("hs_email_open", "Marketing emails opened", N, group="emailinformation"),
    _p("hs_email_click", "Marketing emails clicked", N, group="emailinformation"),
    _p("hs_email_delivered", "Marketing emails delivered", N, group="emailinformation"),
    _p("hs_email_last_open_date", "Last marketing email open date", DT, group="emailinformation"),
    _p("hs_email_last_send_date", "Last marketing email send date", DT, group="emailinformation"),
    _p("hs_sequences_is_enrolled", "Currently in Sequence", B, group="sales_properties"),
    _p("notes_last_updated", "Last Activity Date", DT, group="sales_properties"),
    _p("notes_last_contacted", "Last Contacted", DT, group="sales_properties"),
    _p("num_contacted_notes", "Number of times contacted", N, group="sales_properties"),
    _p("hs_persona", "Persona", E, group="contactinformation", options=PERSONAS),
    _p("twitterhandle", "Twitter Username", group="socialmediainformation"),
    _p("message", "Message", field="textarea", group="contactinformation"),
    _p("hs_marketable_status", "Marketing contact status", E, group="contactinformation",
       options=BOOL),
    _p("hs_lifecyclestage_lead_date", "Became a Lead Date", DT, group="contactinformation"),
    _p("hs_lifecyclestage_customer_date", "Became a Customer Date", DT,
       group="contactinformation"),
    _p("first_conversion_date", "First Conversion Date", DT, group="conversioninformation"),
    _p("first_conversion_event_name", "First Conversion", group="conversioninformation"),
    _p("recent_conversion_date", "Recent Conversion Date", DT, group="conversioninformation"),
    _p("num_conversion_events", "Number of Form Submissions", N, group="conversioninformation"),
    _p("hs_latest_source", "Latest Traffic Source", E, group="analyticsinformation",
       options=SOURCES),
    _p("hs_all_contact_vids", "All vids for a contact", E, "checkbox", "contactinformation"),
    _p("hs_is_unworked", "Contact unworked", B, group="sales_properties"),
    _p("hs_object_source", "Record source", group="info"),
    _p("hs_object_source_id", "Record source ID", group="info"),
    _p("hs_created_by_user_id", "Created by user ID", N, group="info"),
    _p("hs_updated_by_user_id", "Updated by user ID", N, group="info"),
    _p("hs_was_imported", "Performed in an import", B, group="info"),
    _p("ip_city", "IP City", group="analyticsinformation"),
    _p("ip_country", "IP Country", group="analyticsinformation"),
    _p("hs_ip_timezone", "IP Timezone", group="analyticsinformation"),
    _p("hs_pipeline", "Pipeline", E, group="contactinformation",
       options=("contacts-lifecycle-pipeline",)),
    _p("hs_legal_basis", "Legal basis for processing contact's data", E, "checkbox",
       "contactinformation", ("Legitimate interest – prospect/lead",
                              "Freely given consent from contact", "Performance of a contract")),
    _p("hs_whatsapp_phone_number", "WhatsApp Phone Number", field="phonenumber",
       group="contactinformation"),
    *_defaults(contact=True),
    # Custom properties of the membership organisation.
    _p("membership_number", "Membership number", group="membership", custom=True),
    _p("membership_level", "Membership level", E, group="membership",
       options=MEMBERSHIP_LEVELS, custom=True),
    _p("membership_status", "Membership status", E, "radio", "membership", MEMBERSHIP_STATUS,
       custom=True),
    _p("membership_start_date", "Membership start date", D, group="membership", custom=True),
    _p("membership_renewal_date", "Membership renewal date", D, group="membership",
       custom=True),
    _p("date_joined_text", "Date joined (from old system)", group="membership", custom=True),
    _p("branch", "Branch", E, group="membership", options=BRANCHES, custom=True),
    _p("gift_aid_declared", "Gift Aid declared", B, group="fundraising", custom=True),
    _p("gift_aid_declaration_date", "Gift Aid declaration date", D, group="fundraising",
       custom=True),
    _p("first_donation_date", "First donation date", D, group="fundraising", custom=True),
    _p("last_donation_date", "Last donation date", D, group="fundraising", custom=True),
    _p("total_donations", "Total donations", N, group="fundraising", custom=True),
    _p("donation_count", "Number of donations", N, group="fundraising", custom=True),
    _p("preferred_payment_method", "Preferred payment method", E, group="fundraising",
       options=PAYMENT_METHODS, custom=True),
    _p("is_member", "Is member", B, group="membership", custom=True),
    _p("is_donor", "Is donor", B, group="fundraising", custom=True),
    _p("is_volunteer", "Is volunteer", B, group="volunteering", custom=True),
    _p("volunteer_skills", "Volunteer skills", E, "checkbox", "volunteering", SKILLS,
       custom=True),
    _p("volunteer_hours", "Volunteer hours", N, group="volunteering", custom=True),
    _p("dbs_check_date", "DBS check date", group="volunteering", custom=True),
    _p("dietary_requirements", "Dietary requirements", field="textarea", group="events",
       custom=True),
    _p("accessibility_needs", "Accessibility needs", field="textarea", group="events",
       custom=True),
    _p("emergency_contact_name", "Emergency contact name", group="volunteering", custom=True),
    _p("emergency_contact_phone", "Emergency contact phone", field="phonenumber",
       group="volunteering", custom=True),
    _p("newsletter_opt_in", "Newsletter opt-in", B, group="communications", custom=True),
    _p("consent_date", "Consent date (free text)", group="communications", custom=True),
    _p("preferred_contact_method", "Preferred contact method", E, "radio", "communications",
       CONTACT_METHODS, custom=True),
    _p("how_did_you_hear", "How did you hear about us?", E, group="membership",
       options=HEARD, custom=True),
    _p("legacy_member_id", "Legacy member ID", group="membership", custom=True),
    _p("photo_consent", "Photo consent", B, group="communications", custom=True),
    _p("notes_free_text", "Notes", field="textarea", group="membership", custom=True),
    _p("pronouns", "Pronouns", group="contactinformation", custom=True),
    _p("student_id", "Student ID", group="membership", custom=True),
]

COMPANY_PROPS: list[Prop] = [
    _p("name", "Company name", group="companyinformation"),
    _p("domain", "Company Domain Name", group="companyinformation"),
    _p("website", "Website URL", group="companyinformation"),
    _p("phone", "Phone Number", field="phonenumber", group="companyinformation"),
    _p("address", "Street Address", group="companyinformation"),
    _p("address2", "Street Address 2", group="companyinformation"),
    _p("city", "City", group="companyinformation"),
    _p("state", "State/Region", group="companyinformation"),
    _p("zip", "Postal Code", group="companyinformation"),
    _p("country", "Country/Region", group="companyinformation"),
    _p("industry", "Industry", E, group="companyinformation", options=INDUSTRIES),
    _p("type", "Type", E, group="companyinformation", options=COMPANY_TYPES),
    _p("description", "Description", field="textarea", group="companyinformation"),
    _p("numberofemployees", "Number of Employees", N, group="companyinformation"),
    _p("annualrevenue", "Annual Revenue", N, group="companyinformation"),
    _p("founded_year", "Year Founded", group="companyinformation"),
    _p("hubspot_owner_id", "Company owner", E, group="companyinformation", options=OWNER_IDS),
    _p("lifecyclestage", "Lifecycle Stage", E, "radio", "companyinformation", LIFECYCLE),
    _p("hs_lead_status", "Lead Status", E, "radio", "companyinformation", LEAD_STATUS),
    _p("linkedin_company_page", "LinkedIn Company Page", group="socialmediainformation"),
    _p("twitterhandle", "Twitter Handle", group="socialmediainformation"),
    _p("facebook_company_page", "Facebook Company Page", group="socialmediainformation"),
    _p("timezone", "Time Zone", group="companyinformation"),
    _p("is_public", "Is Public", B, group="companyinformation"),
    _p("notes_last_updated", "Last Activity Date", DT, group="companyinformation"),
    _p("total_money_raised", "Total Money Raised", group="companyinformation"),
    _p("web_technologies", "Web Technologies", E, "checkbox", "companyinformation",
       ("wordpress", "google_analytics", "mailchimp", "stripe", "shopify")),
    _p("about_us", "About Us", field="textarea", group="companyinformation"),
    _p("hs_object_source", "Record source", group="info"),
    _p("hs_created_by_user_id", "Created by user ID", N, group="info"),
    _p("hs_was_imported", "Performed in an import", B, group="info"),
    *_defaults(),
    _p("organisation_type", "Organisation type", E, group="organisation", options=ORG_TYPES,
       custom=True),
    _p("charity_number", "Charity number", group="organisation", custom=True),
    _p("sponsor_level", "Sponsor level", E, group="organisation", options=SPONSOR_LEVELS,
       custom=True),
    _p("partnership_start_date", "Partnership start date", D, group="organisation",
       custom=True),
    _p("vat_number", "VAT number", group="organisation", custom=True),
    _p("school_urn", "School URN", group="organisation", custom=True),
    _p("pupils_count", "Number of pupils", N, group="organisation", custom=True),
    _p("renewal_date", "Renewal date", D, group="organisation", custom=True),
    _p("invoicing_email", "Invoicing e-mail", group="organisation", custom=True),
    _p("main_contact_text", "Main contact (free text)", group="organisation", custom=True),
    _p("legacy_org_id", "Legacy organisation ID", group="organisation", custom=True),
]

_STAGES = tuple(s[0] for p in DEAL_PIPELINES for s in p[2])
DEAL_PROPS: list[Prop] = [
    _p("dealname", "Deal Name", group="dealinformation"),
    _p("amount", "Amount", N, field="number", group="dealinformation"),
    _p("closedate", "Close Date", DT, group="dealinformation"),
    _p("pipeline", "Pipeline", E, group="dealinformation",
       options=tuple(p[0] for p in DEAL_PIPELINES)),
    _p("dealstage", "Deal Stage", E, "radio", "dealinformation", _STAGES),
    _p("dealtype", "Deal Type", E, "radio", "dealinformation",
       ("newbusiness", "existingbusiness")),
    _p("description", "Deal Description", field="textarea", group="dealinformation"),
    _p("hubspot_owner_id", "Deal owner", E, group="dealinformation", options=OWNER_IDS),
    _p("hs_priority", "Priority", E, group="dealinformation", options=PRIORITIES),
    _p("hs_forecast_probability", "Forecast probability", N, group="dealinformation"),
    _p("hs_is_closed", "Is Deal Closed?", B, group="dealinformation"),
    _p("hs_is_closed_won", "Is closed won", B, group="dealinformation"),
    _p("hs_deal_stage_probability", "Deal probability", N, group="dealinformation"),
    _p("hs_closed_amount", "Closed amount", N, group="dealinformation"),
    _p("hs_projected_amount", "Weighted amount", N, group="dealinformation"),
    _p("hs_analytics_source", "Original Source Type", E, group="analyticsinformation",
       options=SOURCES),
    _p("days_to_close", "Days to close", N, group="dealinformation"),
    _p("closed_lost_reason", "Closed Lost Reason", field="textarea", group="dealinformation"),
    _p("closed_won_reason", "Closed Won Reason", field="textarea", group="dealinformation"),
    _p("deal_currency_code", "Currency", E, group="dealinformation", options=CURRENCIES),
    _p("hs_object_source", "Record source", group="info"),
    _p("hs_created_by_user_id", "Created by user ID", N, group="info"),
    _p("hs_was_imported", "Performed in an import", B, group="info"),
    *_defaults(),
    _p("donation_type", "Donation type", E, group="fundraising", options=DONATION_TYPES,
       custom=True),
    _p("gift_aid_eligible", "Gift Aid eligible", B, group="fundraising", custom=True),
    _p("payment_method", "Payment method", E, group="fundraising", options=PAYMENT_METHODS,
       custom=True),
    _p("campaign_code", "Campaign code", group="fundraising", custom=True),
    _p("event_name", "Event name", group="events", custom=True),
    _p("ticket_quantity", "Ticket quantity", N, group="events", custom=True),
    _p("payment_reference", "Payment reference", group="fundraising", custom=True),
    _p("received_date_text", "Received (free text)", group="fundraising", custom=True),
    _p("fund_designation", "Fund", E, group="fundraising", options=FUNDS, custom=True),
]

NOTE_PROPS: list[Prop] = [
    _p("hs_note_body", "Note body", field="html", group="engagement"),
    _p("hs_body_preview", "Body preview", group="engagement"),
    _p("hs_timestamp", "Activity date", DT, group="engagement"),
    _p("hubspot_owner_id", "Activity assigned to", E, group="engagement", options=OWNER_IDS),
    _p("hs_attachment_ids", "Attached file IDs", E, "checkbox", "engagement"),
    _p("hs_createdate", "HubSpot create date", DT, group="engagement"),
    _p("hs_created_by", "Created by", N, group="engagement"),
    _p("hs_modified_by", "Modified by", N, group="engagement"),
    _p("hs_engagement_source", "Activity source", E, group="engagement",
       options=("CRM_UI", "INTEGRATION", "IMPORT", "EMAIL_INTEGRATION")),
    _p("hs_object_source", "Record source", group="info"),
    *_defaults(),
    _p("activity_type", "Activity type", E, group="engagement", options=ACTIVITY_TYPES,
       custom=True),
    _p("follow_up_required", "Follow-up required", B, group="engagement", custom=True),
]


def _simple(*names: tuple[str, str, str]) -> list[Prop]:
    return [_p(n, label, t, group="engagement") for n, label, t in names] + [
        _p("hs_timestamp", "Activity date", DT, group="engagement"),
        _p("hubspot_owner_id", "Activity assigned to", E, group="engagement", options=OWNER_IDS),
        *_defaults()]


PROPERTIES: dict[str, list[Prop]] = {
    "contacts": CONTACT_PROPS,
    "companies": COMPANY_PROPS,
    "deals": DEAL_PROPS,
    "notes": NOTE_PROPS,
    "tickets": [
        _p("subject", "Ticket name", group="ticketinformation"),
        _p("content", "Ticket description", field="textarea", group="ticketinformation"),
        _p("hs_pipeline", "Pipeline", E, group="ticketinformation", options=("0",)),
        _p("hs_pipeline_stage", "Ticket status", E, group="ticketinformation",
           options=("1", "2", "3", "4")),
        _p("hs_ticket_category", "Category", E, "checkbox", "ticketinformation",
           ("PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY")),
        _p("hs_ticket_priority", "Priority", E, group="ticketinformation", options=PRIORITIES),
        _p("hubspot_owner_id", "Ticket owner", E, group="ticketinformation", options=OWNER_IDS),
        _p("source_type", "Source", E, group="ticketinformation",
           options=("EMAIL", "FORM", "PHONE", "CHAT")),
        _p("closed_date", "Close date", DT, group="ticketinformation"),
        _p("hs_resolution", "Resolution", E, group="ticketinformation",
           options=("ISSUE_FIXED", "WONT_FIX", "DUPLICATE")),
        _p("time_to_close", "Time to close", N, group="ticketinformation"),
        *_defaults()],
    "calls": _simple(("hs_call_title", "Call title", S), ("hs_call_body", "Call notes", S),
                     ("hs_call_duration", "Call duration", N),
                     ("hs_call_direction", "Call direction", S),
                     ("hs_call_status", "Call status", S)),
    "emails": _simple(("hs_email_subject", "Email subject", S),
                      ("hs_email_text", "Email body", S),
                      ("hs_email_direction", "Email direction", S),
                      ("hs_email_status", "Email send status", S)),
    "meetings": _simple(("hs_meeting_title", "Meeting name", S),
                        ("hs_meeting_body", "Meeting description", S),
                        ("hs_meeting_start_time", "Start time", DT),
                        ("hs_meeting_end_time", "End time", DT),
                        ("hs_meeting_outcome", "Meeting outcome", S)),
    "tasks": _simple(("hs_task_subject", "Task title", S), ("hs_task_body", "Task notes", S),
                     ("hs_task_status", "Task status", S),
                     ("hs_task_priority", "Priority", S), ("hs_task_type", "Task type", S)),
    "products": [_p("name", "Name", group="productinformation"),
                 _p("price", "Unit price", N, group="productinformation"),
                 _p("description", "Description", group="productinformation"),
                 _p("hs_sku", "SKU", group="productinformation"),
                 _p("hs_recurring_billing_period", "Term", group="productinformation"),
                 *_defaults()],
    "line_items": [_p("name", "Name", group="lineiteminformation"),
                   _p("quantity", "Quantity", N, group="lineiteminformation"),
                   _p("price", "Unit price", N, group="lineiteminformation"),
                   _p("amount", "Net price", N, group="lineiteminformation"),
                   _p("hs_product_id", "Product ID", N, group="lineiteminformation"),
                   *_defaults()],
    "quotes": [_p("hs_title", "Quote name", group="quoteinformation"),
               _p("hs_expiration_date", "Expiration date", DT, group="quoteinformation"),
               _p("hs_status", "Quote approval status", E, group="quoteinformation",
                  options=("DRAFT", "APPROVAL_NOT_NEEDED", "PENDING_APPROVAL", "APPROVED",
                           "REJECTED")),
               _p("hs_quote_amount", "Amount", N, group="quoteinformation"),
               *_defaults()],
    "communications": _simple(("hs_communication_channel_type", "Channel type", S),
                              ("hs_communication_body", "Body", S),
                              ("hs_communication_logged_from", "Logged from", S)),
    "postal_mail": _simple(("hs_postal_mail_body", "Body", S)),
    "leads": [_p("hs_lead_name", "Lead name", group="leadinformation"),
              _p("hs_pipeline", "Pipeline", group="leadinformation"),
              _p("hs_pipeline_stage", "Lead stage", group="leadinformation"),
              _p("hubspot_owner_id", "Lead owner", E, group="leadinformation",
                 options=OWNER_IDS),
              *_defaults()],
}


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
