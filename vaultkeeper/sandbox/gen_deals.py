"""Record generators for HubSpot deals and notes (see gen_hubspot for contacts and companies)."""

from __future__ import annotations

import random

from vaultkeeper.sandbox import hs_schema as hs
from vaultkeeper.sandbox.data import Dataset, attachment_id, iso_date, iso_ms
from vaultkeeper.sandbox.gen_common import (
    DAY,
    Props,
    Rnd,
    between,
    opt,
    pick,
    record_meta,
    rrange,
)
from vaultkeeper.sandbox.pools import NOTE_TOPICS, messy_date

_DEAL_KIND = (("default", "one_off"), ("default", "regular"), ("default", "in_memory"),
              ("default", "legacy"), ("default", "sponsorship"),
              ("memberships", "membership_fee"), ("events", "event_ticket"))
_APPEALS = ("Spring Appeal", "Christmas Appeal", "Summer Gala", "Sponsored Walk", "Quiz Night",
            "Building Fund", "Emergency Appeal", "Annual Dinner", "Fun Run", "Concert")


def deal(ds: Dataset, d: int) -> Props:
    """Every property of deal ``d``."""
    st = ds.stores["deals"]
    rr = random.Random(st.hash(d)).random
    pipeline, dtype = pick(rr, _DEAL_KIND)
    stages = next(p[2] for p in hs.DEAL_PIPELINES if p[0] == pipeline)
    stage_id, _label, prob, closed = pick(rr, stages)
    won = closed and float(prob) == 1.0
    created, modified = st.created_ms(d), st.generated_modified_ms(d)
    year = iso_date(created)[:4]
    appeal = pick(rr, _APPEALS)
    amount: str | None
    if pipeline == "memberships":
        name = f"Membership {year}"
        amount = pick(rr, ("12", "24", "36", "60", "250", "0"))
    elif pipeline == "events":
        name = f"{appeal} {year} – tickets"
        amount = str(10 * (1 + rrange(rr, 20)))
    else:
        name = f"{appeal} {year}" if rr() < 0.8 else f"donation {year}"
        amount = f"{rrange(rr, 1, 2000)}.{pick(rr, ('00', '50', '99'))}"
    if rr() < 0.03:
        amount = None  # seen in real CRMs: a deal nobody priced
    close = between(rr, created, modified + 60 * DAY)
    amt = float(amount) if amount else 0.0
    return {
        "dealname": name,
        "amount": amount,
        "closedate": iso_ms(close) if rr() < 0.95 else None,
        "pipeline": pipeline,
        "dealstage": stage_id,
        "dealtype": opt(rr, 0.4, pick(rr, ("newbusiness", "existingbusiness"))),
        "description": opt(rr, 0.2, f"{dtype.replace('_', ' ')} via {appeal}"),
        "hubspot_owner_id": opt(rr, 0.8, pick(rr, hs.OWNER_IDS)),
        "hs_priority": opt(rr, 0.3, pick(rr, hs.PRIORITIES)),
        "hs_forecast_probability": None,
        "hs_is_closed": "true" if closed else "false",
        "hs_is_closed_won": "true" if won else "false",
        "hs_deal_stage_probability": prob,
        "hs_closed_amount": f"{amt:.2f}" if won else "0",
        "hs_projected_amount": f"{amt * float(prob):.2f}",
        "hs_analytics_source": opt(rr, 0.5, pick(rr, hs.SOURCES)),
        "days_to_close": str(max(0, (close - created) // DAY)),
        "closed_lost_reason": "Direct debit cancelled" if closed and not won and
        rr() < 0.5 else None,
        "closed_won_reason": None,
        "deal_currency_code": "GBP" if rr() < 0.85 else pick(rr, hs.CURRENCIES),
        **record_meta(rr, "deals", d, created, modified, imported=0.3),
        "hs_lastmodifieddate": iso_ms(st.modified_ms(d)),
        "donation_type": dtype,
        "gift_aid_eligible": ("true" if rr() < 0.5 else "false")
        if pipeline == "default" else None,
        "payment_method": opt(rr, 0.8, pick(rr, hs.PAYMENT_METHODS)),
        "campaign_code": opt(rr, 0.5, f"{appeal[:3].upper()}{year[2:]}"),
        "event_name": f"{appeal} {year}" if pipeline == "events" else None,
        "ticket_quantity": str(1 + rrange(rr, 6)) if pipeline == "events" else None,
        "payment_reference": opt(rr, 0.6, f"PAY-{rrange(rr, 16**8):08X}"),
        "received_date_text": opt(rr, 0.3, messy_date(rr, int(year), 1 + rrange(rr, 12),
                                                      1 + rrange(rr, 28))),
        "fund_designation": opt(rr, 0.5, pick(rr, hs.FUNDS)),
    }


def _attachment(rr: Rnd, n: int) -> str:
    """The file id of note ``n`` (sandbox/files.py serves it); draws from ``rr`` as the old
    random id did, so every other property keeps its value."""
    rrange(rr, 10**6)
    return attachment_id(n)


def note(ds: Dataset, n: int) -> Props:
    """Every property of note ``n``."""
    st = ds.stores["notes"]
    rr = random.Random(st.hash(n)).random
    created = st.created_ms(n)
    topic = pick(rr, NOTE_TOPICS)
    extra = pick(rr, ("", " Follow up next week.", " Très bien.", " See attached.",
                      " Spoke to 李 at reception.", " Needs a receipt & thank-you letter."))
    body = f"<p>{topic}.{extra}</p>" if rr() < 0.9 else f"{topic}{extra}"
    return {
        "hs_note_body": body,
        "hs_body_preview": f"{topic}.{extra}"[:100],
        "hs_timestamp": iso_ms(created),
        "hubspot_owner_id": opt(rr, 0.9, pick(rr, hs.OWNER_IDS)),
        "hs_attachment_ids": opt(rr, 0.05, _attachment(rr, n)),
        "hs_createdate": iso_ms(created),
        "hs_created_by": str(9100000 + rrange(rr, 8)),
        "hs_modified_by": opt(rr, 0.3, str(9100000 + rrange(rr, 8))),
        "hs_engagement_source": pick(rr, ("CRM_UI", "INTEGRATION", "IMPORT",
                                          "EMAIL_INTEGRATION")),
        "hs_object_source": pick(rr, hs.OBJECT_SOURCES),
        "createdate": iso_ms(created),
        "hs_lastmodifieddate": iso_ms(st.modified_ms(n)),
        "hs_object_id": str(hs.ID_BASES["notes"] + n),
        "activity_type": opt(rr, 0.7, pick(rr, hs.ACTIVITY_TYPES)),
        "follow_up_required": "true" if rr() < 0.15 else "false",
    }
