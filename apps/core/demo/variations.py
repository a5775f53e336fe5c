"""Near-duplicates: how a second record of the same person or company differs from the first.

The helpers (``typo``, ``transpose``, ``respell``, ...) alter one value the way real
sources disagree. The changes below them edit a copy of the original's attributes
in place and return a short note for ``GroundTruthLabel.variation``, a (note, new
address record) pair when they move the record, or None when they do not apply to
this record. ``PERSON_CHANGES`` and ``ORG_CHANGES`` weight them; the generator
draws one to three per duplicate, ``DROPPING_CHANGES`` (removing fields) last.
"""

from __future__ import annotations

import random
from datetime import date
from typing import TYPE_CHECKING

from apps.core.demo.tables import (
    CULTURES,
    KEYBOARD_NEIGHBOURS,
    LEGAL_SUFFIX_VARIANTS,
    NICKNAMES,
    ORG_ABBREVIATIONS,
    SPELLING_RULES,
    SPELLINGS,
)
from apps.core.demo.values import ascii_fold, grouped, phone_presentations, pick_weighted, random_letters

if TYPE_CHECKING:
    from apps.core.demo.generator import TenantGenerator


def typo(rng: random.Random, text: str) -> str | None:
    """One keyboard slip in a word: a neighbouring key, a dropped letter or a doubled one."""
    positions = [i for i in range(1, len(text)) if text[i].isalpha() and text[i - 1].isalpha()]
    if len(positions) < 3:
        return None
    i = rng.choice(positions)
    ch = text[i]
    roll = rng.random()
    if roll < 0.45 and ch.lower() in KEYBOARD_NEIGHBOURS:
        new = rng.choice(KEYBOARD_NEIGHBOURS[ch.lower()])
        return text[:i] + (new.upper() if ch.isupper() else new) + text[i + 1 :]
    if roll < 0.7:
        return text[:i] + text[i + 1 :]
    return text[:i] + ch + text[i:]


def transpose(rng: random.Random, text: str) -> str | None:
    """Swap two neighbouring letters, as in 'Jonhson'."""
    positions = [i for i in range(1, len(text) - 1) if text[i].isalpha() and text[i + 1].isalpha()]
    positions = [i for i in positions if text[i] != text[i + 1]]
    if not positions:
        return None
    i = rng.choice(positions)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def respell(rng: random.Random, name: str) -> str | None:
    """Another transliteration of the name ('Mohammed' -> 'Muhammad', 'Vasilyev' -> 'Vasilev')."""
    if name in SPELLINGS:
        return rng.choice(SPELLINGS[name])
    for old, new in SPELLING_RULES:
        if old in name:
            return name.replace(old, new, 1)
    return None


def _swap_day_month(birth: str) -> str | None:
    year, month, day = birth.split("-")
    if int(day) > 12 or day == month:
        return None
    return f"{year}-{day}-{month}"


def _shift_date(rng: random.Random, value: str) -> str:
    day = date.fromisoformat(value)
    if rng.random() < 0.5:
        try:
            return day.replace(year=day.year + rng.choice((-1, 1))).isoformat()
        except ValueError:  # 29 February
            pass
    return date.fromordinal(day.toordinal() + rng.choice((-1, 1))).isoformat()


def _vary_email(rng: random.Random, email: str) -> str | None:
    local, _, domain = email.partition("@")
    options = [
        local.title().replace(".", ".") + "@" + domain,
        email.upper(),
        local.replace(".", "") + "@" + domain if "." in local else None,
        f"{local}+{rng.choice(('bank', 'shop', 'news', 'work'))}@{domain}",
        f"{local}@googlemail.com" if domain == "gmail.com" else None,
        f"{local}@{domain.title()}",
    ]
    options = [option for option in options if option and option != email]
    return rng.choice(options) if options else None


# ---------------------------------------------------------------------------- how duplicates differ
# Each change takes the generator (for its random stream), the duplicate's attributes,
# the original's country profile and the batch's address records.


def _name_key(gen: TenantGenerator) -> str:
    return "family_name" if gen.rng.random() < 0.6 else "given_name"


def _person_typo(gen, attrs, country, addresses):
    key = _name_key(gen)
    new = typo(gen.rng, attrs[key])
    if not new or new == attrs[key]:
        return None
    attrs[key] = new
    return f"typo in {key}"


