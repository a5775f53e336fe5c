"""Generic record corruption, to train on duplicates noisier than any one source produces.

The demo generator's duplicates differ the way sources disagree about a person (a nickname, a
reformatted phone, a move); real data also has data-entry and OCR errors in every field. These
functions add such errors (keyboard slips, dropped/doubled/swapped letters, OCR confusions,
digit slips in dates and identifiers, emptied fields, swapped name fields) and build hard
non-matches (relatives at one address, some of the same name or birth date, namesakes, sister
companies). They know nothing about
any evaluation data set: they are the error types record-linkage literature lists.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterable, Mapping, Sequence

OCR = {
    "m": "rn",
    "rn": "m",
    "l": "1",
    "1": "l",
    "o": "0",
    "0": "o",
    "s": "5",
    "5": "s",
    "b": "6",
    "g": "9",
    "e": "c",
    "c": "e",
    "i": "l",
    "u": "v",
    "v": "u",
    "cl": "d",
    "d": "cl",
    "h": "b",
    "n": "ri",
}
PHONETIC = (
    ("ph", "f"),
    ("f", "ph"),
    ("ck", "k"),
    ("k", "c"),
    ("c", "k"),
    ("ie", "y"),
    ("y", "ie"),
    ("ee", "ea"),
    ("th", "t"),
    ("z", "s"),
    ("s", "z"),
    ("ou", "ow"),
    ("ei", "ie"),
    ("w", "v"),
    ("v", "w"),
    ("tt", "t"),
    ("ll", "l"),
    ("nn", "n"),
    ("mm", "m"),
    ("ss", "s"),
)


def typo(rng: random.Random, value: str) -> str:
    """One error in a word: substitution, deletion, insertion, transposition, OCR confusion or respelling."""
    if len(value) < 2:
        return value
    roll = rng.random()
    k = rng.randrange(len(value))
    if roll < 0.25:
        letter = rng.choice(string.ascii_lowercase)
        return value[:k] + (letter.upper() if value[k].isupper() else letter) + value[k + 1 :]
    if roll < 0.45:
        return value[:k] + value[k + 1 :]
    if roll < 0.6:
        return value[:k] + value[k] + value[k:]
    if roll < 0.75 and len(value) > 2:
        k = rng.randrange(len(value) - 1)
        return value[:k] + value[k + 1] + value[k] + value[k + 2 :]
    table = OCR if roll < 0.88 else dict(PHONETIC)
    options = [(old, new) for old, new in table.items() if old in value.lower()]
    if not options:
        return value[:k] + value[k + 1 :]
    old, new = rng.choice(options)
    at = value.lower().find(old)
    return value[:at] + new + value[at + len(old) :]


def digit_slip(rng: random.Random, value: str) -> str:
    """One error in a number: a digit changed, two neighbouring digits swapped or a digit dropped."""
    positions = [k for k, ch in enumerate(value) if ch.isdigit()]
    if len(positions) < 2:
        return value
    roll = rng.random()
    k = rng.choice(positions)
    if roll < 0.5:
        return value[:k] + str(rng.randrange(10)) + value[k + 1 :]
    if roll < 0.8:
        pairs = [p for p in positions if p + 1 in positions]
        if pairs:
            k = rng.choice(pairs)
            return value[:k] + value[k + 1] + value[k] + value[k + 2 :]
    return value[:k] + value[k + 1 :]


NUMERIC_ATTRIBUTES = frozenset(
    {"birth_date", "incorporation_date", "national_id", "phone", "postal_code", "registration_number", "tax_id"}
)
TEXT_ATTRIBUTES = frozenset({"given_name", "family_name", "legal_name", "street", "city", "address_line_2", "email"})


def corrupt(rng: random.Random, attrs: Mapping, *, errors: int, donor: Mapping | None = None) -> dict:
    """A copy of ``attrs`` with ``errors`` random errors, each in a random attribute.

    ``donor`` is another record: an error may copy one of its values over ours (a value keyed
    into the wrong record, or an unrelated name a source recorded).
    """
    out = dict(attrs)
    for _ in range(errors):
        present = [key for key in out if key in NUMERIC_ATTRIBUTES or key in TEXT_ATTRIBUTES]
        if not present:
            break
        key = rng.choice(present)
        roll = rng.random()
        if roll < 0.12:
            del out[key]  # field left empty
        elif roll < 0.17 and "given_name" in out and "family_name" in out:
            out["given_name"], out["family_name"] = out["family_name"], out["given_name"]
        elif roll < 0.27 and donor is not None and donor.get(key):
            out[key] = donor[key]
        elif key in NUMERIC_ATTRIBUTES:
            out[key] = digit_slip(rng, str(out[key]))
        else:
            out[key] = typo(rng, str(out[key]))
    return out


def fresh(rng: random.Random, value: str) -> str:
    """A value of the same shape that is someone else's: every digit redrawn, letters kept (formats, prefixes)."""
    return "".join(str(rng.randrange(10)) if ch.isdigit() else ch for ch in str(value))


