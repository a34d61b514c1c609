"""A labelled member register: persons with planted duplicates carrying real-world error patterns.

Member registers kept for years by volunteers hold the same person twice with: missing fields,
typos in every field (transposed, dropped, substituted and OCR-confused letters), nicknames
(Johannes → Hans, William → Bill), swapped first/last names, the tussenvoegsel moved
("de Vries" / "Vries, de"), swapped digits in postcodes, phone numbers and dates of birth (day
and month swapped too), a new e-mail domain, a move to a new address, and a second membership
number. Hard negatives are planted as well: households (same address, phone and surname,
other first names), a parent and child with the same name, and common names shared by
strangers. The set is deterministic for a seed; ``truth`` holds every duplicate pair (closed
over chains) so precision and recall can be measured.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from pathlib import Path

FIRST = ["Jan", "Johannes", "Pieter", "Cornelis", "Hendrik", "Willem", "Maria", "Johanna",
         "Anna", "Elisabeth", "Catharina", "Margaretha", "Sanne", "Lotte", "Daan", "Sem",
         "Thijs", "Bram", "Femke", "Ilse", "Emma", "Julia", "Sophie", "Noah", "Lucas", "Liam",
         "Robert", "William", "Thomas", "James", "Susan", "Margaret", "Katherine", "Patricia",
         "Jürgen", "Søren", "José", "Zoë", "Chloé", "Aisha", "Fatima", "Mohammed", "Priya",
         "Wei", "Sven", "Anneke", "Gerrit", "Dirk", "Marloes", "Yvonne", "Frederik", "Alexander",
         "Christina", "Theodora", "Nicolaas", "Jacobus", "Adriana", "Wilhelmina", "Gijsbert",
         "Bartholomeus", "Petronella", "Geertruida", "Hermanus", "Arnoldus", "Everardus"]
# (prefix, surname): Dutch surnames keep their tussenvoegsel apart.
LAST = [("", "Jansen"), ("de", "Vries"), ("van den", "Berg"), ("van", "Dijk"), ("", "Bakker"),
        ("", "Visser"), ("", "Smit"), ("", "Meijer"), ("de", "Boer"), ("", "Mulder"),
        ("de", "Groot"), ("", "Bos"), ("", "Vos"), ("", "Peters"), ("", "Hendriks"),
        ("van", "Leeuwen"), ("", "Dekker"), ("", "Brouwer"), ("de", "Wit"), ("", "Dijkstra"),
        ("", "Smits"), ("de", "Graaf"), ("van der", "Meer"), ("van der", "Linden"),
        ("", "Kok"), ("", "Jacobs"), ("de", "Haan"), ("", "Vermeulen"), ("van den", "Heuvel"),
        ("van der", "Veen"), ("van den", "Broek"), ("de", "Bruijn"), ("de", "Jong"),
        ("", "Schouten"), ("van", "Beek"), ("", "Willems"), ("van", "Vliet"), ("", "Hoekstra"),
        ("", "Maas"), ("", "Verhoeven"), ("", "Koster"), ("van", "Dam"), ("", "Prins"),
        ("", "Blom"), ("", "Huisman"), ("", "Smith"), ("", "Müller"), ("", "Schmidt"),
        ("", "Kowalski"), ("", "García"), ("", "Dubois"), ("", "Okafor"), ("", "Patel"),
        ("", "Nakamura"), ("", "Ångström"), ("", "O'Brien"), ("", "Korhonen"), ("", "Virtanen"),
        ("", "Timmermans"), ("", "Groenewegen"), ("", "Zwartkruis"), ("ter", "Horst")]
NICKNAMES = {"Johannes": ["Jan", "Hans", "Joop"], "Cornelis": ["Kees", "Cor"],
             "Hendrik": ["Henk", "Rik"], "Willem": ["Wim", "Pim"], "Maria": ["Marie", "Ria"],
             "Johanna": ["Anneke", "Jo", "Hanna"], "Elisabeth": ["Liesbeth", "Els", "Betty"],
             "Catharina": ["Karin", "Toos", "Trijntje"], "Margaretha": ["Greet", "Margriet"],
             "Robert": ["Bob", "Rob", "Bert"], "William": ["Bill", "Will", "Liam"],
             "Thomas": ["Tom"], "James": ["Jim", "Jamie"], "Susan": ["Sue", "Suzy"],
             "Margaret": ["Maggie", "Peggy", "Meg"], "Katherine": ["Kate", "Kathy"],
             "Patricia": ["Pat", "Trish"], "Pieter": ["Piet"], "Frederik": ["Frits", "Fred"],
             "Alexander": ["Alex", "Sander", "Lex"], "Christina": ["Tina", "Chris"],
             "Theodora": ["Dora", "Door"], "Nicolaas": ["Klaas", "Niek"],
             "Jacobus": ["Koos", "Jaap"], "Adriana": ["Jeanne", "Adrie"],
             "Wilhelmina": ["Mien", "Wil"], "Gijsbert": ["Gijs"],
             "Bartholomeus": ["Bart"], "Petronella": ["Nel", "Pietje"],
             "Geertruida": ["Truus", "Geert"], "Hermanus": ["Herman", "Manus"],
             "Arnoldus": ["Arnold", "Noud"], "Everardus": ["Evert"]}
STREETS = ["Kerkstraat", "Schoolstraat", "Molenweg", "Dorpsstraat", "Stationsweg",
           "Julianalaan", "Beatrixstraat", "Wilhelminastraat", "Nieuwstraat", "Marktplein",
           "Lindelaan", "Eikenlaan", "Parklaan", "Sportlaan", "Oranjestraat", "Hoofdstraat",
           "Burgemeester de Withstraat", "Prinses Irenestraat", "Van Goghlaan", "Zuiderweg"]
CITIES = ["Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Eindhoven", "Groningen", "Tilburg",
          "Almere", "Breda", "Nijmegen", "Apeldoorn", "Haarlem", "Arnhem", "Zaandam",
          "Amersfoort", "Leeuwarden", "'s-Hertogenbosch", "Zwolle", "Maastricht", "Delft"]
DOMAINS = ["gmail.com", "hotmail.com", "ziggo.nl", "kpnmail.nl", "outlook.com", "xs4all.nl",
           "planet.nl", "live.nl"]
_OCR = [("m", "rn"), ("rn", "m"), ("d", "cl"), ("w", "vv"), ("o", "0"), ("l", "1"), ("i", "l"),
        ("e", "c"), ("s", "5"), ("b", "h"), ("u", "v"), ("n", "h")]
_KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"


@dataclass
class Member:
    """One row of the register (all values as typed)."""

    first: str
    prefix: str
    last: str
    email: str
    phone: str
    street: str
    postcode: str
    city: str
    birth: str           # dd-mm-yyyy, as Dutch registers write it
    number: str          # membership number (Lidnummer)
    truth: int = field(default=-1, compare=False)
    """Index of the real person this row is (for labelling)."""


# ------------------------------------------------------------------------- error patterns
def typo(rnd: random.Random, text: str) -> str:
    """One typing or OCR error: transposition, deletion, insertion, substitution, OCR."""
    if len(text) < 3:
        return text
    k = rnd.randrange(1, len(text) - 1)
    op = rnd.randrange(5)
    if op == 0:
        return text[:k] + text[k + 1] + text[k] + text[k + 2:]
    if op == 1:
        return text[:k] + text[k + 1:]
    if op == 2:
        return text[:k] + text[k] + text[k:]                      # doubled letter
    if op == 3:
        return text[:k] + rnd.choice(_KEYBOARD) + text[k + 1:]
    lower = text.lower()
    options = [(a, b) for a, b in _OCR if a in lower[1:]]
    if not options:
        return text[:k] + text[k + 1] + text[k] + text[k + 2:]
    a, b = rnd.choice(options)
    at = lower.index(a, 1)
    return text[:at] + b + text[at + len(a):]


def swap_digits(rnd: random.Random, text: str) -> str:
    """Two adjacent digits swapped (3512 → 3152), the commonest keying error in numbers."""
    spots = [i for i in range(len(text) - 1) if text[i].isdigit() and text[i + 1].isdigit()
             and text[i] != text[i + 1]]
    if not spots:
        return text
    i = rnd.choice(spots)
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def _birth_error(rnd: random.Random, birth: str) -> str:
    if birth.count("-") != 2:
        return swap_digits(rnd, birth)
    day, month, year = birth.split("-")
    kind = rnd.randrange(4)
    if kind == 0 and int(day) <= 12 and day != month:
        return f"{month}-{day}-{year}"                             # day and month swapped
    if kind == 1:
        return f"{day}-{month}-{swap_digits(rnd, year)}"
    if kind == 2:
        return f"{int(day)}/{int(month)}/{year}"                   # other notation, same date
    return swap_digits(rnd, birth)


def _postcode_error(rnd: random.Random, postcode: str) -> str:
    kind = rnd.randrange(3)
    if kind == 0:
        return swap_digits(rnd, postcode)
    if kind == 1:
        return postcode.replace(" ", "").lower()
    return postcode[:-1] + rnd.choice("ABCDEFGHJKLMNPRSTVWXZ")


def _phone_error(rnd: random.Random, phone: str) -> str:
    kind = rnd.randrange(3)
    digits = "".join(c for c in phone if c.isdigit())
    if kind == 0:
        return swap_digits(rnd, phone)
    if kind == 1:   # +31 6 12345678 written nationally
        return "0" + digits[2:] if digits.startswith("31") else phone
    return f"{digits[:2]} {digits[2:5]} {digits[5:]}"


def _street_error(rnd: random.Random, street: str) -> str:
    name, _, number = street.rpartition(" ")
    kind = rnd.randrange(3)
    if kind == 0 and name.endswith("straat"):
        return f"{name[:-6]}str. {number}"
    if kind == 1:
        return f"{typo(rnd, name)} {number}"
    return f"{name} {number}{rnd.choice(['a', '-1', ' bis', ''])}"


def corrupt(rnd: random.Random, m: Member) -> Member:
    """A second registration of ``m`` with one to four real-world errors."""
    d = Member(**{k: getattr(m, k) for k in ("first", "prefix", "last", "email", "phone",
                                             "street", "postcode", "city", "birth", "number")},
               truth=m.truth)
    kinds = rnd.sample(range(13), rnd.choice((1, 2, 2, 3, 3, 4)))
    for kind in kinds:
        if kind == 0:
            d.first = typo(rnd, d.first)
        elif kind == 1:
            d.last = typo(rnd, d.last)
        elif kind == 2 and d.first in NICKNAMES:
            d.first = rnd.choice(NICKNAMES[d.first])
        elif kind == 2:
            d.first = d.first[0] + "."                               # initial only
        elif kind == 3:
            d.first, d.last, d.prefix = (f"{d.prefix} {d.last}".strip(), d.first, "")
        elif kind == 4 and d.prefix:
            d.last, d.prefix = f"{d.last}, {d.prefix}", ""           # "Vries, de"
        elif kind == 4:
            d.last = d.last.upper()
        elif kind == 5 and d.email:
            local, _, _domain = d.email.partition("@")
            d.email = (f"{local}@{rnd.choice(DOMAINS)}" if rnd.random() < 0.5
                       else f"{typo(rnd, local)}@{_domain}")
        elif kind == 6 and d.phone:
            d.phone = _phone_error(rnd, d.phone)
        elif kind == 7 and d.postcode:
            d.postcode = _postcode_error(rnd, d.postcode)
        elif kind == 8 and d.birth:
            d.birth = _birth_error(rnd, d.birth)
        elif kind == 9 and d.street:
            d.street = _street_error(rnd, d.street)
        elif kind == 10:
            d.city = typo(rnd, d.city) if rnd.random() < 0.6 else d.city.upper()
        elif kind == 11:
            for name in rnd.sample(["email", "phone", "street", "postcode", "city", "birth",
                                    "number"], rnd.randrange(1, 4)):
                setattr(d, name, "")
        elif kind == 12:
            d.number = (swap_digits(rnd, d.number) if rnd.random() < 0.3 else
                        str(rnd.randrange(100000, 999999)))          # registered twice
    if rnd.random() < 0.7:   # a second registration usually gets a number of its own
        d.number = str(rnd.randrange(100000, 999999))
    return d


# ------------------------------------------------------------------------------ the register
def _fresh(rnd: random.Random, idx: int) -> Member:
    first = rnd.choice(FIRST)
    prefix, last = rnd.choice(LAST)
    local = f"{first[0]}.{prefix.replace(' ', '')}{last}".lower()
    local = "".join(c for c in local if c.isascii() and (c.isalnum() or c == "."))
    house = rnd.randrange(1, 250)
    return Member(
        first=first, prefix=prefix, last=last,
        email=f"{local}{rnd.randrange(1000)}@{rnd.choice(DOMAINS)}" if rnd.random() < 0.8
        else "",
        phone=(f"+31 6 {rnd.randrange(10**7, 10**8)}" if rnd.random() < 0.5 else
               f"0{rnd.randrange(10, 80)}-{rnd.randrange(10**6, 10**7)}") if rnd.random() < 0.75
        else "",
        street=f"{rnd.choice(STREETS)} {house}" if rnd.random() < 0.9 else "",
        postcode=f"{rnd.randrange(1000, 9999)} {rnd.choice('ABCDEGHJKLMNPRSTVWXZ')}"
                 f"{rnd.choice('ABCDEGHJKLMNPRSTVWXZ')}" if rnd.random() < 0.9 else "",
        city=rnd.choice(CITIES),
        birth=f"{rnd.randrange(1, 29):02d}-{rnd.randrange(1, 13):02d}-"
              f"{rnd.randrange(1930, 2008)}" if rnd.random() < 0.7 else "",
        number=str(100000 + idx * 7 % 900000), truth=idx)


def _generation(rnd: random.Random, year: int) -> int:
    """The birth year of a parent or child of someone born in ``year``."""
    gap = rnd.randrange(22, 40)
    return year + gap if year + gap <= 2010 else year - gap


def _relative(rnd: random.Random, m: Member, idx: int) -> Member:
    """A household member or a child with the parent's name: a true non-duplicate."""
    r = _fresh(rnd, idx)
    r.prefix, r.last, r.street, r.postcode, r.city = m.prefix, m.last, m.street, m.postcode, \
        m.city
    if rnd.random() < 0.5:
        r.phone = m.phone
    if rnd.random() < 0.15 and m.email:
        r.email = m.email                                            # the family's address
    if rnd.random() < 0.15 and m.birth:
        r.first = m.first                                            # Jr / Sr
        r.birth = f"{rnd.randrange(1, 29):02d}-{rnd.randrange(1, 13):02d}-" \
                  f"{_generation(rnd, int(m.birth[-4:]))}"
    elif r.first == m.first:
        r.first = next(f for f in FIRST if f != m.first)
    return r


