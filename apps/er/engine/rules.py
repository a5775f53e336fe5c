"""Deterministic rules on strong identifiers: the fallback when no scoring model can be used.

``rules_match(a, b)`` answers True (the same entity), False (different entities) or None
(the rules cannot tell: leave the pair to the model or to a reviewer). It decides only on
identifiers that name one entity:

* persons: national id; an e-mail address together with the same given and family name;
* organisations: registration number, tax id (within one country when both name a country).

An identifier present on both sides and equal (after normalisation: case, spaces, dashes,
a country prefix) says True; present on both and different says False; both at once (one
agrees, another disagrees: a data error somewhere) says None.
"""

from __future__ import annotations

from collections.abc import Mapping

from apps.er.engine import normalize as norm
from apps.er.engine.schema import ORGANIZATION, PERSON


def _kind(a: Mapping, b: Mapping) -> str:
    org_keys = ("legal_name", "registration_number", "tax_id", "incorporation_date")
    return ORGANIZATION if any(key in a or key in b for key in org_keys) else PERSON


def _votes_person(a: Mapping, b: Mapping) -> list[bool]:
    votes = []
    id_a, id_b = norm.identifier(a.get("national_id")), norm.identifier(b.get("national_id"))
    if id_a and id_b:
        votes.append(id_a == id_b)
    email_a, email_b = norm.email(a.get("email")), norm.email(b.get("email"))
    if email_a and email_b and email_a == email_b:
        same_name = all(
            norm.fold(norm.text(a.get(key))) == norm.fold(norm.text(b.get(key))) != ""
            for key in ("given_name", "family_name")
        )
        if same_name:
            votes.append(True)
    return votes


def _votes_organisation(a: Mapping, b: Mapping) -> list[bool]:
    votes = []
    country_a, country_b = norm.text(a.get("country")).upper(), norm.text(b.get("country")).upper()
    if country_a and country_b and country_a != country_b:
        return [False] if a.get("registration_number") and b.get("registration_number") else []
    for key in ("registration_number", "tax_id"):
        value_a = norm.identifier(a.get(key), country_a or country_b)
        value_b = norm.identifier(b.get(key), country_b or country_a)
        if value_a and value_b:
            votes.append(value_a == value_b)
    return votes


def rules_match(a: Mapping, b: Mapping, kind: str | None = None) -> bool | None:
    """True, False or None (undecided) for two records' attributes, from strong identifiers only."""
    kind = kind or _kind(a, b)
    votes = _votes_person(a, b) if kind == PERSON else _votes_organisation(a, b)
    if not votes or (True in votes and False in votes):
        return None
    return votes[0]
