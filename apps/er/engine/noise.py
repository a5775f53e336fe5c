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
from collections.abc import Mapping

OCR = {"m": "rn", "rn": "m", "l": "1", "1": "l", "o": "0", "0": "o", "s": "5", "5": "s", "b": "6", "g": "9",
       "e": "c", "c": "e", "i": "l", "u": "v", "v": "u", "cl": "d", "d": "cl", "h": "b", "n": "ri"}  # fmt: skip
PHONETIC = (("ph", "f"), ("f", "ph"), ("ck", "k"), ("k", "c"), ("c", "k"), ("ie", "y"), ("y", "ie"), ("ee", "ea"),
            ("th", "t"), ("z", "s"), ("s", "z"), ("ou", "ow"), ("ei", "ie"), ("w", "v"), ("v", "w"), ("tt", "t"),
            ("ll", "l"), ("nn", "n"), ("mm", "m"), ("ss", "s"))  # fmt: skip


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


def relative(rng: random.Random, person: Mapping, other: Mapping) -> dict:
    """A family member of ``person``: same surname and home (often the same phone), own given name and birth date.

    ``other`` is an unrelated person whose given name, birth date and e-mail the relative takes.
    """
    out = {
        key: value
        for key, value in person.items()
        if key in ("family_name", "street", "city", "postal_code", "country")
    }
    for key in ("given_name", "birth_date", "gender", "email"):
        if key in other:
            out[key] = other[key]
    if "phone" in person and rng.random() < 0.5:
        out["phone"] = person["phone"]  # a household landline
    return out


def same_name_relative(rng: random.Random, person: Mapping, other: Mapping) -> dict:
    """A parent or child of the same name in the same home: a birth date a generation apart, own e-mail and ids.

    ``other`` lends the e-mail (when it has one); the phone is the household's half of the time.
    """
    out = {
        key: value
        for key, value in person.items()
        if key in ("given_name", "family_name", "gender", "street", "city", "postal_code", "country")
    }
    year, _, rest = str(person.get("birth_date", "")).partition("-")
    if year.isdigit() and rest:
        out["birth_date"] = f"{int(year) + rng.choice((-1, 1)) * rng.randint(18, 45):04d}-{rest}"
    if "email" in other and rng.random() < 0.5:
        out["email"] = other["email"]
    if "phone" in person and rng.random() < 0.5:
        out["phone"] = person["phone"]
    return out


def twin(rng: random.Random, person: Mapping, other: Mapping) -> dict:
    """A twin: same family name, birth date and home, ``other``'s given name, gender and e-mail."""
    out = {
        key: value
        for key, value in person.items()
        if key in ("family_name", "birth_date", "street", "city", "postal_code", "country")
    }
    for key in ("given_name", "gender", "email"):
        if key in other and rng.random() < 0.9:
            out[key] = other[key]
    if "phone" in person and rng.random() < 0.5:
        out["phone"] = person["phone"]
    return out


def namesake(rng: random.Random, person: Mapping, other: Mapping) -> dict:
    """Someone else with the same name: ``other``'s details under ``person``'s given and family names."""
    out = dict(other)
    out.pop("national_id", None)
    out["given_name"] = person.get("given_name", out.get("given_name", ""))
    out["family_name"] = person.get("family_name", out.get("family_name", ""))
    if rng.random() < 0.3 and "city" in person:
        out["city"] = person["city"]
    return out


def sister_company(rng: random.Random, company: Mapping, other: Mapping) -> dict:
    """Another company of the same group: the first words of the name, often the address; its own number and date."""
    out = dict(other)
    words = str(company.get("legal_name", "")).split()
    other_words = str(other.get("legal_name", "")).split()
    if len(words) >= 2 and other_words:
        out["legal_name"] = (
            " ".join([words[0], *other_words[1:]]) if len(other_words) > 1 else f"{words[0]} {other_words[0]}"
        )
    if rng.random() < 0.6:
        for key in ("street", "city", "postal_code", "country"):
            if key in company:
                out[key] = company[key]
    return out
