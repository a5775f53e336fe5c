"""Normalisation of attribute values before blocking and comparison.

Every function takes the raw value as a source wrote it (any type, possibly empty) and
returns a normalised string (or tuple), with ``""`` meaning missing. They are pure and
cheap: a record is normalised once per run, never once per pair.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters NFKD does not decompose into a base letter plus marks.
_SPECIAL_LETTERS = str.maketrans(
    {
        "ß": "ss",
        "ø": "o",
        "Ø": "o",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "þ": "th",
        "\u0131": "i",
        "ŀ": "l",
    }
)
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_DIGITS = re.compile(r"\d+")
_NOT_DIGIT = re.compile(r"\D+")

MISSING_MARKERS = frozenset({"", "nan", "none", "null", "n/a", "na", "-", "unknown", "?"})


def text(value) -> str:
    """The value as a stripped string; ``""`` for None, NaN and the usual missing markers."""
    if value is None:
        return ""
    value = str(value).strip()
    return "" if value.lower() in MISSING_MARKERS else value


@lru_cache(maxsize=200_000)
def fold(value: str) -> str:
    """Lower case, accents and punctuation removed, words separated by one space ("Müller-Lüdenscheidt" -> "muller ludenscheidt")."""
    if not value:
        return ""
    value = unicodedata.normalize("NFKD", value.translate(_SPECIAL_LETTERS))
    value = "".join(ch for ch in value if not unicodedata.combining(ch)).lower()
    return _NON_ALNUM.sub(" ", value).strip()


def compact(value: str) -> str:
    """Folded with the spaces removed as well ("S.r.l." -> "srl", "AB 12-3" -> "ab123")."""
    return fold(value).replace(" ", "")


# ---------------------------------------------------------------------------- names

HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "dame", "mx", "herr", "frau", "sr", "sra"})


def name_tokens(value) -> list[str]:
    """Words of a personal name, folded, without honorifics."""
    return [token for token in fold(text(value)).split() if token not in HONORIFICS]


# ---------------------------------------------------------------------------- dates

_ISO = re.compile(r"^(\d{4})\D?(\d{1,2})\D?(\d{1,2})")
_DAY_FIRST = re.compile(r"^(\d{1,2})\D(\d{1,2})\D(\d{4})")


def date_parts(value) -> tuple[int, int, int]:
    """(year, month, day) of a date in the usual layouts; (0, 0, 0) when missing or unreadable.

    ISO (``1984-07-02``), compact (``19840702``) and day-first (``02/07/1984``, ``2.7.1984``)
    layouts are read. Impossible dates (month 13) are kept as written: a typo in a date is
    still evidence, and the comparison decides how much.
    """
    value = text(value)
    if not value:
        return (0, 0, 0)
    if value.endswith(".0") and value[:-2].isdigit():  # a spreadsheet turned 19840702 into 19840702.0
        value = value[:-2]
    match = _ISO.match(value)
    if match and (value[4:5].isdigit() is False or len(_NOT_DIGIT.sub("", value)) == 8):
        year, month, day = (int(part) for part in match.groups())
    elif (match := _DAY_FIRST.match(value)) is not None:
        day, month, year = (int(part) for part in match.groups())
        if month > 12 >= day:  # month/day/year, as US sources write it
            day, month = month, day
    else:
        return (0, 0, 0)
    if not 1000 <= year <= 2999 or not 0 < month < 100 or not 0 < day < 100:
        return (0, 0, 0)
    return (year, month, day)


def date_digits(parts: tuple[int, int, int]) -> str:
    """``YYYYMMDD`` of (year, month, day), ``""`` when missing."""
    year, month, day = parts
    return f"{year:04d}{month:02d}{day:02d}" if year else ""


# ---------------------------------------------------------------------------- contact details

_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def email(value) -> str:
    """Lower case, without a ``+tag``; Gmail addresses also without dots in the local part."""
    value = text(value).lower().replace(" ", "")
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain:
        return ""
    local = local.split("+", 1)[0]
    if domain in _GMAIL_DOMAINS:
        domain = "gmail.com"
        local = local.replace(".", "")
    return f"{local}@{domain}"


def email_local(normalised: str) -> str:
    """The local part of a normalised address with dots, dashes and underscores removed."""
    return normalised.partition("@")[0].replace(".", "").replace("_", "").replace("-", "")


def phone(value) -> str:
    """The number's last nine digits: the subscriber number in every numbering plan we see, whatever the prefix.

    ``+44 7700 900123``, ``0044 7700900123`` and ``07700 900123`` all give ``700900123``.
    Fewer than seven digits is not a phone number we can compare: missing.
    """
    digits = _NOT_DIGIT.sub("", text(value))
    if len(digits) < 7:
        return ""
    return digits[-9:]


def domain(value) -> str:
    """Host of a website or e-mail domain: ``https://www.Acme.co.uk/about`` -> ``acme.co.uk``."""
    value = text(value).lower()
    if "@" in value:
        value = value.rpartition("@")[2]
    value = re.sub(r"^[a-z]+://", "", value).split("/", 1)[0].split(":", 1)[0]
    if value.startswith("www."):
        value = value[4:]
    return value if "." in value else ""