def _person_transposition(gen, attrs, country, addresses):
    key = _name_key(gen)
    new = transpose(gen.rng, attrs[key])
    if not new:
        return None
    attrs[key] = new
    return f"letters swapped in {key}"


def _person_nickname(gen, attrs, country, addresses):
    old = attrs["given_name"]
    if old not in NICKNAMES:
        return None
    attrs["given_name"] = gen.rng.choice(NICKNAMES[old])
    return f"nickname {old}->{attrs['given_name']}"


def _person_respelling(gen, attrs, country, addresses):
    for key in ("given_name", "family_name") if gen.rng.random() < 0.5 else ("family_name", "given_name"):
        new = respell(gen.rng, attrs[key])
        if new and new != attrs[key]:
            attrs[key] = new
            return f"other spelling of {key}"
    return None


def _person_accents(gen, attrs, country, addresses):
    german = country.code == "DE" and gen.rng.random() < 0.5
    changed = []
    for key in ("given_name", "family_name", "street", "city"):
        if key in attrs:
            folded = ascii_fold(attrs[key], german=german)
            if folded != attrs[key]:
                attrs[key] = folded
                changed.append(key)
    return "accents dropped" if changed else None


def _person_initial(gen, attrs, country, addresses):
    attrs["given_name"] = attrs["given_name"][0] + "."
    return "given_name reduced to initial"


def _person_middle_initial(gen, attrs, country, addresses):
    attrs["given_name"] = f"{attrs['given_name']} {random_letters(gen.rng, 1)}."
    return "middle initial added"


def _person_missing(gen, attrs, country, addresses):
    present = [key for key in ("birth_date", "email", "phone", "national_id", "street", "postal_code") if key in attrs]
    if not present:
        return None
    dropped = gen.rng.sample(present, min(len(present), gen.rng.choice((1, 1, 2))))
    for key in dropped:
        del attrs[key]
    return "missing " + ", ".join(sorted(dropped))


def _moved(gen, attrs, country, addresses):
    rng = gen.rng
    if addresses and rng.random() < 0.9:
        # Mostly a move within the country, now and then abroad.
        picks = [rng.choice(addresses) for _ in range(6)]
        home = [a for a in picks if a.country == country.code]
        address = home[0] if home and rng.random() < 0.9 else picks[0]
        place = address.attrs
    else:
        address, place = None, gen.address_attrs(country)
    if place["street"] == attrs.get("street"):
        return None
    attrs.update({key: place[key] for key in ("street", "city", "postal_code", "country")})
    return "address changed", address


def _person_birth_swap(gen, attrs, country, addresses):
    swapped = _swap_day_month(attrs["birth_date"]) if "birth_date" in attrs else None
    if not swapped:
        return None
    attrs["birth_date"] = swapped
    return "birth_date day/month swapped"


def _person_birth_shift(gen, attrs, country, addresses):
    if "birth_date" not in attrs:
        return None
    attrs["birth_date"] = _shift_date(gen.rng, attrs["birth_date"])
    return "birth_date off by one"


def _person_email(gen, attrs, country, addresses):
    new = _vary_email(gen.rng, attrs["email"]) if "email" in attrs else None
    if not new:
        return None
    attrs["email"] = new
    return "email case/dots/tag changed"


def _person_phone(gen, attrs, country, addresses):
    if "phone" not in attrs:
        return None
    attrs["phone"] = gen.rng.choice(phone_presentations(attrs["phone"], country))
    return "phone formatted differently"


def _person_name_order(gen, attrs, country, addresses):
    attrs["given_name"], attrs["family_name"] = attrs["family_name"], attrs["given_name"]
    return "given and family name swapped"


def _person_second_surname(gen, attrs, country, addresses):
    family = attrs["family_name"]
    for separator in (" ", "-"):
        first, sep, rest = family.partition(separator)
        if sep and rest and first[:1].isupper():
            attrs["family_name"] = first
            return "second family name dropped"
    return None


def _person_married(gen, attrs, country, addresses):
    if attrs.get("gender") != "female":
        return None
    culture = CULTURES[pick_weighted(gen.rng, gen.culture_tables[country.code])]
    family = gen.rng.choice(culture.family)
    for suffix, feminine in culture.feminine_surnames:
        if family.endswith(suffix):
            family = family[: -len(suffix)] + feminine
            break
    if family == attrs["family_name"]:
        return None
    attrs["family_name"] = family
    return "family_name changed (marriage)"