def fresh_email(rng: random.Random, given: str, family: str, template: str) -> str:
    """An e-mail address of its own for a made-up person or company, at ``template``'s domain."""
    domain = str(template).partition("@")[2] or "example.org"
    local = ".".join(part for part in (given.lower(), family.lower()) if part) or "info"
    return f"{local.replace(' ', '')}{rng.randint(1, 99)}@{domain}"


IDENTIFIERS = ("national_id", "registration_number", "tax_id", "phone")


def fresh_domain(rng: random.Random, template: str) -> str:
    """A web domain of its own with ``template``'s top-level domain: ``www.kellerwolf.de`` -> ``www.qbxtrmvo.de``."""
    host = str(template).removeprefix("www.")
    tld = host.rsplit(".", 1)[-1] if "." in host else "com"
    name = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(6, 12)))
    return f"www.{name}.{tld}"


def borrowed(rng: random.Random, donors: Sequence[Mapping], keys: Iterable[str]) -> dict:
    """Values for ``keys``, each from another random donor, identifiers redrawn, e-mails made anew.

    A made-up non-match must not carry one real record's whole set of details (that record with a
    new name is, by every identifier, the same person or company: a label error, not a hard case).
    """
    out: dict = {}
    for key in keys:
        donor = rng.choice(donors)
        if donor.get(key):
            out[key] = fresh(rng, donor[key]) if key in IDENTIFIERS else donor[key]
    if "website" in out:  # a web domain is as identifying as a number
        out["website"] = fresh_domain(rng, out["website"])
    if "email" in out:
        # a company writes from its own domain; a person keeps the donor's provider (gmail.com is everyone's)
        template = f"info@{out['website'].removeprefix('www.')}" if "website" in out else out["email"]
        out["email"] = fresh_email(rng, str(out.get("given_name", "")), str(out.get("family_name", "")), template)
    return out


PERSON_DETAILS = (
    "given_name",
    "family_name",
    "birth_date",
    "gender",
    "national_id",
    "email",
    "phone",
    "street",
    "city",
    "postal_code",
    "country",
)
ORGANIZATION_DETAILS = (
    "legal_name",
    "registration_number",
    "tax_id",
    "incorporation_date",
    "website",
    "email",
    "phone",
    "street",
    "city",
    "postal_code",
    "country",
    "industry",
)
HOME = ("street", "city", "postal_code", "country")


def _own_email(rng: random.Random, out: Mapping, donors: Sequence[Mapping]) -> str:
    """An address for the made-up person's own name, at a random donor's provider."""
    return fresh_email(rng, out.get("given_name", ""), out.get("family_name", ""), rng.choice(donors).get("email", ""))


def _household_phone(rng: random.Random, out: dict, person: Mapping) -> None:
    """Half the time, the household's landline: ``person``'s phone."""
    if "phone" in person and rng.random() < 0.5:
        out["phone"] = person["phone"]


