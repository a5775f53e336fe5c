"""No read path shows a value the viewer may not read, even where the record's name carries it.

An account is named by its IBAN and a person by their national id; the viewer may see both records but not those
fields. Every persisted operation of graphql/safelist.json and every changelist of the admin registry is read,
so a path added to either is checked the day it is added; an operation whose required variables this test cannot
fill fails (add it to VARIABLES).
"""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client
from graphql import NonNullTypeNode, parse

from apps.access import ranks
from apps.core.choices import Role, Sensitivity
from apps.graph.services import outbox_drain
from apps.versioning import safelist
from tests import factories

pytestmark = pytest.mark.django_db

IBAN = "DE89370400440532013000"
NATIONAL_ID = "NI-5531-2210"
ACCOUNT_NAME = "Acct DE89 3704 0044"
PERSON_NAME = f"Ivar {NATIONAL_ID} Berg"
QUERY_WORDS = ["acct", "ivar", "berg", "DE89", "3704", "5531"]

OPERATIONS = sorted(operation.id for key, operation in safelist.load().items() if key == operation.id)
CHANGELISTS = sorted(f"/admin/{m._meta.app_label}/{m._meta.model_name}/" for m in admin.site._registry)

# viewer -> the secret values they may not read (a reader sees neither field, an analyst below SECRET clearance
# sees the IBAN but not the purpose-bound national id)
VIEWERS = {
    "reader": (Role.READER, [IBAN, NATIONAL_ID]),
    "analyst": (Role.ANALYST, [NATIONAL_ID]),
}


def spellings(secret: str) -> set[str]:
    """The value as written, without separators, and as any three or more of its groups of four, spaced or not
    (the way a name or a snippet writes an IBAN: "Acct DE89 3704 0044")."""
    bare = re.sub(r"[^0-9A-Za-z]", "", secret)
    forms = {secret, bare, re.sub(r"[^0-9A-Za-z]+", " ", secret).strip()}
    groups = [bare[i : i + 4] for i in range(0, len(bare), 4)]
    for start in range(len(groups)):
        for end in range(start + 3, len(groups) + 1):
            forms |= {" ".join(groups[start:end]), "".join(groups[start:end])}
    return {form for form in forms if len(form) >= 8}


def leaked(text: str, secrets) -> list[str]:
    folded = text.lower()
    return sorted(form for secret in secrets for form in spellings(secret) if form.lower() in folded)


@pytest.fixture
def world(tenant_a, tenant_b):
    account = factories.entity(tenant=tenant_a, kind="account", name=ACCOUNT_NAME, attributes={"iban": IBAN})
    person = factories.entity(
        tenant=tenant_a, name=PERSON_NAME, attributes={"national_id": NATIONAL_ID, "city": "Bergen"}
    )
    factories.relationship(tenant=tenant_a, kind="owns", from_entity=person, to_entity=account)
    # the same values in tenant bravo, for whom they are nobody's business in alpha
    factories.entity(tenant=tenant_b, kind="account", name="Acct Bravo", attributes={"iban": IBAN})
    outbox_drain()
    return {"entities": [account, person]}


def viewer(tenant, role) -> Client:
    user = factories.user(tenant=tenant, role=role, clearance=Sensitivity.CONFIDENTIAL, staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__startswith="view_"))
    client = Client()
    client.force_login(user)
    return client


VARIABLES = {
    "id": lambda w: [str(e.pk) for e in w["entities"]],
    "ids": lambda w: [[str(e.pk) for e in w["entities"]]],
    "q": lambda w: QUERY_WORDS,
}


def calls(operation_id: str, world) -> list[dict]:
    """One call per value of each variable the test knows (a search per query word, a read per entity)."""
    definition = parse(safelist.load()[operation_id].document).definitions[0]
    known = []
    for variable in definition.variable_definitions or ():
        name = variable.variable.name.value
        if name in VARIABLES:
            known.append((name, VARIABLES[name](world)))
        elif isinstance(variable.type, NonNullTypeNode) and variable.default_value is None:
            pytest.fail(f"{operation_id} needs ${name}: add how to fill it to VARIABLES in {__name__}.")
    if not known:
        return [{}]
    return [{name: value} for name, values in known for value in values]


@pytest.mark.parametrize("who", sorted(VIEWERS))
@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_no_persisted_operation_shows_a_withheld_value(gql, world, tenant_a, operation_id, who):
    role, secrets = VIEWERS[who]
    caller = gql(client=viewer(tenant_a, role))
    needed = safelist.load()[operation_id].roles
    if needed and not any(ranks.role_at_least(role=role, least=least) for least in needed):
        body = caller.post(operation_id, calls(operation_id, world)[0])  # refused before it reads anything
        assert body.status == 403 and body.codes == ["FORBIDDEN"] and not leaked(body.text(), secrets), body
        return
    answered = 0
    for variables in calls(operation_id, world):
        body = caller.post(operation_id, variables)
        assert body.status == 200, body
        assert "INTERNAL_SERVER_ERROR" not in body.codes, body
        assert not leaked(body.text(), secrets), (variables, leaked(body.text(), secrets), body)
        answered += bool(body.data)
    assert answered, f"{operation_id} answered nothing: this check would pass on an error page"


@pytest.mark.parametrize("who", sorted(VIEWERS))
@pytest.mark.parametrize("url", CHANGELISTS)
def test_no_admin_changelist_shows_a_withheld_value(world, tenant_a, url, who):
    role, secrets = VIEWERS[who]
    client = viewer(tenant_a, role)
    for query in ("", "?q=acct", "?q=ivar"):
        response = client.get(url + query)
        assert response.status_code in (200, 302, 403), (url, response)
        text = response.content.decode()
        assert not leaked(text, secrets), (url + query, leaked(text, secrets))


def test_the_secrets_are_spelled_as_names_carry_them():
    assert {"DE89 3704 0044 0532 0130 00", "DE89 3704 0044", "0044 0532 0130", IBAN} <= spellings(IBAN)
    assert leaked(ACCOUNT_NAME, [IBAN]) and leaked(PERSON_NAME, [NATIONAL_ID])
    assert not leaked("Acct DE89 3704", [IBAN])
