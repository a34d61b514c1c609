"""Record generators: every HubSpot property value of record ``i`` from ``(seed, object, i)``.

Each generator draws from its own ``random.Random`` seeded with the record's 64-bit hash and
returns a dict in property-definition order. Values are strings or None (unset), as HubSpot
serves them. Straight-line code on purpose: this is the sandbox's hot path.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection
from dataclasses import dataclass

from vaultkeeper.sandbox import hs_schema as hs
from vaultkeeper.sandbox.data import (
    AS_OF_MS,
    Dataset,
    iso_date,
    iso_ms,
    mix64,
    property_file_id,
    stream_key,
)
from vaultkeeper.sandbox.gen_common import (
    DAY,
    Props,
    between,
    opt,
    pick,
    record_meta,
    rrange,
)
from vaultkeeper.sandbox.gen_deals import deal, note
from vaultkeeper.sandbox.pools import (
    COUNTRY_VARIANTS,
    DIETARY,
    FIRST_ASCII,
    FIRST_NAMES,
    FIRST_SLUG,
    INDUSTRIES,
    JOB_TITLES,
    LAST_ASCII,
    LAST_NAMES,
    LAST_SLUG,
    ORG_KINDS,
    ORG_STEMS,
    ORG_TYPES,
    PERSONAL_DOMAINS,
    PLACES,
    STREETS,
    dirty_email,
    local_postcode,
    messy_date,
    messy_phone,
    slug,
)

_PERSON = 201
_POSTCODE = 202
_ORG_WEIGHTS = (0.34, 0.18, 0.18, 0.08, 0.1, 0.06, 0.06)  # charity, school, company, …
_ORG_CUM = tuple(sum(_ORG_WEIGHTS[: k + 1]) for k in range(len(_ORG_WEIGHTS)))
_TLDS = (".org.uk", ".org", ".com", ".co.uk", ".de", ".ac.uk", ".sch.uk")


def org_identity(ds: Dataset, j: int) -> tuple[str, str, str]:
    """(name, organisation type, domain stem) of company ``j``; cheap, used by contacts too."""
    rr = random.Random(ds.stores["companies"].hash(j) ^ 0x5A5A).random
    x = rr()
    kind = ORG_TYPES[-1]
    for k, bound in enumerate(_ORG_CUM):
        if x < bound:
            kind = ORG_TYPES[k]
            break
    stem = pick(rr, ORG_STEMS)
    suffix = pick(rr, ORG_KINDS[kind])
    place = pick(rr, PLACES)[0] if rr() < 0.3 else ""
    name = f"{stem} {place + ' ' if place else ''}{suffix}"
    if j == 0:
        name, kind = "National Volunteer Network", "charity"
    return name, kind, slug(f"{stem}{suffix}")[:24] + str(j % 97)


def person_of(ds: Dataset, i: int) -> int:
    """The person contact ``i`` is: ``i`` itself, or for about 2.3 % of the contacts an
    earlier one's (a near-duplicate, typed in again: see :func:`contact`)."""
    return _person(i, ds.stores["contacts"].hash(i))


def _person(i: int, h: int) -> int:
    if i > 0 and (h & 0xFF) < 6:
        return max(0, i - 1 - (h >> 8) % 30)
    return i


