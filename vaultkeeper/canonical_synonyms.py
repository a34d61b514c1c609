"""Column names vendors' CSV dumps use for the canonical fields, in our users' languages.

Dutch, English, French, German and Finnish headers (``Voornaam``, ``E-mailadres``,
``Code postal``, ``Sähköposti``, ``PLZ`` …) for each canonical field, and the words in file
names that tell which entity a file holds (``leden.csv`` → person). Names are compared by
``header_key``: accents removed, lower case, letters and digits only.
"""

from __future__ import annotations

import re
import unicodedata

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def header_key(name: str) -> str:
    """``E-mailadres`` → ``emailadres``, ``Sähköposti`` → ``sahkoposti``: comparable names."""
    plain = unicodedata.normalize("NFKD", name.replace("ß", "ss"))
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    return _NON_ALNUM.sub("", plain)


def _keys(text: str) -> tuple[str, ...]:
    return tuple(header_key(w) for w in text.split("|"))


# entity → field → exact header names (after header_key), most specific first.
_RAW: dict[str, dict[str, str]] = {
    "person": {
        "first_name": "first name|firstname|given name|forename|first|voornaam|voornamen|"
                      "roepnaam|prenom|prénom|vorname|etunimi|etunimet|nombre",
        "last_name": "last name|lastname|surname|family name|achternaam|familienaam|"
                     "geslachtsnaam|nom|nom de famille|nachname|familienname|sukunimi|"
                     "apellido|apellidos|name",
        "salutation": "salutation|title|aanhef|titel|civilite|civilité|anrede|titteli|"
                      "geslacht|gender|sexe|geschlecht|sukupuoli",
        "email": "email|e-mail|email address|e-mail address|emailadres|e-mailadres|"
                 "mailadres|courriel|adresse email|adresse e-mail|mel|e-mail-adresse|"
                 "emailadresse|sahkoposti|sähköposti|sähköpostiosoite|correo",
        "phone": "phone|telephone|phone number|tel|telefoon|telefoonnummer|telefoonnr|"
                 "tel nr|telnr|vaste telefoon|téléphone|telephone fixe|telefon|"
                 "telefonnummer|puhelin|puhelinnumero",
        "mobile": "mobile|mobile phone|mobile number|cell|cellphone|mobiel|mobiel nummer|"
                  "mobielnummer|gsm|06|portable|téléphone portable|handy|mobiltelefon|"
                  "matkapuhelin|kannykka|kännykkä",
        "street": "street|address|street address|address line 1|address1|straat|adres|"
                  "straatnaam|straat en huisnummer|adresse|rue|strasse|straße|"
                  "strasse und hausnummer|katuosoite|osoite|lahiosoite|lähiosoite",
        "city": "city|town|woonplaats|plaats|stad|ville|commune|localite|localité|ort|"
                "wohnort|stadt|postitoimipaikka|kaupunki|paikkakunta",
        "region": "state|county|region|province|provincie|département|departement|"
                  "bundesland|maakunta",
        "postcode": "postcode|postal code|zip|zip code|postcode en plaats|code postal|cp|"
                    "plz|postleitzahl|postinumero",
        "country": "country|land|pays|staat|maa|nationality",
        "birth_date": "birth date|birthdate|date of birth|dob|birthday|geboortedatum|"
                      "geb datum|geboren|date de naissance|naissance|geburtsdatum|"
                      "geboren am|syntymaaika|syntymäaika|syntymapaiva|syntymäpäivä",
        "reference": "membership number|member number|member id|customer number|"
                     "lidnummer|lidnr|relatienummer|relatienr|klantnummer|donateurnummer|"
                     "numero adherent|numéro d'adhérent|numero de membre|"
                     "mitgliedsnummer|kundennummer|jasennumero|jäsennumero|asiakasnumero",
        "job_title": "job title|position|functie|fonction|poste|beruf|position|titel|"
                     "ammatti|tehtava|tehtävä",
        "email_opt_out": "email opt out|unsubscribed|geen email|geen mailing|"
                         "afgemeld nieuwsbrief|opt out|desabonne|désabonné|abgemeldet",
        "created_at": "created|created at|created date|date created|aangemaakt|"
                      "aanmaakdatum|date de creation|erstellt|luotu",
        "updated_at": "updated|modified|last modified|updated at|gewijzigd|laatst gewijzigd|"
                      "modifie|geändert|geandert|muokattu",
        "organisation_id": "organisation id|organization id|company id|account id|"
                           "organisatie id|bedrijf id|organisatienummer",
    },
    "organisation": {
        "name": "name|company|company name|organisation|organization|account name|naam|"
                "bedrijfsnaam|organisatie|organisatienaam|raison sociale|nom|entreprise|"
                "firma|firmenname|unternehmen|nimi|yritys|yrityksen nimi",
        "domain": "domain|company domain|domein",
        "website": "website|web site|url|homepage|site web|site internet|webseite|"
                   "verkkosivu|kotisivu|internetadres",
        "phone": "phone|telephone|telefoon|telefoonnummer|téléphone|telefon|puhelin",
        "street": "street|address|adres|straat|adresse|rue|strasse|straße|osoite|katuosoite",
        "city": "city|town|plaats|vestigingsplaats|woonplaats|ville|ort|stadt|"
                "postitoimipaikka|kaupunki",
        "region": "state|region|provincie|département|bundesland|maakunta",
        "postcode": "postcode|postal code|zip|code postal|plz|postleitzahl|postinumero",
        "country": "country|land|pays|maa",
        "industry": "industry|sector|branche|secteur|toimiala",
        "type": "type|soort|categorie|category|kategorie|tyyppi",
    },
    "membership": {
        "number": "membership number|member number|lidnummer|lidnr|numero adherent|"
                  "mitgliedsnummer|jasennumero|jäsennumero",
        "level": "membership level|membership type|level|soort lidmaatschap|lidmaatschap|"
                 "type lidmaatschap|categorie|formule|type d'adhesion|mitgliedschaft|"
                 "mitgliedsart|jasenlaji|jäsenlaji|jasentyyppi",
        "status": "membership status|status|lidstatus|statut|mitgliedsstatus|tila",
        "start_date": "start date|member since|joined|date joined|lid sinds|ingangsdatum|"
                      "startdatum|datum lid|date d'adhesion|date d'adhésion|eintrittsdatum|"
                      "mitglied seit|liittymispaiva|liittymispäivä|jasen alkaen",
        "end_date": "end date|renewal date|expiry|einddatum|opzegdatum|uitschrijfdatum|"
                    "date de fin|austrittsdatum|erosi|paattymispaiva|päättymispäivä",
        "branch": "branch|chapter|afdeling|regio|section|ortsgruppe|osasto|yhdistys",
    },
    "donation": {
        "person_id": "contact id|donor id|person id|relatie id|donateur id",
        "name": "description|omschrijving|libelle|libellé|beschreibung|kuvaus|deal name",
        "amount": "amount|bedrag|gift|donation|montant|don|betrag|spende|summa|maara|määrä",
        "currency": "currency|valuta|devise|währung|wahrung|valuutta",
        "date": "date|datum|donation date|gift date|close date|giftdatum|betaaldatum|"
                "date du don|spendendatum|paivamaara|päivämäärä|pvm",
        "type": "type|soort|soort gift|type de don|spendenart|laji",
        "status": "status|stage|statut|tila",
        "campaign": "campaign|campagne|actie|kampagne|kampanja|appeal",
        "payment_method": "payment method|betaalwijze|betaalmethode|mode de paiement|"
                          "zahlungsart|maksutapa",
        "reference": "reference|kenmerk|betalingskenmerk|référence|verwendungszweck|viite",
        "fund": "fund|fonds|bestemming|doel|zweck|rahasto",
    },
    "activity": {
        "type": "type|soort|activity type|contact type|type d'activite|art|tyyppi",
        "subject": "subject|onderwerp|titel|objet|sujet|betreff|aihe|otsikko",
        "body": "note|notes|body|description|notitie|opmerking|opmerkingen|memo|toelichting|"
                "remarque|commentaire|notiz|bemerkung|huomautus|muistiinpano|kommentti",
        "date": "date|datum|activity date|contact date|date de contact|paivamaara|päivämäärä",
        "owner": "owner|medewerker|eigenaar|behandelaar|responsable|bearbeiter|omistaja",
    },
}

SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    entity: {name: _keys(text) for name, text in fields.items()}
    for entity, fields in _RAW.items()}

# Words in an object (file) name that say which entity it holds.
OBJECT_WORDS: dict[str, tuple[str, ...]] = {
    "person": ("leden", "lid", "members", "member", "contacts", "contact", "people", "persons",
               "personen", "persoon", "relaties", "relatie", "contacten", "donateurs",
               "adherents", "adhérents", "membres", "mitglieder", "kontakte", "personnes",
               "jasenet", "jäsenet", "henkilot", "henkilöt", "supporters", "donors",
               "constituents"),
    "organisation": ("organisaties", "organisatie", "bedrijven", "bedrijf", "companies",
                     "company", "accounts", "account", "organisations", "organizations",
                     "entreprises", "organismes", "firmen", "unternehmen", "organisationen",
                     "yritykset", "organisaatiot"),
    "membership": ("lidmaatschappen", "lidmaatschap", "memberships", "membership",
                   "adhesions", "adhésions", "mitgliedschaften", "jasenyydet", "jäsenyydet"),
    "donation": ("donaties", "donatie", "giften", "gift", "donations", "donation", "gifts",
                 "dons", "spenden", "lahjoitukset", "betalingen", "payments", "paiements",
                 "zahlungen", "opportunities", "deals", "transactions", "transacties"),
    "activity": ("notities", "notes", "activiteiten", "activities", "contactmomenten",
                 "taken", "tasks", "historique", "notizen", "aktivitaten", "aktivitäten",
                 "muistiinpanot", "tapahtumat"),
}

# Header names of columns that are a record's own id or point at another record.
ID_WORDS = _keys("id|record id|nummer|nr|number|no|code|lidnummer|lidnr|relatienummer|"
                 "relatienr|klantnummer|donateurnummer|numero|numéro|nummer|mitgliedsnummer|"
                 "kundennummer|jasennumero|jäsennumero|asiakasnumero|tunnus")
# The parts of a Dutch, German or French address line kept in separate columns.
HOUSE_NUMBER = _keys("huisnummer|huisnr|hnr|house number|housenumber|numero de rue|"
                     "hausnummer|hnr|talonnumero")
HOUSE_SUFFIX = _keys("toevoeging|huisnummertoevoeging|huisnummer toevoeging|toev|suffix|"
                     "zusatz|complement")
SURNAME_PREFIX = _keys("tussenvoegsel|tussenvoegsels|voorvoegsel|tussenv|prefix|"
                       "namenszusatz|particule")
