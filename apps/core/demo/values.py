"""Values of the demo data: weighted draws, postcodes, dates, IBANs, national ids, plates, phone formats.

Functions that take an ``rng`` draw only from that ``random.Random``, so the same
stream gives the same values; the others (folding, check digits, formats of an
existing value) are pure. Country formats follow ``tables.CountryProfile``.
"""

from __future__ import annotations

import bisect
import random
import unicodedata
from collections.abc import Iterable
from datetime import date

from apps.core.demo.tables import ASCII_FOLD, GERMAN_FOLD, Bank, CountryProfile


def weighted_table(pairs: Iterable[tuple[str, float]]) -> tuple[list[str], list[float]]:
    values, cumulative, total = [], [], 0.0
    for value, weight in pairs:
        total += weight
        values.append(value)
        cumulative.append(total)
    return values, cumulative


def pick_weighted(rng: random.Random, table: tuple[list[str], list[float]]) -> str:
    values, cumulative = table
    return values[min(bisect.bisect(cumulative, rng.random() * cumulative[-1]), len(values) - 1)]


def random_digits(rng: random.Random, count: int) -> str:
    return str(rng.randrange(10**count)).zfill(count)


def random_letters(rng: random.Random, count: int, alphabet: str = "ABCDEFGHJKLMNPRSTUVWXYZ") -> str:
    return "".join(rng.choices(alphabet, k=count))


def fill_postal_pattern(rng: random.Random, pattern: str) -> str:
    """Fill a postal-code pattern: ``{lo-hi}`` a zero-padded number, ``#`` a digit, ``@`` a letter."""
    pattern = rng.choice(pattern.split("|"))
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "{":
            end = pattern.index("}", i)
            low, high = pattern[i + 1 : end].split("-")
            out.append(str(rng.randint(int(low), int(high))).zfill(len(high)))
            i = end + 1
            continue
        out.append(
            random_digits(rng, 1) if ch == "#" else random_letters(rng, 1, "ABDEFGHJLNPQRSTUWXYZ") if ch == "@" else ch
        )
        i += 1
    return "".join(out)


def random_iso_date(rng: random.Random, first: int, last: int) -> str:
    return date.fromordinal(rng.randint(first, last)).isoformat()


def ascii_fold(text: str, *, german: bool = False) -> str:
    """Drop accents the way a system without Unicode would: 'Müller' -> 'Muller' (or 'Mueller')."""
    if german:
        text = "".join(GERMAN_FOLD.get(ch, ch) for ch in text)
    text = "".join(ASCII_FOLD.get(ch, ch) for ch in text)
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def slug_word(text: str) -> str:
    return "".join(ch for ch in ascii_fold(text).lower() if ch.isalnum())


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def random_iban(rng: random.Random, country: CountryProfile, bank: Bank) -> str:
    code = "".join(random_letters(rng, 1) if ch == "?" else ch for ch in bank.code)
    bban = code + random_digits(rng, country.bban_length - len(code))
    numeric = int("".join(str(int(ch, 36)) for ch in bban + country.code + "00"))
    return f"{country.code}{98 - numeric % 97:02d}{bban}"


def grouped(text: str, size: int = 4) -> str:
    return " ".join(text[i : i + size] for i in range(0, len(text), size))


def random_national_id(rng: random.Random, country: str, birth: str, female: bool, given: str, family: str) -> str:
    """An identifier shaped like the country's personal number (checksums where they are simple)."""
    year, month, day = birth.split("-")
    if country == "GB":
        return random_letters(rng, 2, "ABCEGHJKLMNOPRSTWXYZ") + random_digits(rng, 6) + rng.choice("ABCD")
    if country == "US":
        return f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    if country == "DE":
        return str(rng.randint(1, 9)) + random_digits(rng, 10)
    if country == "FR":
        body = f"{2 if female else 1}{year[2:]}{month}{rng.randint(1, 95):02d}{random_digits(rng, 6)}"
        return f"{body}{97 - int(body) % 97:02d}"
    if country == "ES":
        number = rng.randint(10_000_000, 99_999_999)
        return f"{number}{'TRWAGMYFPDXBNJZSQVHLCKE'[number % 23]}"
    if country == "IT":
        consonants = [c for c in ascii_fold(family + given).upper() if c.isalpha() and c not in "AEIOU"] + ["X"] * 6
        month_letter = "ABCDEHLMPRST"[int(month) - 1]
        day_code = int(day) + (40 if female else 0)
        return f"{''.join(consonants[:6])}{year[2:]}{month_letter}{day_code:02d}{rng.choice('HFLGA')}{random_digits(rng, 3)}{random_letters(rng, 1)}"
    if country == "NL":
        while True:
            digits = str(rng.randint(1, 9)) + random_digits(rng, 7)
            check = sum(int(d) * (9 - i) for i, d in enumerate(digits)) % 11
            if check < 10:
                return digits + str(check)
    if country == "PL":
        month_code = int(month) + (20 if int(year) >= 2000 else 0)
        body = f"{year[2:]}{month_code:02d}{day}{random_digits(rng, 3)}{rng.choice('02468' if female else '13579')}"
        weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
        return body + str((10 - sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 10) % 10)
    if country == "SE":
        body = f"{year[2:]}{month}{day}{random_digits(rng, 3)}"
        return f"{body[:6]}-{body[6:]}{luhn_digit(body)}"
    if country == "TR":
        d = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(8)]
        d.append(((d[0] + d[2] + d[4] + d[6] + d[8]) * 7 - (d[1] + d[3] + d[5] + d[7])) % 10)
        d.append(sum(d) % 10)
        return "".join(map(str, d))
    return random_digits(rng, 10)


