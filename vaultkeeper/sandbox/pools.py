"""Word pools and "dirt" helpers for the generated membership-organisation data."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from importlib import resources

FIRST_NAMES = (
    "James", "Mary", "Oliver", "Amelia", "Zoë", "Chloé", "Łukasz", "Søren", "José", "Siobhán",
    "François", "Björn", "Ingrid", "Mohammed", "Aisha", "Priya", "Raj", "Wei", "Mei", "Hiroshi",
    "Yuki", "Olumide", "Chidi", "Fatima", "Ángel", "Núria", "Dmitri", "Анна", "Jürgen", "Émilie",
    "Noah", "Emma", "Liam", "Sophia", "Lucas", "Mia", "Ethan", "Isla", "Jack", "Grace", "Harry",
    "Freya", "Thomas", "Ava", "William", "Ella", "Daniel", "Niamh", "Seán", "Ciarán", "Åsa",
    "Pål", "Renée", "Zoltán", "Ágnes", "Małgorzata", "Dorothée", "Margaret", "Peter", "Susan",
    "David", "Helen", "Robert", "Linda", "Ahmed", "Leila", "Kwame", "Ama", "Sione", "Aroha",
)
LAST_NAMES = (
    "Smith", "Jones", "Williams", "Brown", "Taylor", "Davies", "Evans", "Wilson", "Thomas",
    "Roberts", "Müller", "Schmidt", "Ångström", "van der Berg", "de la Cruz", "O'Brien",
    "McDonald", "Nguyễn", "李", "王", "Kowalski", "Wiśniewski", "Łukasiewicz", "García",
    "Fernández", "Øvergaard", "Dubois", "Lefèvre", "Johansson", "Nakamura", "Okafor", "Adeyemi",
    "Patel", "Singh", "Khan", "Hernández", "Björk", "St. John", "Smith-Jones", "da Silva",
    "Van Dyke", "MacLeod", "Ó Briain", "Schröder", "Ferreira", "Rossi", "Bianchi", "Kim", "Park",
    "Cohen", "Levi", "Novák", "Dvořák", "Hughes", "Green", "Hall", "Clarke", "Wright", "Walker",
    "Robinson", "Thompson", "White", "Edwards", "Hughes-Ward", "D'Souza", "Ní Bhriain", "Иванова",
)
_TRANSLIT = {"李": "li", "王": "wang", "Анна": "anna", "Иванова": "ivanova"}
_FOLD = str.maketrans({"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "ß": "ss", "Æ": "AE", "æ": "ae",
                       "Đ": "D", "đ": "d", "Þ": "Th", "þ": "th"})


def ascii_fold(text: str) -> str:
    """``Zoë Ångström`` → ``Zoe Angstrom`` (accents removed, a few letters transliterated)."""
    if text in _TRANSLIT:
        return _TRANSLIT[text]
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def slug(text: str) -> str:
    """E-mail local part of a name: ``van der Berg`` → ``vanderberg``."""
    return "".join(c for c in ascii_fold(text).lower() if c.isalnum()) or "x"


FIRST_ASCII = {n: ascii_fold(n) for n in FIRST_NAMES}
LAST_ASCII = {n: ascii_fold(n) for n in LAST_NAMES}
FIRST_SLUG = {n: slug(n) for n in FIRST_NAMES}
LAST_SLUG = {n: slug(n) for n in LAST_NAMES}

# city, state/region, postcode, country, ISO code, phone country code, time zone (a data file,
# like a table: package data beside this module).
PLACES: tuple[tuple[str, str, str, str, str, str, str], ...] = tuple(
    tuple(place) for place in json.loads(
        resources.files("vaultkeeper.sandbox").joinpath("places.json").read_text(encoding="utf-8"))["places"])
# The same country written the ways people type it into a free-text field.
COUNTRY_VARIANTS = {
    "United Kingdom": ("United Kingdom", "UK", "U.K.", "GB", "England", "united kingdom ",
                       "Great Britain"),
    "United States": ("United States", "USA", "US", "U.S.A.", "United States of America"),
    "Germany": ("Germany", "Deutschland", "DE"),
    "Netherlands": ("Netherlands", "The Netherlands", "Holland", "NL"),
}
STREETS = ("High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue",
           "Hauptstraße", "Rue de la Paix", "Kerkstraat", "ul. Floriańska", "Storgatan",
           "King's Road", "Victoria Street", "Main St.", "Bahnhofstrasse", "Elm Grove")
PERSONAL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.co.uk", "btinternet.com", "web.de",
                    "orange.fr", "protonmail.com", "icloud.com", "hotmail.com", "gmx.de")
JOB_TITLES = ("Teacher", "Retired", "Nurse", "Software Engineer", "Student", "Accountant",
              "Head of Fundraising", "Volunteer Coordinator", "Director", "Trustee", "Chef",
              "Librarian", "Consultant", "Project Manager", "Lecturer", "Student ",
              "CEO", "Headteacher", "Pharmacist", "Architect")
ORG_STEMS = ("Riverside", "Northfield", "St Mary's", "Greenway", "Oakwood", "Harbour",
             "Lumière", "Brightstar", "Hillcrest", "Kingsgate", "Elm Tree", "Ångström",
             "Meadowbank", "Westgate", "Sunrise", "Müller", "Łąka", "Sankt Georg", "Fairfield",
             "Willowbrook", "Ashford", "Bluebell", "Heron", "Thistle", "Cedar")
ORG_KINDS = {
    "charity": ("Community Trust", "Foundation", "Association", "Society", "Network",
                "Collective", "Charitable Trust"),
    "school": ("Primary School", "Academy", "College", "University", "Grammar School",
               "Gymnasium"),
    "company": ("Ltd", "plc", "GmbH", "LLP", "& Co", "Bank", "Solutions Ltd", "SARL"),
    "public_body": ("Borough Council", "City Council", "NHS Trust", "Library Service"),
    "community_group": ("Residents' Association", "Allotment Society", "Choir", "Rotary Club"),
    "faith_group": ("Parish Church", "Mosque", "Synagogue", "Gurdwara", "Quaker Meeting"),
    "sponsor": ("Brewery Ltd", "Building Society", "Insurance plc", "Energy Ltd"),
}
ORG_TYPES = tuple(ORG_KINDS)
INDUSTRIES = ("NON_PROFIT_ORGANIZATION_MANAGEMENT", "EDUCATION_MANAGEMENT",
              "PRIMARY_SECONDARY_EDUCATION",
              "HIGHER_EDUCATION", "GOVERNMENT_ADMINISTRATION", "BANKING", "RETAIL",
              "HOSPITAL_HEALTH_CARE", "RELIGIOUS_INSTITUTIONS", "FOOD_BEVERAGES",
              "INFORMATION_TECHNOLOGY_AND_SERVICES", "PHILANTHROPY")
DIETARY = ("vegetarian", "Vegan", "no nuts!!", "gluten free", "Halal", "kosher", "none", "n/a",
           "Coeliac – strictly no gluten", "lactose intolerant", "pescatarian")
NOTE_TOPICS = (
    "Called about membership renewal", "Thank-you call for donation", "Met at the summer fête",
    "Asked to be removed from the newsletter", "Gift Aid form received", "Complaint about event "
    "parking", "Offered to volunteer on Saturdays", "Left voicemail", "Sent information pack",
    "Discussed legacy giving", "Updated address after move", "Rückruf erbeten", "Rappel prévu",
)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def messy_date(rnd: Callable[[], float], y: int, m: int, d: int) -> str:
    """A date the way people type it into a free-text field (format varies per record)."""
    k = rnd()
    if k < 0.25:
        return f"{y:04d}-{m:02d}-{d:02d}"
    if k < 0.45:
        return f"{d:02d}/{m:02d}/{y:04d}"
    if k < 0.55:
        return f"{m}/{d}/{y % 100:02d}"
    if k < 0.65:
        return f"{d}.{m}.{y}"
    if k < 0.75:
        suffix = "th" if 10 <= d % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th")
        return f"{d}{suffix} {MONTHS[m - 1]} {y}"
    if k < 0.85:
        return f"{MONTHS[m - 1][:3]} {y}"
    if k < 0.93:
        return f"{d} {MONTHS[m - 1]} {y}"
    return f"{y}"


def messy_phone(rnd: Callable[[], float], cc: str) -> str:
    """A phone number in one of the formats found in real CRMs."""
    a, b, c = 100 + int(rnd() * 900), 100 + int(rnd() * 900), 1000 + int(rnd() * 9000)
    k = rnd()
    if k < 0.3:
        return f"+{cc} {a} {b} {c}"
    if k < 0.45:
        return f"0{a} {b}{c}"
    if k < 0.6:
        return f"({a}) {b}-{c}"
    if k < 0.7:
        return f"{a}.{b}.{c}"
    if k < 0.8:
        return f"+{cc} (0){a} {b}{c}"
    if k < 0.9:
        return f"00{cc}{a}{b}{c}"
    return f"0{a}{b}{c} ext. {10 + int(rnd() * 89)}"


def dirty_email(rnd: Callable[[], float], local: str, domain: str) -> str:
    """One of the invalid e-mail shapes that CRMs accumulate."""
    k = int(rnd() * 7)
    return (f"{local}@@{domain}", f"{local} at {domain}", f"{local}@{domain.split('.')[0]}",
            f" {local}@{domain} ", f"mailto:{local}@{domain}", f"{local}@{domain}.",
            f"{local}.@{domain};{local}2@{domain}")[k]
