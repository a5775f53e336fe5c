"""Made-up hard non-matches for training and evaluation: look-alikes, never another record renamed."""

import random

import pytest

from apps.er.engine import noise

IDENTIFYING = (
    "registration_number",
    "tax_id",
    "national_id",
    "email",
    "phone",
    "birth_date",
    "incorporation_date",
    "website",
)


def _companies(rng, count=40):
    return [
        {
            "legal_name": f"Firma{k} Handel GmbH",
            "registration_number": f"HRB {rng.randrange(10**5, 10**6)}",
            "tax_id": f"DE{rng.randrange(10**8, 10**9)}",
            "incorporation_date": f"19{rng.randrange(50, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}",
            "email": f"info@firma{k}.de",
            "website": f"www.firma{k}.de",
            "phone": f"+49{rng.randrange(10**9, 10**10)}",
            "street": f"{k} Hauptstraße",
            "city": "Berlin",
            "country": "DE",
        }
        for k in range(count)
    ]


def _people(rng, count=40):
    return [
        {
            "given_name": f"Given{k}",
            "family_name": f"Family{k}",
            "birth_date": f"19{rng.randrange(40, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}",
            "email": f"given{k}@example.org",
            "phone": f"+44{rng.randrange(10**9, 10**10)}",
            "national_id": f"AB{rng.randrange(10**6, 10**7)}C",
            "street": f"{k} Mill Lane",
            "city": "Leeds",
            "country": "GB",
        }
        for k in range(count)
    ]


def _shared_identifiers(made, donor):
    return [key for key in IDENTIFYING if made.get(key) and made.get(key) == donor.get(key)]


@pytest.mark.parametrize("maker", [noise.sister_company])
def test_a_sister_company_is_no_other_company_renamed(maker):
    rng = random.Random(5)
    donors = _companies(rng)
    for _ in range(200):
        company = rng.choice(donors)
        made = maker(rng, company, donors)
        assert made["legal_name"].split()[0] == company["legal_name"].split()[0]
        assert made.get("registration_number") not in {d["registration_number"] for d in donors}
        assert made.get("tax_id") not in {d["tax_id"] for d in donors}
        others = [d for d in donors if d is not company]  # the group's own site may be shared, nobody else's
        assert made.get("website") not in {d["website"] for d in others}
        assert made.get("email", "@").split("@")[1] not in {d["email"].split("@")[1] for d in others}
        assert all(len(_shared_identifiers(made, donor)) <= 1 for donor in donors if donor is not company)


@pytest.mark.parametrize("maker", [noise.namesake, noise.relative, noise.twin, noise.same_name_relative])
def test_person_look_alikes_carry_no_other_persons_identifiers(maker):
    rng = random.Random(7)
    donors = _people(rng)
    for _ in range(200):
        person = rng.choice(donors)
        made = maker(rng, person, donors)
        assert made.get("national_id") is None or made["national_id"] not in {d["national_id"] for d in donors}
        assert made.get("email") not in {d["email"] for d in donors}
        assert all(len(_shared_identifiers(made, donor)) <= 1 for donor in donors if donor is not person)


def test_fresh_keeps_the_shape_of_an_identifier():
    rng = random.Random(1)
    value = noise.fresh(rng, "HRB 123456")
    assert value.startswith("HRB ") and len(value) == 10 and value[4:].isdigit()