def contact(ds: Dataset, i: int, full: bool = True) -> Props:
    """Every property of contact ``i`` (only ``CHEAP_CONTACT`` ones when ``full`` is False)."""
    st = ds.stores["contacts"]
    h = st.hash(i)
    rr = random.Random(h).random
    pid = _person(i, h)
    dup = pid != i
    pr = random.Random(mix64(stream_key(ds.seed, _PERSON) ^ pid)).random
    first, last = pick(pr, FIRST_NAMES), pick(pr, LAST_NAMES)
    place = pick(pr, PLACES)
    city, region, area, country, _iso, cc, tz = place
    postcode = local_postcode(area, mix64(stream_key(ds.seed, _POSTCODE) ^ pid))
    domain = pick(pr, PERSONAL_DOMAINS)
    pattern = rrange(pr, 4)
    fs, ls = FIRST_SLUG[first], LAST_SLUG[last]
    local = (f"{fs}.{ls}{pid}", f"{fs[0]}{ls}{pid}", f"{ls}.{fs}.{pid}", f"{fs}{pid}")[pattern]
    birth_y, birth_m, birth_d = 1930 + rrange(pr, 75), 1 + rrange(pr, 12), 1 + rrange(pr, 28)
    phone = messy_phone(pr, cc)
    street = f"{1 + rrange(pr, 220)} {pick(pr, STREETS)}"
    firstname: str | None = first
    lastname: str | None = last
    if dup:  # the same person typed in again: case, spacing and accents differ
        k = rrange(rr, 5)
        if k == 0:
            lastname = last.upper()
        elif k == 1:
            firstname, lastname = f" {first.lower()}", f"{last}  "
        elif k == 2:
            firstname, lastname = FIRST_ASCII[first], LAST_ASCII[last]
        elif k == 3:
            firstname = f"{first[0]}."
        else:
            firstname, lastname = f"{first} {last}", None
        email = None if rr() < 0.5 else f"{fs}{ls}.{pid}@{pick(rr, PERSONAL_DOMAINS)}"
    else:
        x = rr()
        if x < 0.05:
            email = None
        elif x < 0.09:
            email = dirty_email(rr, local, domain)
        elif x < 0.12:
            email = f"{local}@{domain}".title()
        else:
            email = f"{local}@{domain}"
        if rr() < 0.03:
            firstname = None
        if rr() < 0.02:
            lastname = None
    created = st.created_ms(i)
    modified = st.generated_modified_ms(i)
    if not full:
        # Everything above is drawn first, so this prefix equals the full record's values.
        return {"firstname": firstname, "lastname": lastname, "email": email,
                "createdate": iso_ms(created), "lastmodifieddate": iso_ms(st.modified_ms(i)),
                "hs_object_id": str(hs.ID_BASES["contacts"] + i)}
    span = max(1, modified - created)
    member = rr() < 0.7
    donor = rr() < 0.45
    volunteer = rr() < 0.2
    org = ds.links["contacts__companies"].raw_target(i)
    company = org_identity(ds, org)[0] if org >= 0 else None
    if company is not None and rr() < 0.1:
        company = company.lower()
    country_text = country
    if country in COUNTRY_VARIANTS and rr() < 0.3:
        country_text = pick(rr, COUNTRY_VARIANTS[country])
    views = rrange(rr, 0, 400)
    joined = created - rrange(rr, 0, 3650) * DAY
    jt = iso_date(joined)
    jy, jm, jd = int(jt[:4]), int(jt[5:7]), int(jt[8:10])
    first_gift = created + int(rr() * span) if donor else 0
    gifts = 1 + rrange(rr, 40) if donor else 0
    vol_skills = ";".join(s for s in hs.SKILLS if rr() < 0.2) if volunteer else None
    return {
        "firstname": firstname,
        "lastname": lastname,
        "email": email,
        "phone": opt(rr, 0.75, phone),
        "mobilephone": opt(rr, 0.4, messy_phone(rr, cc)),
        "address": opt(rr, 0.8, street),
        "city": opt(rr, 0.85, city if rr() < 0.9 else city.upper()),
        "state": opt(rr, 0.6, region),
        "zip": opt(rr, 0.8, postcode if rr() < 0.9 else postcode.replace(" ", "")),
        "country": opt(rr, 0.8, country_text),
        "company": company,
        "jobtitle": opt(rr, 0.35, pick(rr, JOB_TITLES)),
        "website": opt(rr, 0.05, f"https://{fs}{ls}.example.net"),
        "date_of_birth": opt(rr, 0.35, messy_date(rr, birth_y, birth_m, birth_d)),
        "salutation": opt(rr, 0.3, pick(rr, ("Mr", "Mrs", "Ms", "Dr", "Mx", "Rev.", "Prof"))),
        "fax": opt(rr, 0.02, messy_phone(rr, cc)),
        "industry": opt(rr, 0.1, pick(rr, INDUSTRIES)),
        "numemployees": opt(rr, 0.05, pick(rr, hs.EMPLOYEES)),
        "annualrevenue": None,
        "lifecyclestage": pick(rr, hs.LIFECYCLE),
        "hs_lead_status": opt(rr, 0.3, pick(rr, hs.LEAD_STATUS)),
        "hubspot_owner_id": opt(rr, 0.8, pick(rr, hs.OWNER_IDS)),
        "hs_email_optout": opt(rr, 0.9, "true" if rr() < 0.12 else "false"),
        "hs_language": opt(rr, 0.4, pick(rr, hs.LANGUAGES)),
        "hs_timezone": opt(rr, 0.6, tz),
        "hs_analytics_source": pick(rr, hs.SOURCES),
        "hs_analytics_source_data_1": opt(rr, 0.5, pick(rr, ("IMPORT", "CRM_UI", "google",
                                                             "newsletter", "facebook"))),
        "hs_analytics_num_page_views": str(views),
        "hs_analytics_num_visits": str(views // 3),
        "hs_analytics_first_timestamp": iso_ms(created - rrange(rr, 0, 90) * DAY),
        "hs_analytics_last_timestamp": opt(rr, 0.7, iso_ms(created + int(rr() * span))),
        "hs_email_domain": email.rsplit("@", 1)[-1].strip() if email and "@" in email else None,
        "hs_email_bounce": str(rrange(rr, 3)) if email else None,
        "hs_email_open": str(rrange(rr, 60)) if email else None,
        "hs_email_click": str(rrange(rr, 15)) if email else None,
        "hs_email_delivered": str(rrange(rr, 60, 200)) if email else None,
        "hs_email_last_open_date": opt(rr, 0.5, iso_ms(created + int(rr() * span))),
        "hs_email_last_send_date": opt(rr, 0.6, iso_ms(created + int(rr() * span))),
        "hs_sequences_is_enrolled": "false",
        "notes_last_updated": opt(rr, 0.5, iso_ms(created + int(rr() * span))),
        "notes_last_contacted": opt(rr, 0.4, iso_ms(created + int(rr() * span))),
        "num_contacted_notes": str(rrange(rr, 12)),
        "hs_persona": opt(rr, 0.2, pick(rr, hs.PERSONAS)),
        "twitterhandle": opt(rr, 0.06, f"@{fs}_{ls}"[:15]),
        "message": opt(rr, 0.05, "Please call me back about Gift Aid – thanks!"),
        "hs_marketable_status": "true" if email and rr() < 0.8 else "false",
        "hs_lifecyclestage_lead_date": opt(rr, 0.6, iso_ms(created)),
        "hs_lifecyclestage_customer_date": opt(rr, 0.3, iso_ms(created + span // 2)),
        "first_conversion_date": opt(rr, 0.3, iso_ms(created)),
        "first_conversion_event_name": opt(rr, 0.3, pick(rr, ("Membership form",
                                                              "Donate page", "Newsletter"))),
        "recent_conversion_date": opt(rr, 0.25, iso_ms(created + int(rr() * span))),
        "num_conversion_events": str(rrange(rr, 6)),
        "hs_latest_source": pick(rr, hs.SOURCES),
        "hs_all_contact_vids": str(hs.ID_BASES["contacts"] + i),
        "hs_is_unworked": "true" if rr() < 0.3 else "false",
        "hs_object_source": pick(rr, hs.OBJECT_SOURCES),
        "hs_object_source_id": opt(rr, 0.4, f"import-{rrange(rr, 1, 60)}"),
        "hs_created_by_user_id": opt(rr, 0.5, str(9100000 + rrange(rr, 8))),
        "hs_updated_by_user_id": opt(rr, 0.5, str(9100000 + rrange(rr, 8))),
        "hs_was_imported": "true" if rr() < 0.4 else None,
        "ip_city": opt(rr, 0.3, city),
        "ip_country": opt(rr, 0.3, _iso.lower()),
        "hs_ip_timezone": opt(rr, 0.3, tz.replace("_slash_", "/")),
        "hs_pipeline": "contacts-lifecycle-pipeline",
        "hs_legal_basis": opt(rr, 0.5, "Freely given consent from contact"),
        "hs_whatsapp_phone_number": opt(rr, 0.05, phone),
        "createdate": iso_ms(created),
        "lastmodifieddate": iso_ms(st.modified_ms(i)),
        "hs_object_id": str(hs.ID_BASES["contacts"] + i),
        "membership_number": f"M{pid:07d}" if member else None,
        "membership_level": pick(rr, hs.MEMBERSHIP_LEVELS) if member else None,
        "membership_status": pick(rr, hs.MEMBERSHIP_STATUS) if member else None,
        "membership_start_date": iso_date(joined) if member else None,
        "membership_renewal_date": iso_date(joined + 365 * DAY * (1 + rrange(rr, 10)))
        if member and rr() < 0.8 else None,
        "date_joined_text": messy_date(rr, jy, jm, jd) if member and rr() < 0.6 else None,
        "branch": opt(rr, 0.7, pick(rr, hs.BRANCHES)) if member else None,
        "gift_aid_declared": ("true" if rr() < 0.6 else "false") if donor else None,
        "gift_aid_declaration_date": iso_date(first_gift) if donor and rr() < 0.5 else None,
        "first_donation_date": iso_date(first_gift) if donor else None,
        "last_donation_date": iso_date(first_gift + int(rr() * (AS_OF_MS - first_gift)))
        if donor else None,
        "total_donations": f"{gifts * (5 + rrange(rr, 200))}.{rrange(rr, 100):02d}"
        if donor else None,
        "donation_count": str(gifts) if donor else None,
        "preferred_payment_method": pick(rr, hs.PAYMENT_METHODS) if donor else None,
        "is_member": "true" if member else "false",
        "is_donor": "true" if donor else ("false" if rr() < 0.5 else None),
        "is_volunteer": "true" if volunteer else None,
        "volunteer_skills": vol_skills or None,
        "volunteer_hours": str(rrange(rr, 500)) if volunteer else None,
        "dbs_check_date": messy_date(rr, 2015 + rrange(rr, 10), 1 + rrange(rr, 12),
                                     1 + rrange(rr, 28)) if volunteer else None,
        "dietary_requirements": opt(rr, 0.15, pick(rr, DIETARY)),
        "accessibility_needs": opt(rr, 0.04, "Wheelchair access needed; hearing loop"),
        "emergency_contact_name": f"{pick(rr, FIRST_NAMES)} {last}" if volunteer else None,
        "emergency_contact_phone": messy_phone(rr, cc) if volunteer else None,
        "newsletter_opt_in": opt(rr, 0.8, "true" if rr() < 0.6 else "false"),
        "consent_date": opt(rr, 0.4, messy_date(rr, jy, jm, jd)),
        "preferred_contact_method": opt(rr, 0.5, pick(rr, hs.CONTACT_METHODS)),
        "how_did_you_hear": opt(rr, 0.3, pick(rr, hs.HEARD)),
        "legacy_member_id": opt(rr, 0.3, pick(rr, (f"M-{pid:06d}", f"m{pid}", f" {pid:06d}"))),
        "photo_consent": opt(rr, 0.5, "true" if rr() < 0.7 else "false"),
        "notes_free_text": opt(rr, 0.08, "Prefers post; don't call after 8pm. Größe: L"),
        "pronouns": opt(rr, 0.1, pick(rr, ("she/her", "he/him", "they/them"))),
        "student_id": opt(rr, 0.03, f"S{rrange(rr, 10**7):07d}"),
        "signed_membership_form": property_file_id(ds, "contacts", i),
    }


@dataclass(frozen=True)
class ContactTruth:
    """What the generator did to contact ``i``: the ground truth for data-quality tests."""

    person: int
    """The person the record describes: ``i`` itself, or the earlier contact it duplicates."""
    duplicate_of: int | None
    """Set when the record is a near-duplicate typed in again (``person`` then)."""
    email_dirty: bool
    """The e-mail was made invalid on purpose (``pools.dirty_email``)."""
    email_kind: int | None
    """Which of dirty_email's shapes (0–6), when dirty."""


def contact_truth(ds: Dataset, i: int) -> ContactTruth:
    """Ground truth of contact ``i``, replaying only the generator's first draws.

    It repeats :func:`contact`'s decisions (the same hash, the same first random numbers) and
    must stay in step with it; tests/sandbox pin that against the generated e-mails.
    """
    h = ds.stores["contacts"].hash(i)
    rr = random.Random(h).random
    if i > 0 and (h & 0xFF) < 6:
        return ContactTruth(max(0, i - 1 - (h >> 8) % 30), max(0, i - 1 - (h >> 8) % 30),
                            False, None)
    x = rr()
    if 0.05 <= x < 0.09:
        return ContactTruth(i, None, True, int(rr() * 7))
    return ContactTruth(i, None, False, None)


def company(ds: Dataset, j: int) -> Props:
    """Every property of company ``j``."""
    st = ds.stores["companies"]
    rr = random.Random(st.hash(j)).random
    name, kind, stem = org_identity(ds, j)
    place = pick(rr, PLACES)
    city, region, postcode, country, _iso, cc, tz = place
    tld = ".sch.uk" if kind == "school" and country == "United Kingdom" else pick(rr, _TLDS)
    domain = f"{stem}{tld}"
    x = rr()
    website = (None if x < 0.15 else f"https://www.{domain}" if x < 0.6 else
               f"http://{domain}/" if x < 0.8 else f"www.{domain}".upper() if x < 0.85 else
               domain)
    created, modified = st.created_ms(j), st.generated_modified_ms(j)
    charity = kind in ("charity", "community_group", "faith_group")
    return {
        "name": name if rr() < 0.95 else f"  {name.upper()} ",
        "domain": opt(rr, 0.85, domain),
        "website": website,
        "phone": opt(rr, 0.7, messy_phone(rr, cc)),
        "address": opt(rr, 0.75, f"{1 + rrange(rr, 200)} {pick(rr, STREETS)}"),
        "address2": opt(rr, 0.1, f"Unit {1 + rrange(rr, 30)}"),
        "city": opt(rr, 0.85, city),
        "state": opt(rr, 0.5, region),
        "zip": opt(rr, 0.75, postcode),
        "country": opt(rr, 0.8, country),
        "industry": opt(rr, 0.6, pick(rr, INDUSTRIES)),
        "type": opt(rr, 0.5, pick(rr, hs.COMPANY_TYPES)),
        "description": opt(rr, 0.3, f"{name} – {kind.replace('_', ' ')} based in {city}."),
        "numberofemployees": opt(rr, 0.4, str(1 + rrange(rr, 5000))),
        "annualrevenue": opt(rr, 0.2, str(rrange(rr, 10, 50000) * 1000)),
        "founded_year": opt(rr, 0.3, str(1850 + rrange(rr, 170))),
        "hubspot_owner_id": opt(rr, 0.7, pick(rr, hs.OWNER_IDS)),
        "lifecyclestage": opt(rr, 0.7, pick(rr, hs.LIFECYCLE)),
        "hs_lead_status": opt(rr, 0.2, pick(rr, hs.LEAD_STATUS)),
        "linkedin_company_page": opt(rr, 0.2, f"https://www.linkedin.com/company/{stem}"),
        "twitterhandle": opt(rr, 0.15, stem[:15]),
        "facebook_company_page": opt(rr, 0.15, f"https://facebook.com/{stem}"),
        "timezone": opt(rr, 0.5, tz.replace("_slash_", "/").title()),
        "is_public": opt(rr, 0.3, "true" if kind == "company" else "false"),
        "notes_last_updated": opt(rr, 0.5, iso_ms(between(rr, created, modified))),
        "total_money_raised": None,
        "web_technologies": opt(rr, 0.3, "wordpress;google_analytics"),
        "about_us": opt(rr, 0.1, f"Über uns: {name} supports its community since "
                                 f"{1900 + rrange(rr, 120)}."),
        **record_meta(rr, "companies", j, created, modified, imported=0.5),
        "hs_lastmodifieddate": iso_ms(st.modified_ms(j)),  # writes move it; values stay
        "organisation_type": kind,
        "charity_number": f"{rrange(rr, 200000, 1200000)}" if charity and rr() < 0.8
        else None,
        "sponsor_level": pick(rr, hs.SPONSOR_LEVELS[1:]) if kind == "sponsor" else None,
        "partnership_start_date": opt(rr, 0.4, iso_date(between(rr, created, modified))),
        "vat_number": f"GB{rrange(rr, 10**8, 10**9)}" if kind == "company" else None,
        "school_urn": str(100000 + rrange(rr, 50000)) if kind == "school" else None,
        "pupils_count": str(50 + rrange(rr, 1500)) if kind == "school" else None,
        "renewal_date": opt(rr, 0.3, iso_date(between(rr, modified, AS_OF_MS + 365 * DAY))),
        "invoicing_email": opt(rr, 0.3, f"accounts@{domain}" if rr() < 0.9
                                else f"accounts(at){domain}"),
        "main_contact_text": opt(rr, 0.3, f"{pick(rr, FIRST_NAMES)} {pick(rr, LAST_NAMES)}, "
                                          f"{messy_phone(rr, cc)}"),
        "legacy_org_id": opt(rr, 0.4, f"ORG-{j:05d}"),
        "signed_agreement": property_file_id(ds, "companies", j),
    }


GENERATORS: dict[str, Callable[[Dataset, int], Props]] = {
    "contacts": contact, "companies": company, "deals": deal, "notes": note,
}


CHEAP_CONTACT = frozenset(("firstname", "lastname", "email", "createdate", "lastmodifieddate",
                           "hs_object_id"))


def properties_of(ds: Dataset, obj: str, i: int, needed: Collection[str] | None = None) -> Props:
    """Properties of record ``i`` of ``obj``: all of them, or at least ``needed``.

    Values set by writes (the store's overlay) win over generated ones; a record created by a
    write has only what was written (every other property is None).
    """
    store = ds.stores[obj]
    if store.base <= i < store.count:
        props: Props = dict.fromkeys(hs.property_names(obj))
        props.update(store.edits.get(i, {}))
        return props
    if obj == "contacts" and needed is not None and CHEAP_CONTACT.issuperset(needed):
        props = contact(ds, i, full=False)  # default listings: 4x cheaper
    else:
        props = GENERATORS[obj](ds, i)
    if store.edits:
        edits = store.edits.get(i)
        if edits:
            props.update(edits)
    return props