# ---------------------------------------------------------------------------- identifiers


def identifier(value, country: str = "") -> str:
    """Upper-case letters and digits only; a leading country code equal to the record's country is dropped."""
    value = re.sub(r"[^0-9A-Z]", "", fold(text(value)).upper())
    if country and len(country) == 2 and value.startswith(country.upper()) and len(value) >= 7:
        value = value[2:]
    return value


# ---------------------------------------------------------------------------- addresses

STREET_WORDS = {
    "st": "street",
    "str": "strasse",
    "rd": "road",
    "ave": "avenue",
    "av": "avenue",
    "avda": "avenida",
    "ln": "lane",
    "dr": "drive",
    "ct": "court",
    "cres": "crescent",
    "pl": "place",
    "sq": "square",
    "hwy": "highway",
    "pde": "parade",
    "cct": "circuit",
    "cl": "close",
    "tce": "terrace",
    "blvd": "boulevard",
    "bd": "boulevard",
    "gr": "grove",
    "pk": "park",
    "mt": "mount",
    "n": "north",
    "s": "south",
    "e": "east",
    "w": "west",
    "c": "calle",
    "ul": "ulica",
    "strasse": "strasse",
    "straat": "straat",
    "g": "gatan",
}
_UNIT_LETTERS = frozenset("abcdefgh")  # "12 b": a flat letter after a number
_UNIT_WORDS = frozenset({"flat", "apt", "apartment", "unit", "suite", "ste", "floor", "fl", "no", "nr", "piso", "bus"})


def street(value) -> tuple[str, str]:
    """(street name, house numbers) of a street line.

    The name is folded with common abbreviations written out and German compounds split
    (``Hauptstr. 12`` -> ``haupt strasse``); the numbers are every number in the line,
    sorted, so ``Flat 3, 12 High St`` gives ``("high street", "12 3")``.
    """
    folded = fold(text(value))
    if not folded:
        return ("", "")
    words, numbers = [], []
    for token in folded.split():
        if any(ch.isdigit() for ch in token):
            numbers.append(_DIGITS.findall(token)[0].lstrip("0") or "0")
            continue
        if token in _UNIT_WORDS or (len(token) == 1 and numbers and token in _UNIT_LETTERS):
            continue
        if token.endswith("strasse") and len(token) > 7:
            words.extend((token[:-7], "strasse"))
            continue
        if token.endswith("str") and len(token) > 5:
            words.extend((token[:-3], "strasse"))
            continue
        words.append(STREET_WORDS.get(token, token))
    return (" ".join(words), " ".join(sorted(numbers)))


def postcode(value) -> str:
    """Upper-case letters and digits (``sw1a 1aa`` -> ``SW1A1AA``); a float-typed ``2119.0`` loses its ``.0``."""
    value = text(value)
    if value.endswith(".0") and value[:-2].isdigit():
        value = value[:-2]
    return re.sub(r"[^0-9A-Z]", "", fold(value).upper())


def gender(value) -> str:
    folded = fold(text(value))
    if not folded:
        return ""
    return {"m": "m", "male": "m", "man": "m", "f": "f", "female": "f", "woman": "f", "w": "f"}.get(folded, "")


# ---------------------------------------------------------------------------- organisation names