@dataclass
class Register:
    """The generated rows and the true duplicate pairs (indexes into ``rows``)."""

    rows: list[Member]
    truth: set[frozenset[int]]


def generate(n: int, *, seed: int = 14, duplicates: float = 0.08,
             relatives: float = 0.06) -> Register:
    """``n`` rows: about ``duplicates`` of them second registrations, ``relatives`` households."""
    rnd = random.Random(seed)
    rows: list[Member] = []
    for i in range(n):
        roll = rnd.random()
        if rows and roll < duplicates:
            original = rows[rnd.randrange(len(rows))]
            dup = corrupt(rnd, original)
            rows.append(dup)
        elif rows and roll < duplicates + relatives:
            rows.append(_relative(rnd, rows[rnd.randrange(len(rows))], i))
        else:
            rows.append(_fresh(rnd, i))
    groups: dict[int, list[int]] = {}
    for i, m in enumerate(rows):
        groups.setdefault(m.truth, []).append(i)
    truth = {frozenset((a, b)) for g in groups.values() for x, a in enumerate(g)
             for b in g[x + 1:]}
    return Register(rows, truth)


def full_last(m: Member) -> str:
    """The surname with its tussenvoegsel, as one field (``de Vries``)."""
    return f"{m.prefix} {m.last}".strip()


