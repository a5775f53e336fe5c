"""Reference tables of the demo generator: names, countries, companies, vehicles, keyboards.

Small hand-made lists instead of Faker: fixed content keeps output stable across
library upgrades, and several cultures per country keep a million rows varied.
The lists live as JSON in ``data/`` next to this module (``data/README.md``
describes each file) and are read once, at import, into the read-only shapes
the generator uses: tuples, frozen dataclasses and dicts in the files' order.

Order matters: weighted draws walk the tables in file order, so reordering a
list or an object changes the generated data (and the ER training data hash).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from importlib import resources


def _load(name: str):
    return json.loads(resources.files(__package__).joinpath("data", name).read_text(encoding="utf-8"))


def _pairs(value) -> tuple[tuple, ...]:
    """An object or a list of pairs as a tuple of pairs, in order."""
    items = value.items() if isinstance(value, dict) else value
    return tuple(tuple(item) for item in items)


def _tuples(mapping: dict) -> dict[str, tuple]:
    return {key: tuple(values) for key, values in mapping.items()}


@dataclass(frozen=True)
class NameCulture:
    """Given and family names of one naming culture."""

    male: tuple[str, ...]
    female: tuple[str, ...]
    family: tuple[str, ...]
    feminine_surnames: tuple[tuple[str, str], ...] = ()  # suffix rewrites for women's surnames
    double_surname: float = 0.0  # chance of two family names (Spanish naming)


@dataclass(frozen=True)
class Bank:
    """A bank of one country, as accounts name it."""

    name: str
    code: str  # national bank code used at the start of the BBAN; "?" is a random letter


@dataclass(frozen=True)
class CountryProfile:
    """How addresses, phones, ids and company names look in one country."""

    code: str
    name: str
    cultures: tuple[tuple[str, float], ...]
    cities: tuple[tuple[str, str], ...]  # (city, postal pattern: {lo-hi} range, # digit, @ letter, | alternatives)
    streets: tuple[str, ...]
    street_format: str  # "{n}" house number, "{s}" street name
    unit_format: str  # flat or apartment, "{u}" unit number, "{l}" letter; empty for none
    abbreviations: tuple[tuple[str, str], ...]
    calling_code: str
    trunk: str
    mobile: tuple[str, ...]
    landline: tuple[str, ...]
    nsn_length: int
    currency: str
    banks: tuple[Bank, ...]
    bban_length: int  # 0: no IBAN, accounts use account_number and routing_number
    email_domains: tuple[str, ...]
    web_suffix: str
    org_suffixes: tuple[str, ...]
    local_business_words: tuple[tuple[str, str], ...]  # (word, industry)
    region_codes: tuple[str, ...] = ()


def _culture(entry: dict) -> NameCulture:
    return NameCulture(
        male=tuple(entry["male"]),
        female=tuple(entry["female"]),
        family=tuple(entry["family"]),
        feminine_surnames=_pairs(entry.get("feminine_surnames", ())),
        double_surname=entry.get("double_surname", 0.0),
    )


def _country(code: str, entry: dict) -> CountryProfile:
    return CountryProfile(
        code=code,
        name=entry["name"],
        cultures=_pairs(entry["cultures"]),
        cities=_pairs(entry["cities"]),
        streets=tuple(entry["streets"]),
        street_format=entry["street_format"],
        unit_format=entry["unit_format"],
        abbreviations=_pairs(entry["abbreviations"]),
        calling_code=entry["calling_code"],
        trunk=entry["trunk"],
        mobile=tuple(entry["mobile"]),
        landline=tuple(entry["landline"]),
        nsn_length=entry["nsn_length"],
        currency=entry["currency"],
        banks=tuple(Bank(name, bank_code) for name, bank_code in entry["banks"].items()),
        bban_length=entry["bban_length"],
        email_domains=tuple(entry["email_domains"]),
        web_suffix=entry["web_suffix"],
        org_suffixes=tuple(entry["org_suffixes"]),
        local_business_words=_pairs(entry["local_business_words"]),
        region_codes=tuple(entry.get("region_codes", ())),
    )


CULTURES: dict[str, NameCulture] = {name: _culture(entry) for name, entry in _load("cultures.json").items()}

# Given name -> short forms people and clerks use for it (the file groups them by language).
NICKNAMES: dict[str, tuple[str, ...]] = {
    name: tuple(short) for group in _load("nicknames.json").values() for name, short in group.items()
}

_spellings = _load("spellings.json")
# Spellings of the same name from different transliterations or registers.
SPELLINGS: dict[str, tuple[str, ...]] = _tuples(_spellings["names"])
# Transliteration rules tried in order when a surname has no listed spelling.
SPELLING_RULES: tuple[tuple[str, str], ...] = _pairs(_spellings["rules"])

_characters = _load("characters.json")
ASCII_FOLD: dict[str, str] = _characters["ascii_fold"]
GERMAN_FOLD: dict[str, str] = _characters["german_fold"]
KEYBOARD_NEIGHBOURS: dict[str, str] = _characters["keyboard_neighbours"]

_countries = _load("countries.json")
COUNTRIES: dict[str, CountryProfile] = {code: _country(code, entry) for code, entry in _countries["countries"].items()}
# Where each tenant's people and companies live, by the tenant's position (cycled).
TENANT_COUNTRY_MIXES: tuple[dict[str, float], ...] = tuple(_countries["tenant_country_mixes"])

_organisations = _load("organisations.json")
BUSINESS_WORDS: tuple[tuple[str, str], ...] = _pairs(_organisations["business_words"])  # (word, industry)
BRAND_WORDS: tuple[str, ...] = tuple(_organisations["brand_words"])
LEGAL_SUFFIX_VARIANTS: dict[str, tuple[str, ...]] = _tuples(_organisations["legal_suffix_variants"])
ORG_ABBREVIATIONS: tuple[tuple[str, str], ...] = _pairs(_organisations["abbreviations"])
WORK_ROLES: tuple[str, ...] = tuple(_organisations["work_roles"])

_things = _load("things.json")
# (make, world manufacturer identifier, models)
VEHICLE_MODELS: tuple[tuple[str, str, tuple[str, ...]], ...] = tuple(
    (make, entry["wmi"], tuple(entry["models"])) for make, entry in _things["vehicle_models"].items()
)
COLOURS: tuple[str, ...] = tuple(_things["colours"])
EVENT_TYPES: tuple[str, ...] = tuple(_things["event_types"])
ASSOCIATION_NATURES: tuple[str, ...] = tuple(_things["association_natures"])  # repeats weight the draw

VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
BIRTH_FIRST = date(1940, 1, 1).toordinal()
BIRTH_LAST = date(2006, 12, 31).toordinal()
COMPANY_FIRST = date(1950, 1, 1).toordinal()
RECENT_FIRST = date(2015, 1, 1).toordinal()
RECENT_LAST = date(2025, 6, 30).toordinal()

del _spellings, _characters, _countries, _organisations, _things