def _person_id_format(gen, attrs, country, addresses):
    value = attrs.get("national_id")
    if not value:
        return None
    compact = value.replace("-", "").replace(" ", "")
    attrs["national_id"] = compact if compact != value else grouped(value, 3)
    return "national_id formatted differently"


PERSON_CHANGES = (
    (_person_typo, 3.0),
    (_person_transposition, 2.0),
    (_person_nickname, 4.0),
    (_person_respelling, 1.5),
    (_person_accents, 1.5),
    (_person_initial, 1.0),
    (_person_middle_initial, 0.7),
    (_person_missing, 3.0),
    (_moved, 2.0),
    (_person_birth_swap, 2.0),
    (_person_birth_shift, 1.0),
    (_person_email, 2.0),
    (_person_phone, 3.0),
    (_person_name_order, 0.7),
    (_person_second_surname, 1.0),
    (_person_married, 0.7),
    (_person_id_format, 0.8),
)


def _legal_form(name: str) -> str | None:
    for suffix in sorted(LEGAL_SUFFIX_VARIANTS, key=len, reverse=True):
        if name.endswith(" " + suffix):
            return suffix
    return None


def _org_legal_form(gen, attrs, country, addresses):
    suffix = _legal_form(attrs["legal_name"])
    if not suffix:
        return None
    attrs["legal_name"] = attrs["legal_name"][: -len(suffix)] + gen.rng.choice(LEGAL_SUFFIX_VARIANTS[suffix])
    return "legal form written differently"


def _org_legal_form_dropped(gen, attrs, country, addresses):
    suffix = _legal_form(attrs["legal_name"])
    if not suffix:
        return None
    attrs["legal_name"] = attrs["legal_name"][: -len(suffix) - 1]
    return "legal form dropped"


def _org_abbreviation(gen, attrs, country, addresses):
    name = attrs["legal_name"]
    for old, new in gen.rng.sample(ORG_ABBREVIATIONS, len(ORG_ABBREVIATIONS)):
        if old in name:
            attrs["legal_name"] = name.replace(old, new, 1)
            return f"'{old.strip()}' abbreviated"
    return None


def _org_typo(gen, attrs, country, addresses):
    new = typo(gen.rng, attrs["legal_name"])
    if not new:
        return None
    attrs["legal_name"] = new
    return "typo in legal_name"


def _org_transposition(gen, attrs, country, addresses):
    new = transpose(gen.rng, attrs["legal_name"])
    if not new:
        return None
    attrs["legal_name"] = new
    return "letters swapped in legal_name"


def _org_case(gen, attrs, country, addresses):
    name = attrs["legal_name"]
    attrs["legal_name"] = name.upper() if gen.rng.random() < 0.7 else name.lower()
    return "legal_name case changed"


def _org_accents(gen, attrs, country, addresses):
    changed = False
    for key in ("legal_name", "street", "city"):
        if key in attrs:
            folded = ascii_fold(attrs[key], german=country.code == "DE")
            changed |= folded != attrs[key]
            attrs[key] = folded
    return "accents dropped" if changed else None


def _org_missing(gen, attrs, country, addresses):
    present = [k for k in ("registration_number", "incorporation_date", "industry", "website", "street") if k in attrs]
    if not present:
        return None
    dropped = gen.rng.sample(present, min(len(present), gen.rng.choice((1, 1, 2))))
    for key in dropped:
        del attrs[key]
    return "missing " + ", ".join(sorted(dropped))


def _org_registration_format(gen, attrs, country, addresses):
    value = attrs.get("registration_number")
    if not value:
        return None
    compact = value.replace(" ", "").replace("-", "")
    attrs["registration_number"] = compact if compact != value else f"{country.code}{value}"
    return "registration_number formatted differently"


DROPPING_CHANGES = (_person_missing, _org_missing)
ORG_CHANGES = (
    (_org_legal_form, 3.0),
    (_org_legal_form_dropped, 2.0),
    (_org_abbreviation, 2.0),
    (_org_typo, 2.0),
    (_org_transposition, 1.0),
    (_org_case, 1.5),
    (_org_accents, 1.0),
    (_org_missing, 2.5),
    (_moved, 1.5),
    (_org_registration_format, 1.5),
)
