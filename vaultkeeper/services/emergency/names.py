"""Name knowledge for duplicate detection: nicknames, surname particles, OCR confusions, keys.

Pure functions over folded text (see ``clean.fold``): the nickname groups (Johannes = Jan =
Hans, William = Bill, Margaretha = Greet …), the surname particles that registers write in
front or behind ("de Vries", "Vries, de", "Vries"), the characters scanners confuse
(``rn``/``m``, ``0``/``o``), and a consonant skeleton that survives most vowel typos; and
how alike two persons' names are (``name_similarity``, ``halved``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein

if TYPE_CHECKING:
    from vaultkeeper.services.emergency.dedupe import Person

# Each group: one person's given name as registers write it. Dutch, English, German, French
# and Finnish diminutives; a name may be in two groups (Jo, Chris).
_GROUPS = """
johannes jan hans joop jo johan jannes hannes
johanna jo hanna anneke janneke jannie hanneke
cornelis kees cor cees corne
cornelia corrie cor nelly
hendrik henk rik hein henry harry hendrikus
willem wim pim wil willy
wilhelmina mien wil willemijn mina
maria marie ria mia mieke marieke
elisabeth liesbeth els betty lies elise beth elizabeth liz lizzy
catharina karin toos trijntje katrien cato
margaretha greet margriet grietje greta
pieter piet peter pete
petronella nel pietje nelleke
jacobus koos jaap jacob sjaak
nicolaas klaas niek nico claas
gijsbert gijs
bartholomeus bart
geertruida truus geert trudy
hermanus herman manus
arnoldus arnold noud nol
everardus evert
adriana jeanne adrie adri
theodora dora door
theodorus theo dorus ted
frederik frits fred freek frederick
alexander alex sander lex sasha
christina tina chris stien christine
christiaan chris stijn
robert bob rob bert bobby robbie
william bill will liam billy willie
thomas tom tommy
james jim jamie jimmy
susan sue suzy susie
margaret maggie peggy meg
katherine kate kathy katie catherine kathryn
patricia pat trish patty
richard rick dick richie
edward ed eddie ted ned
elizabeth liz beth betty lisa eliza
michael mike mick mickey
jonathan jon john jack
john jack johnny jon
joseph joe joey jozef sjef
anthony tony anton antonius toon
francis frank francois
dorothea dorothy dot thea
abraham bram abe
benjamin ben benny
daniel dan danny daan
samuel sam sammy
matthias mathijs thijs matthijs
wolfgang wolf
jurgen jorg
friedrich fritz
jean-pierre jp
""".strip().splitlines()

NICKNAMES: dict[str, frozenset[int]] = {}
for _n, _line in enumerate(_GROUPS):
    for _name in _line.split():
        NICKNAMES[_name] = NICKNAMES.get(_name, frozenset()) | {_n}

PARTICLES = frozenset({"van", "de", "der", "den", "ter", "ten", "te", "het", "'t", "t", "von",
                       "vom", "zu", "le", "la", "du", "des", "da", "di", "del", "della", "dos",
                       "das", "op", "in", "aan", "bij", "uit", "vd", "v.d.", "v/d", "mc", "o"})
_OCR = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("0", "o"), ("1", "l"), ("5", "s"), ("8", "b"),
        ("|", "l"), ("ii", "u"))
_PUNCT = re.compile(r"[^\w\s-]")
_VOWELS = re.compile(r"[aeiouy]+")
_DOUBLE = re.compile(r"(.)\1+")


def clean_name(text: str) -> str:
    """Folded name without punctuation; ``vries, de`` → ``de vries``."""
    if "," in text:
        head, _, tail = text.partition(",")
        text = f"{tail} {head}"
    return " ".join(_PUNCT.sub(" ", text).split())


@lru_cache(maxsize=1 << 16)
def core_surname(last: str) -> str:
    """The surname without particles: ``van der meer`` → ``meer``; never empty if ``last`` isn't."""
    words = last.replace("-", " ").split()
    core = [w for w in words if w not in PARTICLES]
    return " ".join(core) if core else " ".join(words)


@lru_cache(maxsize=1 << 16)
def ocr(text: str) -> str:
    """Characters scanners and tired typists confuse, mapped to one spelling."""
    for a, b in _OCR:
        text = text.replace(a, b)
    return text


