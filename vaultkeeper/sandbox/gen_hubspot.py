"""Record generators: every HubSpot property value of record ``i`` from ``(seed, object, i)``.

Each generator draws from its own ``random.Random`` seeded with the record's 64-bit hash and
returns a dict in property-definition order. Values are strings or None (unset), as HubSpot
serves them. Straight-line code on purpose: this is the sandbox's hot path.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TypeVar

from vaultkeeper.sandbox import hs_schema as hs
from vaultkeeper.sandbox.data import (
    AS_OF_MS,
    Dataset,
    iso_date,
    iso_ms,
    mix64,
    stream_key,
)
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
    NOTE_TOPICS,
    ORG_KINDS,
    ORG_STEMS,
    ORG_TYPES,
    PERSONAL_DOMAINS,
    PLACES,
    STREETS,
    dirty_email,
    messy_date,
    messy_phone,
    slug,
)

Props = dict[str, str | None]
T = TypeVar("T")
DAY = 86_400_000
_PERSON = 201
_ORG_WEIGHTS = (0.34, 0.18, 0.18, 0.08, 0.1, 0.06, 0.06)  # charity, school, company, …
_ORG_CUM = tuple(sum(_ORG_WEIGHTS[: k + 1]) for k in range(len(_ORG_WEIGHTS)))
_TLDS = (".org.uk", ".org", ".com", ".co.uk", ".de", ".ac.uk", ".sch.uk")


Rnd = Callable[[], float]


def _pick(rnd: Rnd, seq: Sequence[T]) -> T:
    # int(random()*n) instead of Random.choice/randrange: 3x cheaper, and this is the hot path.
    return seq[int(rnd() * len(seq))]


def _rr(rnd: Rnd, a: int, b: int | None = None) -> int:
    if b is None:
        a, b = 0, a
    return a + int(rnd() * (b - a))


def _between(rnd: Rnd, lo: int, hi: int) -> int:
    return lo + int(rnd() * max(1, hi - lo))


def _opt(rnd: Rnd, p: float, value: str) -> str | None:
    return value if rnd() < p else None



def _record_meta(rnd: Rnd, obj: str, index: int, created: int, modified: int, *,
                 imported: float) -> Props:
    """HubSpot's own fields of a record: its source, creator, import flag, dates and id."""
    return {"hs_object_source": _pick(rnd, hs.OBJECT_SOURCES),
            "hs_created_by_user_id": _opt(rnd, 0.5, str(9100000 + _rr(rnd, 8))),
            "hs_was_imported": "true" if rnd() < imported else None,
            "createdate": iso_ms(created),
            "hs_lastmodifieddate": iso_ms(modified),
            "hs_object_id": str(hs.ID_BASES[obj] + index)}

def org_identity(ds: Dataset, j: int) -> tuple[str, str, str]:
    """(name, organisation type, domain stem) of company ``j``; cheap, used by contacts too."""
    rr = random.Random(ds.stores["companies"].hash(j) ^ 0x5A5A).random
    x = rr()
    kind = ORG_TYPES[-1]
    for k, bound in enumerate(_ORG_CUM):
        if x < bound:
            kind = ORG_TYPES[k]
            break
    stem = _pick(rr, ORG_STEMS)
    suffix = _pick(rr, ORG_KINDS[kind])
    place = _pick(rr, PLACES)[0] if rr() < 0.3 else ""
    name = f"{stem} {place + ' ' if place else ''}{suffix}"
    if j == 0:
        name, kind = "National Volunteer Network", "charity"
    return name, kind, slug(f"{stem}{suffix}")[:24] + str(j % 97)