MEMBER_HEADER = ("Lidnummer", "Voornaam", "Tussenvoegsel", "Achternaam", "Straat",
                 "Huisnummer", "Postcode", "Woonplaats", "Telefoonnummer", "E-mailadres",
                 "Geboortedatum", "Lid sinds", "Soort lidmaatschap", "Status")
GIFT_HEADER = ("Giftnummer", "Lidnummer", "Datum", "Bedrag", "Omschrijving")


def member_id(index: int) -> str:
    """The Lidnummer of row ``index`` of the dump (each registration gets its own)."""
    return str(200000 + index)


def write_dump(folder: Path, reg: Register, *, seed: int = 14, encoding: str = "cp1252",
               delimiter: str = ";") -> dict[str, int]:
    """A Dutch vendor's dump of the register: ``leden.csv`` and ``giften.csv`` (Excel style:
    cp1252, semicolons, decimal commas, dd-mm-yyyy dates). Returns the row counts."""
    rnd = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    gifts = 0
    with (folder / "leden.csv").open("w", encoding=encoding, newline="") as fh, \
            (folder / "giften.csv").open("w", encoding=encoding, newline="") as gh:
        members = csv.writer(fh, delimiter=delimiter, lineterminator="\r\n")
        giften = csv.writer(gh, delimiter=delimiter, lineterminator="\r\n")
        members.writerow(MEMBER_HEADER)
        giften.writerow(GIFT_HEADER)
        for i, m in enumerate(reg.rows):
            street, _, house = m.street.partition(" ")
            if m.street and not house[:1].isdigit():
                street, _, house = m.street.rpartition(" ")
            joined = f"{rnd.randrange(1, 29):02d}-{rnd.randrange(1, 13):02d}-" \
                     f"{rnd.randrange(1975, 2025)}"
            members.writerow((member_id(i), m.first, m.prefix, m.last, street, house,
                              m.postcode, m.city, m.phone, m.email, m.birth, joined,
                              rnd.choice(("Gewoon lid", "Jeugdlid", "Ereleden", "Gezinslid")),
                              rnd.choice(("Actief",) * 8 + ("Opgezegd", "Overleden"))))
            for _ in range(rnd.choice((0, 0, 1, 1, 2, 3))):
                gifts += 1
                giften.writerow((f"G{gifts:06d}", member_id(i),
                                 f"{rnd.randrange(1, 29):02d}-{rnd.randrange(1, 13):02d}-"
                                 f"{rnd.randrange(2015, 2026)}",
                                 f"{rnd.randrange(5, 500)},{rnd.choice(('00', '50', '25'))}",
                                 rnd.choice(("Jaarlijkse gift", "Collecte", "Extra gift"))))
    return {"leden": len(reg.rows), "giften": gifts}
