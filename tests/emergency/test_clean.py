"""Unit tests of the cleaners: e-mail, phone, date."""

from __future__ import annotations

import pytest

from vaultkeeper.services.emergency.clean import check_date, check_email, check_phone, region_of
from vaultkeeper.services.emergency.dedupe import make_person, phone_key, score


@pytest.mark.parametrize(("raw", "status", "value"), [
    ("ann@example.org", "valid", "ann@example.org"),
    (" ann@example.org ", "fixed", "ann@example.org"),
    ("mailto:ann@example.org", "fixed", "ann@example.org"),
    ("ann@example.org.", "fixed", "ann@example.org"),
    ("ann@@example.org", "invalid", "ann@@example.org"),
    ("ann at example.org", "invalid", "ann at example.org"),
    ("ann@example", "invalid", "ann@example"),
    ("a.@example.org;b@example.org", "invalid", "a.@example.org;b@example.org"),
])
def test_email(raw, status, value):
    result = check_email(raw)
    assert (result.status, result.value) == (status, value)


@pytest.mark.parametrize(("raw", "region", "status", "value"), [
    ("+44 20 7946 0018", None, "normalised", "+442079460018"),
    ("020 7946 0018", "GB", "normalised", "+442079460018"),
    ("0044 20 7946 0018", "GB", "normalised", "+442079460018"),
    ("(617) 555-0123", "US", "normalised", "+16175550123"),
    ("+442079460018", "GB", "e164", "+442079460018"),
    ("020 7946 0018", None, "unparseable", "020 7946 0018"),
    ("12", "GB", "invalid", "12"),
])
def test_phone(raw, region, status, value):
    result = check_phone(raw, region)
    assert (result.status, result.value) == (status, value)


@pytest.mark.parametrize(("raw", "region", "status", "value"), [
    ("2010-03-04", None, "iso", "2010-03-04"),
    ("2010-03-04T10:00:00Z", None, "normalised", "2010-03-04"),
    ("25/12/2010", "GB", "normalised", "2010-12-25"),
    ("03/04/2010", "GB", "ambiguous", "2010-04-03"),
    ("03/04/2010", "US", "ambiguous", "2010-03-04"),
    ("04/04/2010", "GB", "normalised", "2010-04-04"),
    ("7.5.2012", "GB", "normalised", "2012-05-07"),
    ("12/25/99", "GB", "ambiguous", "1999-12-25"),
    ("1st March 2010", None, "normalised", "2010-03-01"),
    ("Mar 2010", None, "partial", "2010-03"),
    ("1987", None, "partial", "1987"),
    ("31/02/2010", "GB", "unparseable", "31/02/2010"),
    ("soon", None, "unparseable", "soon"),
])
def test_date(raw, region, status, value):
    result = check_date(raw, region)
    assert (result.status, result.value) == (status, value)


def test_region_of_typed_countries():
    assert region_of("U.K.", None) == "GB"
    assert region_of("Deutschland", "GB") == "DE"
    assert region_of("", "GB") == "GB"
    assert region_of("de", None) == "DE"
    assert region_of("UK", None) == region_of("uk ", None) == "GB"   # not a region "UK"


def _p(legacy, first, last, **kw):
    base = {"email": "", "phones": [], "street": "", "postcode": "", "city": "", "birth": ""}
    return make_person(legacy, first=first, last=last, **(base | kw))


def test_scores_and_reasons():
    a = _p("1", "Zoë", "Ångström", phones=["+44 20 7946 0018"], postcode="SW1A 1AA")
    b = _p("2", "Zoe", "ANGSTROM", phones=["020 7946 0018"], postcode="SW1A1AA")
    value, reason = score(a, b)
    assert value >= 0.8 and "same phone" in reason
    swapped = score(_p("3", "Smith", "Jane", email="jane@x.org"),
                    _p("4", "Jane", "Smith", email="jane@y.org"))
    assert swapped[0] >= 0.6 and "other domain" in swapped[1]
    household = score(_p("5", "Mary", "Jones", street="1 High St", postcode="AB1 2CD"),
                      _p("6", "Peter", "Jones", street="1 High St", postcode="AB1 2CD"))
    assert household[0] < 0.6 and "household" in household[1]
    assert phone_key("0157 6161805 ext. 12") == phone_key("+44 157 6161805")
    # E.164 as cleaning writes it (the fast path), with an extension, and as typed
    assert phone_key("+441576161805") == phone_key("+441576161805;ext=12") == "576161805"
    assert phone_key("+44 157 616 1805 x 9") == "576161805"
    assert phone_key("+４４1576161805") == "576161805" and phone_key("+123456") == ""


def test_email_fast_path_agrees_with_email_validator():
    """The regex fast path never accepts what email-validator would refuse (and vice versa)."""
    from email_validator import EmailNotValidError, validate_email

    from vaultkeeper.sandbox import gen_hubspot, register
    from vaultkeeper.sandbox.data import Dataset
    from vaultkeeper.services.emergency import clean

    ds = Dataset(2000, seed=1)
    emails = [m.email for m in register.generate(3000, seed=1).rows if m.email]
    emails += [gen_hubspot.contact(ds, i).get("email") or "" for i in range(2000)]
    emails += ["a..b@x.com", ".a@x.com", "a.@x.com", "a@x", "a@-x.com", "a@x-.com", "a@x.c",
               "a@x.123", "a@localhost", "x@y.test", "a b@x.com", "A+tag@Example.COM",
               "o'brien@x.ie", "a@" + "x" * 64 + ".com", "x@y.onion"]
    for address in emails:
        clean._validate.cache_clear()
        try:
            validate_email(address, check_deliverability=False)
            expected = True
        except EmailNotValidError:
            expected = False
        assert (clean._validate(address) is not None) == expected, address


@pytest.mark.parametrize("raw, value", [
    ("342,50", "342.50"), ("1.000,00", "1000.00"), ("1,000.00", "1000.00"), ("1 000", "1000"),
    ("€ 25", "25"), ("25,-", "25"), ("12.5", "12.5"), ("-3,75", "-3.75"), ("abc", "abc"),
    ("12-3", "12-3")])
def test_number(raw, value):
    from vaultkeeper.services.emergency.clean import check_number

    assert check_number(raw) == value


def test_phone_without_country_names_the_setting():
    """A national number with no region says which setting fixes it, not libphonenumber's
    'Missing or invalid default region'."""
    result = check_phone("06 1234 5678", None)
    assert result.status == "unparseable"
    assert "default_region" in result.reason and "Missing or invalid" not in result.reason
    assert "'ZZ' is not a known country code" in check_phone("06 1234 5678", "ZZ").reason