def contact(ds: Dataset, i: int, full: bool = True) -> Props:
    """Every property of contact ``i`` (only ``CHEAP_CONTACT`` ones when ``full`` is False)."""
    st = ds.stores["contacts"]
    h = st.hash(i)
    rr = random.Random(h).random
    pid = i
    dup = i > 0 and (h & 0xFF) < 6  # ~2.3 % near-duplicates of an earlier contact
    if dup:
        pid = max(0, i - 1 - (h >> 8) % 30)
    pr = random.Random(mix64(stream_key(ds.seed, _PERSON) ^ pid)).random
    first, last = _pick(pr, FIRST_NAMES), _pick(pr, LAST_NAMES)
    place = _pick(pr, PLACES)
    city, region, postcode, country, _iso, cc, tz = place
    domain = _pick(pr, PERSONAL_DOMAINS)
    pattern = _rr(pr, 4)
    fs, ls = FIRST_SLUG[first], LAST_SLUG[last]
    local = (f"{fs}.{ls}{pid}", f"{fs[0]}{ls}{pid}", f"{ls}.{fs}.{pid}", f"{fs}{pid}")[pattern]
    birth_y, birth_m, birth_d = 1930 + _rr(pr, 75), 1 + _rr(pr, 12), 1 + _rr(pr, 28)
    phone = messy_phone(pr, cc)
    street = f"{1 + _rr(pr, 220)} {_pick(pr, STREETS)}"
    firstname: str | None = first
    lastname: str | None = last
    if dup:  # the same person typed in again: case, spacing and accents differ
        k = _rr(rr, 5)
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
        email = None if rr() < 0.5 else f"{fs}{ls}.{pid}@{_pick(rr, PERSONAL_DOMAINS)}"
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
    modified = st.modified_ms(i)
    if not full:
        # Everything above is drawn first, so this prefix equals the full record's values.
        return {"firstname": firstname, "lastname": lastname, "email": email,
                "createdate": iso_ms(created), "lastmodifieddate": iso_ms(modified),
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
        country_text = _pick(rr, COUNTRY_VARIANTS[country])
    views = _rr(rr, 0, 400)
    joined = created - _rr(rr, 0, 3650) * DAY
    jt = iso_date(joined)
    jy, jm, jd = int(jt[:4]), int(jt[5:7]), int(jt[8:10])
    first_gift = created + int(rr() * span) if donor else 0
    gifts = 1 + _rr(rr, 40) if donor else 0
    vol_skills = ";".join(s for s in hs.SKILLS if rr() < 0.2) if volunteer else None
    return {
        "firstname": firstname,
        "lastname": lastname,
        "email": email,
        "phone": _opt(rr, 0.75, phone),
        "mobilephone": _opt(rr, 0.4, messy_phone(rr, cc)),
        "address": _opt(rr, 0.8, street),
        "city": _opt(rr, 0.85, city if rr() < 0.9 else city.upper()),
        "state": _opt(rr, 0.6, region),
        "zip": _opt(rr, 0.8, postcode if rr() < 0.9 else postcode.replace(" ", "")),
        "country": _opt(rr, 0.8, country_text),
        "company": company,
        "jobtitle": _opt(rr, 0.35, _pick(rr, JOB_TITLES)),
        "website": _opt(rr, 0.05, f"https://{fs}{ls}.example.net"),
        "date_of_birth": _opt(rr, 0.35, messy_date(rr, birth_y, birth_m, birth_d)),
        "salutation": _opt(rr, 0.3, _pick(rr, ("Mr", "Mrs", "Ms", "Dr", "Mx", "Rev.", "Prof"))),
        "fax": _opt(rr, 0.02, messy_phone(rr, cc)),
        "industry": _opt(rr, 0.1, _pick(rr, INDUSTRIES)),
        "numemployees": _opt(rr, 0.05, _pick(rr, hs.EMPLOYEES)),
        "annualrevenue": None,
        "lifecyclestage": _pick(rr, hs.LIFECYCLE),
        "hs_lead_status": _opt(rr, 0.3, _pick(rr, hs.LEAD_STATUS)),
        "hubspot_owner_id": _opt(rr, 0.8, _pick(rr, hs.OWNER_IDS)),
        "hs_email_optout": _opt(rr, 0.9, "true" if rr() < 0.12 else "false"),
        "hs_language": _opt(rr, 0.4, _pick(rr, hs.LANGUAGES)),
        "hs_timezone": _opt(rr, 0.6, tz),
        "hs_analytics_source": _pick(rr, hs.SOURCES),
        "hs_analytics_source_data_1": _opt(rr, 0.5, _pick(rr, ("IMPORT", "CRM_UI", "google",
                                                             "newsletter", "facebook"))),
        "hs_analytics_num_page_views": str(views),
        "hs_analytics_num_visits": str(views // 3),
        "hs_analytics_first_timestamp": iso_ms(created - _rr(rr, 0, 90) * DAY),
        "hs_analytics_last_timestamp": _opt(rr, 0.7, iso_ms(created + int(rr() * span))),
        "hs_email_domain": email.rsplit("@", 1)[-1].strip() if email and "@" in email else None,
        "hs_email_bounce": str(_rr(rr, 3)) if email else None,
        "hs_email_open": str(_rr(rr, 60)) if email else None,
        "hs_email_click": str(_rr(rr, 15)) if email else None,
        "hs_email_delivered": str(_rr(rr, 60, 200)) if email else None,
        "hs_email_last_open_date": _opt(rr, 0.5, iso_ms(created + int(rr() * span))),
        "hs_email_last_send_date": _opt(rr, 0.6, iso_ms(created + int(rr() * span))),
        "hs_sequences_is_enrolled": "false",
        "notes_last_updated": _opt(rr, 0.5, iso_ms(created + int(rr() * span))),
        "notes_last_contacted": _opt(rr, 0.4, iso_ms(created + int(rr() * span))),
        "num_contacted_notes": str(_rr(rr, 12)),
        "hs_persona": _opt(rr, 0.2, _pick(rr, hs.PERSONAS)),
        "twitterhandle": _opt(rr, 0.06, f"@{fs}_{ls}"[:15]),
        "message": _opt(rr, 0.05, "Please call me back about Gift Aid – thanks!"),
        "hs_marketable_status": "true" if email and rr() < 0.8 else "false",
        "hs_lifecyclestage_lead_date": _opt(rr, 0.6, iso_ms(created)),
        "hs_lifecyclestage_customer_date": _opt(rr, 0.3, iso_ms(created + span // 2)),
        "first_conversion_date": _opt(rr, 0.3, iso_ms(created)),
        "first_conversion_event_name": _opt(rr, 0.3, _pick(rr, ("Membership form",
                                                              "Donate page", "Newsletter"))),
        "recent_conversion_date": _opt(rr, 0.25, iso_ms(created + int(rr() * span))),
        "num_conversion_events": str(_rr(rr, 6)),
        "hs_latest_source": _pick(rr, hs.SOURCES),
        "hs_all_contact_vids": str(hs.ID_BASES["contacts"] + i),
        "hs_is_unworked": "true" if rr() < 0.3 else "false",
        "hs_object_source": _pick(rr, hs.OBJECT_SOURCES),
        "hs_object_source_id": _opt(rr, 0.4, f"import-{_rr(rr, 1, 60)}"),
        "hs_created_by_user_id": _opt(rr, 0.5, str(9100000 + _rr(rr, 8))),
        "hs_updated_by_user_id": _opt(rr, 0.5, str(9100000 + _rr(rr, 8))),
        "hs_was_imported": "true" if rr() < 0.4 else None,
        "ip_city": _opt(rr, 0.3, city),
        "ip_country": _opt(rr, 0.3, _iso.lower()),
        "hs_ip_timezone": _opt(rr, 0.3, tz.replace("_slash_", "/")),
        "hs_pipeline": "contacts-lifecycle-pipeline",
        "hs_legal_basis": _opt(rr, 0.5, "Freely given consent from contact"),
        "hs_whatsapp_phone_number": _opt(rr, 0.05, phone),
        "createdate": iso_ms(created),
        "lastmodifieddate": iso_ms(modified),
        "hs_object_id": str(hs.ID_BASES["contacts"] + i),
        "membership_number": f"M{pid:07d}" if member else None,
        "membership_level": _pick(rr, hs.MEMBERSHIP_LEVELS) if member else None,
        "membership_status": _pick(rr, hs.MEMBERSHIP_STATUS) if member else None,
        "membership_start_date": iso_date(joined) if member else None,
        "membership_renewal_date": iso_date(joined + 365 * DAY * (1 + _rr(rr, 10)))
        if member and rr() < 0.8 else None,
        "date_joined_text": messy_date(rr, jy, jm, jd) if member and rr() < 0.6 else None,
        "branch": _opt(rr, 0.7, _pick(rr, hs.BRANCHES)) if member else None,
        "gift_aid_declared": ("true" if rr() < 0.6 else "false") if donor else None,
        "gift_aid_declaration_date": iso_date(first_gift) if donor and rr() < 0.5 else None,
        "first_donation_date": iso_date(first_gift) if donor else None,
        "last_donation_date": iso_date(first_gift + int(rr() * (AS_OF_MS - first_gift)))
        if donor else None,
        "total_donations": f"{gifts * (5 + _rr(rr, 200))}.{_rr(rr, 100):02d}"
        if donor else None,
        "donation_count": str(gifts) if donor else None,
        "preferred_payment_method": _pick(rr, hs.PAYMENT_METHODS) if donor else None,
        "is_member": "true" if member else "false",
        "is_donor": "true" if donor else ("false" if rr() < 0.5 else None),
        "is_volunteer": "true" if volunteer else None,
        "volunteer_skills": vol_skills or None,
        "volunteer_hours": str(_rr(rr, 500)) if volunteer else None,
        "dbs_check_date": messy_date(rr, 2015 + _rr(rr, 10), 1 + _rr(rr, 12),
                                     1 + _rr(rr, 28)) if volunteer else None,
        "dietary_requirements": _opt(rr, 0.15, _pick(rr, DIETARY)),
        "accessibility_needs": _opt(rr, 0.04, "Wheelchair access needed; hearing loop"),
        "emergency_contact_name": f"{_pick(rr, FIRST_NAMES)} {last}" if volunteer else None,
        "emergency_contact_phone": messy_phone(rr, cc) if volunteer else None,
        "newsletter_opt_in": _opt(rr, 0.8, "true" if rr() < 0.6 else "false"),
        "consent_date": _opt(rr, 0.4, messy_date(rr, jy, jm, jd)),
        "preferred_contact_method": _opt(rr, 0.5, _pick(rr, hs.CONTACT_METHODS)),
        "how_did_you_hear": _opt(rr, 0.3, _pick(rr, hs.HEARD)),
        "legacy_member_id": _opt(rr, 0.3, _pick(rr, (f"M-{pid:06d}", f"m{pid}", f" {pid:06d}"))),
        "photo_consent": _opt(rr, 0.5, "true" if rr() < 0.7 else "false"),
        "notes_free_text": _opt(rr, 0.08, "Prefers post; don't call after 8pm. Größe: L"),
        "pronouns": _opt(rr, 0.1, _pick(rr, ("she/her", "he/him", "they/them"))),
        "student_id": _opt(rr, 0.03, f"S{_rr(rr, 10**7):07d}"),
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
    place = _pick(rr, PLACES)
    city, region, postcode, country, _iso, cc, tz = place
    tld = ".sch.uk" if kind == "school" and country == "United Kingdom" else _pick(rr, _TLDS)
    domain = f"{stem}{tld}"
    x = rr()
    website = (None if x < 0.15 else f"https://www.{domain}" if x < 0.6 else
               f"http://{domain}/" if x < 0.8 else f"www.{domain}".upper() if x < 0.85 else
               domain)
    created, modified = st.created_ms(j), st.modified_ms(j)
    charity = kind in ("charity", "community_group", "faith_group")
    return {
        "name": name if rr() < 0.95 else f"  {name.upper()} ",
        "domain": _opt(rr, 0.85, domain),
        "website": website,
        "phone": _opt(rr, 0.7, messy_phone(rr, cc)),
        "address": _opt(rr, 0.75, f"{1 + _rr(rr, 200)} {_pick(rr, STREETS)}"),
        "address2": _opt(rr, 0.1, f"Unit {1 + _rr(rr, 30)}"),
        "city": _opt(rr, 0.85, city),
        "state": _opt(rr, 0.5, region),
        "zip": _opt(rr, 0.75, postcode),
        "country": _opt(rr, 0.8, country),
        "industry": _opt(rr, 0.6, _pick(rr, INDUSTRIES)),
        "type": _opt(rr, 0.5, _pick(rr, hs.COMPANY_TYPES)),
        "description": _opt(rr, 0.3, f"{name} – {kind.replace('_', ' ')} based in {city}."),
        "numberofemployees": _opt(rr, 0.4, str(1 + _rr(rr, 5000))),
        "annualrevenue": _opt(rr, 0.2, str(_rr(rr, 10, 50000) * 1000)),
        "founded_year": _opt(rr, 0.3, str(1850 + _rr(rr, 170))),
        "hubspot_owner_id": _opt(rr, 0.7, _pick(rr, hs.OWNER_IDS)),
        "lifecyclestage": _opt(rr, 0.7, _pick(rr, hs.LIFECYCLE)),
        "hs_lead_status": _opt(rr, 0.2, _pick(rr, hs.LEAD_STATUS)),
        "linkedin_company_page": _opt(rr, 0.2, f"https://www.linkedin.com/company/{stem}"),
        "twitterhandle": _opt(rr, 0.15, stem[:15]),
        "facebook_company_page": _opt(rr, 0.15, f"https://facebook.com/{stem}"),
        "timezone": _opt(rr, 0.5, tz.replace("_slash_", "/").title()),
        "is_public": _opt(rr, 0.3, "true" if kind == "company" else "false"),
        "notes_last_updated": _opt(rr, 0.5, iso_ms(_between(rr, created, modified))),
        "total_money_raised": None,
        "web_technologies": _opt(rr, 0.3, "wordpress;google_analytics"),
        "about_us": _opt(rr, 0.1, f"Über uns: {name} supports its community since "
                                 f"{1900 + _rr(rr, 120)}."),
        **_record_meta(rr, "companies", j, created, modified, imported=0.5),
        "organisation_type": kind,
        "charity_number": f"{_rr(rr, 200000, 1200000)}" if charity and rr() < 0.8
        else None,
        "sponsor_level": _pick(rr, hs.SPONSOR_LEVELS[1:]) if kind == "sponsor" else None,
        "partnership_start_date": _opt(rr, 0.4, iso_date(_between(rr, created, modified))),
        "vat_number": f"GB{_rr(rr, 10**8, 10**9)}" if kind == "company" else None,
        "school_urn": str(100000 + _rr(rr, 50000)) if kind == "school" else None,
        "pupils_count": str(50 + _rr(rr, 1500)) if kind == "school" else None,
        "renewal_date": _opt(rr, 0.3, iso_date(_between(rr, modified, AS_OF_MS + 365 * DAY))),
        "invoicing_email": _opt(rr, 0.3, f"accounts@{domain}" if rr() < 0.9
                                else f"accounts(at){domain}"),
        "main_contact_text": _opt(rr, 0.3, f"{_pick(rr, FIRST_NAMES)} {_pick(rr, LAST_NAMES)}, "
                                          f"{messy_phone(rr, cc)}"),
        "legacy_org_id": _opt(rr, 0.4, f"ORG-{j:05d}"),
    }


_DEAL_KIND = (("default", "one_off"), ("default", "regular"), ("default", "in_memory"),
              ("default", "legacy"), ("default", "sponsorship"),
              ("memberships", "membership_fee"), ("events", "event_ticket"))
_APPEALS = ("Spring Appeal", "Christmas Appeal", "Summer Gala", "Sponsored Walk", "Quiz Night",
            "Building Fund", "Emergency Appeal", "Annual Dinner", "Fun Run", "Concert")


def deal(ds: Dataset, d: int) -> Props:
    """Every property of deal ``d``."""
    st = ds.stores["deals"]
    rr = random.Random(st.hash(d)).random
    pipeline, dtype = _pick(rr, _DEAL_KIND)
    stages = next(p[2] for p in hs.DEAL_PIPELINES if p[0] == pipeline)
    stage_id, _label, prob, closed = _pick(rr, stages)
    won = closed and float(prob) == 1.0
    created, modified = st.created_ms(d), st.modified_ms(d)
    year = iso_date(created)[:4]
    appeal = _pick(rr, _APPEALS)
    amount: str | None
    if pipeline == "memberships":
        name = f"Membership {year}"
        amount = _pick(rr, ("12", "24", "36", "60", "250", "0"))
    elif pipeline == "events":
        name = f"{appeal} {year} – tickets"
        amount = str(10 * (1 + _rr(rr, 20)))
    else:
        name = f"{appeal} {year}" if rr() < 0.8 else f"donation {year}"
        amount = f"{_rr(rr, 1, 2000)}.{_pick(rr, ('00', '50', '99'))}"
    if rr() < 0.03:
        amount = None  # seen in real CRMs: a deal nobody priced
    close = _between(rr, created, modified + 60 * DAY)
    amt = float(amount) if amount else 0.0
    return {
        "dealname": name,
        "amount": amount,
        "closedate": iso_ms(close) if rr() < 0.95 else None,
        "pipeline": pipeline,
        "dealstage": stage_id,
        "dealtype": _opt(rr, 0.4, _pick(rr, ("newbusiness", "existingbusiness"))),
        "description": _opt(rr, 0.2, f"{dtype.replace('_', ' ')} via {appeal}"),
        "hubspot_owner_id": _opt(rr, 0.8, _pick(rr, hs.OWNER_IDS)),
        "hs_priority": _opt(rr, 0.3, _pick(rr, hs.PRIORITIES)),
        "hs_forecast_probability": None,
        "hs_is_closed": "true" if closed else "false",
        "hs_is_closed_won": "true" if won else "false",
        "hs_deal_stage_probability": prob,
        "hs_closed_amount": f"{amt:.2f}" if won else "0",
        "hs_projected_amount": f"{amt * float(prob):.2f}",
        "hs_analytics_source": _opt(rr, 0.5, _pick(rr, hs.SOURCES)),
        "days_to_close": str(max(0, (close - created) // DAY)),
        "closed_lost_reason": "Direct debit cancelled" if closed and not won and
        rr() < 0.5 else None,
        "closed_won_reason": None,
        "deal_currency_code": "GBP" if rr() < 0.85 else _pick(rr, hs.CURRENCIES),
        **_record_meta(rr, "deals", d, created, modified, imported=0.3),
        "donation_type": dtype,
        "gift_aid_eligible": ("true" if rr() < 0.5 else "false")
        if pipeline == "default" else None,
        "payment_method": _opt(rr, 0.8, _pick(rr, hs.PAYMENT_METHODS)),
        "campaign_code": _opt(rr, 0.5, f"{appeal[:3].upper()}{year[2:]}"),
        "event_name": f"{appeal} {year}" if pipeline == "events" else None,
        "ticket_quantity": str(1 + _rr(rr, 6)) if pipeline == "events" else None,
        "payment_reference": _opt(rr, 0.6, f"PAY-{_rr(rr, 16**8):08X}"),
        "received_date_text": _opt(rr, 0.3, messy_date(rr, int(year), 1 + _rr(rr, 12),
                                                      1 + _rr(rr, 28))),
        "fund_designation": _opt(rr, 0.5, _pick(rr, hs.FUNDS)),
    }


def note(ds: Dataset, n: int) -> Props:
    """Every property of note ``n``."""
    st = ds.stores["notes"]
    rr = random.Random(st.hash(n)).random
    created, modified = st.created_ms(n), st.modified_ms(n)
    topic = _pick(rr, NOTE_TOPICS)
    extra = _pick(rr, ("", " Follow up next week.", " Très bien.", " See attached.",
                      " Spoke to 李 at reception.", " Needs a receipt & thank-you letter."))
    body = f"<p>{topic}.{extra}</p>" if rr() < 0.9 else f"{topic}{extra}"
    return {
        "hs_note_body": body,
        "hs_body_preview": f"{topic}.{extra}"[:100],
        "hs_timestamp": iso_ms(created),
        "hubspot_owner_id": _opt(rr, 0.9, _pick(rr, hs.OWNER_IDS)),
        "hs_attachment_ids": _opt(rr, 0.05, str(80000000 + _rr(rr, 10**6))),
        "hs_createdate": iso_ms(created),
        "hs_created_by": str(9100000 + _rr(rr, 8)),
        "hs_modified_by": _opt(rr, 0.3, str(9100000 + _rr(rr, 8))),
        "hs_engagement_source": _pick(rr, ("CRM_UI", "INTEGRATION", "IMPORT",
                                          "EMAIL_INTEGRATION")),
        "hs_object_source": _pick(rr, hs.OBJECT_SOURCES),
        "createdate": iso_ms(created),
        "hs_lastmodifieddate": iso_ms(modified),
        "hs_object_id": str(hs.ID_BASES["notes"] + n),
        "activity_type": _opt(rr, 0.7, _pick(rr, hs.ACTIVITY_TYPES)),
        "follow_up_required": "true" if rr() < 0.15 else "false",
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