def random_registration_number(rng: random.Random, country: str) -> str:
    if country == "GB":
        return f"{rng.randint(100_000, 14_999_999):08d}"
    if country == "US":
        return f"{rng.randint(10, 99)}-{random_digits(rng, 7)}"
    if country == "DE":
        return f"{rng.choice(('HRB', 'HRB', 'HRA'))} {rng.randint(1000, 250_000)}"
    if country == "FR":
        body = str(rng.randint(3, 9)) + random_digits(rng, 7)
        siren = body + luhn_digit(body)
        return f"{siren[:3]} {siren[3:6]} {siren[6:]}"
    if country == "ES":
        return f"{rng.choice('ABB')}{random_digits(rng, 8)}"
    if country == "IT":
        return random_digits(rng, 11)
    if country == "NL":
        return str(rng.randint(10_000_000, 99_999_999))
    if country == "PL":
        return f"0000{rng.randint(100_000, 999_999)}"
    if country == "SE":
        return f"55{random_digits(rng, 4)}-{random_digits(rng, 4)}"
    if country == "TR":
        return random_digits(rng, 10)
    return random_digits(rng, 9)


def random_plate(rng: random.Random, country: str) -> str:
    letters = "ABCDEFGHJKLMNPRSTVWXYZ"
    if country == "GB":
        return f"{random_letters(rng, 2, letters)}{rng.randint(10, 74)} {random_letters(rng, 3, letters)}"
    if country == "DE":
        return f"{rng.choice(('B', 'HH', 'M', 'K', 'F', 'S', 'D', 'L'))}-{random_letters(rng, 2, letters)} {rng.randint(1, 9999)}"
    if country == "FR":
        return f"{random_letters(rng, 2, letters)}-{random_digits(rng, 3)}-{random_letters(rng, 2, letters)}"
    if country == "ES":
        return f"{random_digits(rng, 4)} {random_letters(rng, 3, 'BCDFGHJKLMNPRSTVWXYZ')}"
    if country == "IT":
        return f"{random_letters(rng, 2, letters)}{random_digits(rng, 3)}{random_letters(rng, 2, letters)}"
    if country == "NL":
        return f"{random_digits(rng, 2)}-{random_letters(rng, 3, 'BDFGHJKLNPRSTVXZ')}-{random_digits(rng, 1)}"
    if country == "PL":
        return f"{rng.choice(('WA', 'KR', 'EL', 'DW', 'PO', 'GD'))} {random_digits(rng, 5)}"
    if country == "SE":
        return f"{random_letters(rng, 3, letters)} {random_digits(rng, 2)}{rng.choice(letters + '0123456789')}"
    if country == "TR":
        return f"{rng.choice(('34', '06', '35', '16', '07'))} {random_letters(rng, 3, letters)} {rng.randint(10, 999)}"
    return f"{random_letters(rng, 3, letters)}-{random_digits(rng, 4)}"


def phone_presentations(e164: str, country: CountryProfile) -> list[str]:
    """Other ways people write the same number: national format, 00 prefix, spaces and dashes."""
    nsn = e164[1 + len(country.calling_code) :]
    sizes = {9: (3, 3, 3), 10: (3, 3, 4), 11: (3, 4, 4)}.get(len(nsn), (len(nsn),))
    parts, start = [], 0
    for size in sizes:
        parts.append(nsn[start : start + size])
        start += size
    national = country.trunk + nsn
    options = [
        f"+{country.calling_code} {' '.join(parts)}",
        f"00{country.calling_code}{nsn}",
        national,
        f"{country.trunk}{parts[0]}-{''.join(parts[1:])}",
        f"{country.trunk}{' '.join(parts)}",
    ]
    if country.trunk:
        options.append(f"+{country.calling_code} ({country.trunk}){nsn}")
    if country.code == "US":
        options.append(f"({nsn[:3]}) {nsn[3:6]}-{nsn[6:]}")
    return [option for option in options if option != e164]


def address_line(attrs: dict) -> str:
    country = attrs["country"]
    if country == "GB":
        return f"{attrs['street']}, {attrs['city']} {attrs['postal_code']}, {country}"
    if country == "US":
        return f"{attrs['street']}, {attrs['city']}, {attrs.get('region', '')} {attrs['postal_code']}, {country}"
    return f"{attrs['street']}, {attrs['postal_code']} {attrs['city']}, {country}"