# Legal forms as folded word sequences -> one canonical token. Longest first when matching.
LEGAL_FORMS = {
    "limited": "ltd",
    "ltd": "ltd",
    "plc": "plc",
    "public limited company": "plc",
    "llp": "llp",
    "l l p": "llp",
    "inc": "inc",
    "incorporated": "inc",
    "llc": "llc",
    "l l c": "llc",
    "limited liability company": "llc",
    "corp": "corp",
    "corporation": "corp",
    "co": "co",
    "company": "co",
    "gmbh": "gmbh",
    "g m b h": "gmbh",
    "gesellschaft mit beschrankter haftung": "gmbh",
    "ag": "ag",
    "aktiengesellschaft": "ag",
    "kg": "kg",
    "kommanditgesellschaft": "kg",
    "gmbh co kg": "gmbhcokg",
    "gmbh and co kg": "gmbhcokg",
    "gmbh u co kg": "gmbhcokg",
    "ohg": "ohg",
    "ug": "ug",
    "e v": "ev",
    "sas": "sas",
    "s a s": "sas",
    "sarl": "sarl",
    "s a r l": "sarl",
    "sa": "sa",
    "s a": "sa",
    "sociedad anonima": "sa",
    "sl": "sl",
    "s l": "sl",
    "sociedad limitada": "sl",
    "slu": "slu",
    "srl": "srl",
    "s r l": "srl",
    "spa": "spa",
    "s p a": "spa",
    "bv": "bv",
    "b v": "bv",
    "besloten vennootschap": "bv",
    "nv": "nv",
    "n v": "nv",
    "naamloze vennootschap": "nv",
    "sp z o o": "spzoo",
    "sp z oo": "spzoo",
    "sp zoo": "spzoo",
    "spolka z o o": "spzoo",
    "spolka z ograniczona odpowiedzialnoscia": "spzoo",
    "ab": "ab",
    "aktiebolag": "ab",
    "ab publ": "ab",
    "as": "as",
    "a s": "as",
    "anonim sirketi": "as",
    "ltd sti": "ltdsti",
    "limited sirketi": "ltdsti",
    "oy": "oy",
    "oyj": "oy",
    "aps": "aps",
    "asa": "asa",
    "pty ltd": "ptyltd",
    "pty": "pty",
    "pvt ltd": "pvtltd",
    "private limited": "pvtltd",
    "lp": "lp",
    "sc": "sc",
}
_LEGAL_FORM_SEQUENCES = sorted(((key.split(), form) for key, form in LEGAL_FORMS.items()), key=lambda kv: -len(kv[0]))

ORG_WORDS = {
    "intl": "international",
    "int": "international",
    "hldgs": "holdings",
    "hldg": "holding",
    "grp": "group",
    "svcs": "services",
    "svc": "services",
    "srvcs": "services",
    "tech": "technologies",
    "technology": "technologies",
    "invest": "investments",
    "log": "logistics",
    "props": "properties",
    "mgmt": "management",
    "mgt": "management",
    "eng": "engineering",
    "mfg": "manufacturing",
    "bros": "brothers",
    "assoc": "associates",
    "natl": "national",
    "dept": "department",
    "ctr": "centre",
    "center": "centre",
    "und": "and",
    "et": "and",
    "y": "and",
    "e": "and",
    "en": "and",
    "och": "and",
    "ve": "and",
    "i": "and",
}
_ORG_STOPWORDS = frozenset({"the", "and", "of", "de", "la", "le", "der", "die", "das", "van", "del"})
_DOTTED_INITIALS = re.compile(r"\b(?:[A-Za-z]\.){2,}[A-Za-z]?\.?")


def organisation_name(value) -> tuple[str, str]:
    """(core name, legal form) of a legal name: ``Acme Intl. Holdings Ltd.`` -> ``("acme international holdings", "ltd")``.

    ``&`` becomes ``and``, dotted initials close up (``S.L.`` -> ``sl``), common abbreviations
    are written out and trailing legal-form words are removed into the second element.
    """
    raw = text(value)
    if not raw:
        return ("", "")
    raw = _DOTTED_INITIALS.sub(lambda m: m.group(0).replace(".", ""), raw).replace("&", " and ").replace("+", " and ")
    tokens = [ORG_WORDS.get(token, token) for token in fold(raw).split()]
    form = ""
    stripped = True
    while stripped and len(tokens) > 1:
        stripped = False
        for words, canonical in _LEGAL_FORM_SEQUENCES:
            if len(words) < len(tokens) and tokens[-len(words) :] == words:
                tokens = tokens[: -len(words)]
                form = form or canonical
                stripped = True
                break
        if tokens and tokens[-1] == "and":  # "GmbH & Co. KG" leaves a dangling "and"
            tokens = tokens[:-1]
            stripped = True
    while len(tokens) > 1 and tokens[0] == "the":
        tokens = tokens[1:]
    return (" ".join(tokens), form)


def organisation_key_words(core: str) -> list[str]:
    """The words of a core name that carry identity (no stop words), in order."""
    words = [word for word in core.split() if word not in _ORG_STOPWORDS]
    return words or core.split()