@lru_cache(maxsize=1 << 16)
def skeleton(text: str) -> str:
    """Consonant skeleton (first letter kept): ``jansen`` and ``janssen`` → ``jnsn``."""
    text = ocr(text.replace(" ", "").replace("-", ""))
    if not text:
        return ""
    return text[0] + _DOUBLE.sub(r"\1", _VOWELS.sub("", text[1:].replace("ij", "y")))


@lru_cache(maxsize=1 << 16)
def same_given_name(a: str, b: str) -> bool:
    """Whether two folded first names can be the same person's: equal or nicknames."""
    if a == b:
        return True
    ga, gb = NICKNAMES.get(a.split()[0] if a else ""), NICKNAMES.get(b.split()[0] if b else "")
    return bool(ga and gb and ga & gb)


def given_key(first: str) -> str:
    """A blocking key for a first name that nicknames share: the group's number, or the name."""
    word = first.split()[0] if first else ""
    groups = NICKNAMES.get(word)
    return f"#{min(groups)}" if groups else word


@lru_cache(maxsize=1 << 15)
def first_names_agree(a: str, b: str) -> bool:
    """Whether two folded first names can be one person's (initials, nicknames, a typo)."""
    if not a or not b:
        return True
    if len(a) == 1 or len(b) == 1:     # "J." against "James"
        return a[0] == b[0]
    if a.split()[0] == b.split()[0] or same_given_name(a, b):   # "Mary Ann" / "Mary", Bill
        return True
    oa, ob = ocr(a), ocr(b)
    if min(len(a), len(b)) >= 3 and DamerauLevenshtein.distance(oa, ob, score_cutoff=1) <= 1:
        return True                    # "Zoe" / "Zee": one typo in a short name
    # (a ratio below the cutoff is answered 0, sooner: the same test)
    return fuzz.ratio(a, b, score_cutoff=70) >= 70 or (
        (oa != a or ob != b) and fuzz.ratio(oa, ob, score_cutoff=70) >= 70)


def sim(a: str, b: str) -> float:
    """Similarity of two names in [0, 1], OCR confusions forgiven."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    oa, ob = ocr(a), ocr(b)
    if oa == a and ob == b:   # nothing a scanner confuses: one ratio is the answer
        return fuzz.ratio(a, b) / 100
    return max(fuzz.ratio(a, b), fuzz.ratio(oa, ob)) / 100


def first_sim(a: str, b: str) -> float:
    """``sim`` of two first names, with initials (0.9 when they match) and nicknames (1)."""
    if not a or not b:
        return 0.0
    if len(a) == 1 or len(b) == 1:
        return 0.9 if a[0] == b[0] else 0.0
    if same_given_name(a, b):
        return 1.0
    return sim(a, b)


def name_similarity(a: Person, b: Person) -> float:
    """How alike two persons' names are: nicknames, typos, particles, first/last swapped."""
    if not a.name or not b.name:
        return 0.0
    if a.first and a.first == b.first and a.last == b.last:
        return 1.0   # equal names: ``whole`` below is 1, and no term exceeds 1
    straight = 0.5 * first_sim(a.first, b.first) + 0.5 * max(
        sim(a.core, b.core), sim(a.last, b.last))
    swapped = max(0.5 * first_sim(a.core, b.first) + 0.5 * sim(core_surname(a.first), b.core),
                  0.5 * first_sim(a.first, b.core) + 0.5 * sim(a.core, core_surname(b.first)))
    whole = fuzz.token_sort_ratio(a.name, b.name) / 100
    if not a.first or not b.first:
        straight = max(sim(a.core, b.core), whole) * 0.85
    return max(straight, swapped, whole if a.first and b.first else 0.0)


def crossed(a: Person, b: Person) -> bool:
    """Whether ``a``'s first name is ``b``'s surname or the other way round (typos allowed)."""
    if not a.first or not b.core or not _as_surname(a.first, b.core):
        return False
    return len(b.first) <= 1 or first_sim(a.core, b.first) >= 0.5   # "v." of "van"


@lru_cache(maxsize=1 << 15)
def _as_surname(first: str, core: str) -> bool:
    """Whether a first name can be this surname (typos allowed): most pairs compared have
    common names, so the answer for a pair of names is asked again and again."""
    return max(sim(core_surname(first), core), float(same_given_name(first, core))) >= 0.8


def halved(a: Person, b: Person) -> bool:
    """Whether first names disagree (a household?) and are not first and last swapped: the
    costly check of the swap only where the first names disagree."""
    return not first_names_agree(a.first, b.first) and not (crossed(a, b) or crossed(b, a))