def relative(rng: random.Random, person: Mapping, donors: Sequence[Mapping]) -> dict:
    """A family member of ``person``: same surname and home (often the same phone), own given name and birth date."""
    out = {key: value for key, value in person.items() if key in ("family_name", *HOME)}
    out.update(borrowed(rng, donors, ("given_name", "birth_date", "gender")))
    if rng.random() < 0.6:
        out.update(borrowed(rng, donors, ("email",)))
        out["email"] = fresh_email(rng, out.get("given_name", ""), out.get("family_name", ""), out.get("email", ""))
    _household_phone(rng, out, person)
    return out


def same_name_relative(rng: random.Random, person: Mapping, donors: Sequence[Mapping]) -> dict:
    """A parent or child of the same name in the same home: a birth date a generation apart, own e-mail and ids.

    The phone is the household's half of the time.
    """
    out = {key: value for key, value in person.items() if key in ("given_name", "family_name", "gender", *HOME)}
    year, _, rest = str(person.get("birth_date", "")).partition("-")
    if year.isdigit() and rest:
        out["birth_date"] = f"{int(year) + rng.choice((-1, 1)) * rng.randint(18, 45):04d}-{rest}"
    if rng.random() < 0.5:
        out["email"] = _own_email(rng, out, donors)
    _household_phone(rng, out, person)
    return out


def twin(rng: random.Random, person: Mapping, donors: Sequence[Mapping]) -> dict:
    """A twin: same family name, birth date and home, a given name, gender and e-mail of their own."""
    out = {key: value for key, value in person.items() if key in ("family_name", "birth_date", *HOME)}
    out.update(borrowed(rng, donors, ("given_name", "gender")))
    if rng.random() < 0.9:
        out["email"] = _own_email(rng, out, donors)
    _household_phone(rng, out, person)
    return out


def namesake(rng: random.Random, person: Mapping, donors: Sequence[Mapping]) -> dict:
    """Someone else with the same name: details of their own (each from another donor) under ``person``'s names."""
    out = borrowed(rng, donors, [key for key in PERSON_DETAILS if key not in ("given_name", "family_name")])
    out.pop("national_id", None)
    out["given_name"] = person.get("given_name", out.get("given_name", ""))
    out["family_name"] = person.get("family_name", out.get("family_name", ""))
    if "email" in out:
        out["email"] = fresh_email(rng, out["given_name"], out["family_name"], out["email"])
    if rng.random() < 0.3 and "city" in person:
        out["city"] = person["city"]
    return out


def sister_company(rng: random.Random, company: Mapping, donors: Sequence[Mapping]) -> dict:
    """Another company of the same group: the first word of the name, often the address and phone; its own numbers."""
    out = borrowed(rng, donors, [key for key in ORGANIZATION_DETAILS if key != "legal_name"])
    words = str(company.get("legal_name", "")).split()
    other_words = str(rng.choice(donors).get("legal_name", "")).split()
    if len(words) >= 2 and other_words:
        out["legal_name"] = (
            " ".join([words[0], *other_words[1:]]) if len(other_words) > 1 else f"{words[0]} {other_words[0]}"
        )
    else:
        out["legal_name"] = f"{company.get('legal_name', '')} {rng.choice(('Holding', 'Services', 'Trading'))}"
    if rng.random() < 0.6:
        for key in (*HOME, "phone"):
            if key in company:
                out[key] = company[key]
    if rng.random() < 0.3 and "website" in company:
        out["website"] = company["website"]  # the group's site
    return out


def with_contacts(rng: random.Random, company: Mapping, *, share: float = 0.8) -> dict:
    """``company`` with a phone, an e-mail and a tax number of its own when it has none (for training)."""
    out = dict(company)
    country = str(company.get("country", "")) or "XX"
    if "phone" not in out and rng.random() < share:
        out["phone"] = f"+{rng.randint(30, 49)}{rng.randrange(10**8, 10**9)}"
    if "email" not in out and rng.random() < share:
        domain = (
            str(company.get("website", "")).removeprefix("www.") or f"{country.lower()}-firm{rng.randrange(10**6)}.com"
        )
        out["email"] = f"{rng.choice(('info', 'contact', 'office', 'hello', 'sales'))}@{domain}"
    if "tax_id" not in out and rng.random() < share:
        out["tax_id"] = f"{country}{rng.randrange(10**8, 10**10)}"
    return out
