"""Values withheld by policy do not come back through another door (issue 11, findings 3 and 7):
a name built from a withheld attribute, an attribute repeating a linked record the reader may not see,
search matching or quoting a withheld value, and a purpose the tenant switched off."""

import json

import pytest

from apps.access.models import TenantPurpose
from apps.audit.models import AuditEvent
from apps.core import services
from tests import factories

pytestmark = pytest.mark.django_db

ENTITY = "query($id: ID!) { entity(id: $id) { displayName attributes redactions { field reason } } }"
SEARCH = """query($q: String!, $filters: JSONString) {
  search(q: $q, filters: $filters) { hits { id displayName snippet } } }"""
IBAN = "DE89370400440532013000"


def graphql(client, query, variables, **headers):
    response = client.post(
        "/graphql",
        data=json.dumps({"query": query, "variables": variables}),
        content_type="application/json",
        **headers,
    )
    return response.json()


def as_user(client, tenant, **kwargs):
    user = factories.user(tenant=tenant, **kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def account(tenant_a):
    spaced = " ".join(IBAN[i : i + 4] for i in range(0, len(IBAN), 4))
    return factories.entity(
        tenant=tenant_a,
        kind="account",
        name=f"Commerzbank {spaced}",
        sensitivity=0,
        attributes={"iban": IBAN, "bank": "Commerzbank"},
    )


def test_a_name_built_from_a_withheld_attribute_is_withheld_in_entity_and_search(client, tenant_a, account):
    reader = as_user(client, tenant_a, role="reader", clearance=2, username="reader")
    body = graphql(reader, ENTITY, {"id": str(account.pk)})
    assert body["data"]["entity"]["displayName"] == "Commerzbank [withheld]"
    hits = graphql(reader, SEARCH, {"q": "Commerzbank"})["data"]["search"]["hits"]
    assert [h["displayName"] for h in hits] == ["Commerzbank [withheld]"]
    text = json.dumps(hits)
    assert "3704" not in text and "DE89" not in text
    # searching for the value itself finds nothing: it is withheld, so no match may confirm a guess
    assert graphql(reader, SEARCH, {"q": IBAN})["data"]["search"]["hits"] == []
    assert graphql(reader, SEARCH, {"q": "DE89 3704"})["data"]["search"]["hits"] == []


def test_a_reader_allowed_the_attribute_sees_the_whole_name(client, tenant_a, account):
    analyst = as_user(client, tenant_a, role="analyst", clearance=2, username="analyst")
    assert graphql(analyst, ENTITY, {"id": str(account.pk)})["data"]["entity"]["displayName"] == account.display_name
    # Withheld values are in nobody's index (as the attribute itself is not): one finds it by the attribute
    assert graphql(analyst, SEARCH, {"q": "DE89 3704"})["data"]["search"]["hits"] == []
    by_iban = {"q": "Commerzbank", "filters": json.dumps({"attributes": {"iban": IBAN}})}
    hits = graphql(analyst, SEARCH, by_iban)["data"]["search"]["hits"]
    assert [(h["id"], h["displayName"]) for h in hits] == [(str(account.pk), account.display_name)]


@pytest.fixture
def person_with_masked_phone(tenant_a):
    source = services.source_get_or_create(tenant=tenant_a, name="tests")
    person = factories.entity(
        tenant=tenant_a,
        name="Paula Phoneowner",
        sensitivity=0,
        source=source,
        attributes={"phone": "0170 1234567", "city": "Bonn", "bank": "Commerzbank", "line_type": "mobile"},
    )
    phone = factories.entity(
        tenant=tenant_a,
        kind="phone",
        name="+49 170 1234567",
        sensitivity=2,
        source=source,
        attributes={"number": "+49 170 1234567", "line_type": "mobile"},
    )
    account = factories.entity(
        tenant=tenant_a,
        kind="account",
        name=f"Commerzbank {IBAN}",
        sensitivity=2,
        source=source,
        attributes={"iban": IBAN, "bank": "Commerzbank"},
    )
    services.relationship_create(tenant=tenant_a, kind="has_phone", from_entity=person, to_entity=phone, source=source)
    services.relationship_create(
        tenant=tenant_a, kind="holds_account", from_entity=person, to_entity=account, source=source
    )
    return person


def test_an_attribute_repeating_a_masked_linked_record_is_withheld(client, tenant_a, person_with_masked_phone):
    low = as_user(client, tenant_a, role="analyst", clearance=1, username="low")
    entity = graphql(low, ENTITY, {"id": str(person_with_masked_phone.pk)})["data"]["entity"]
    attributes = json.loads(entity["attributes"])
    # words the linked records share with it ("mobile", the bank's name) are no identifiers: they stay
    assert attributes == {"city": "Bonn", "bank": "Commerzbank", "line_type": "mobile"}
    assert {"field": "phone", "reason": "LINKED_RECORD"} in entity["redactions"]
    assert "1234567" not in json.dumps(entity)


def test_a_reader_who_may_see_the_linked_record_sees_the_attribute(client, tenant_a, person_with_masked_phone):
    high = as_user(client, tenant_a, role="analyst", clearance=2, username="high")
    entity = graphql(high, ENTITY, {"id": str(person_with_masked_phone.pk)})["data"]["entity"]
    assert json.loads(entity["attributes"])["phone"] == "0170 1234567"
    assert entity["redactions"] == []


@pytest.fixture
def cleared(client, tenant_a):
    person = factories.entity(
        tenant=tenant_a, name="Nora Nationalid", sensitivity=0, attributes={"national_id": "NID-4711"}
    )
    return as_user(client, tenant_a, role="analyst", clearance=4, username="cleared"), person


def test_a_purpose_the_tenant_switched_off_unlocks_nothing(cleared, tenant_a):
    client, person = cleared
    TenantPurpose.objects.filter(tenant=tenant_a, code="investigation").update(is_active=False)
    headers = {"HTTP_X_IG_PURPOSE": "investigation"}
    body = graphql(
        client, SEARCH, {"q": "Nora", "filters": json.dumps({"attributes": {"national_id": "NID-4711"}})}, **headers
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "national_id" in body["errors"][0]["message"]
    # and with the purpose active it unlocks the filter, audited as a purpose-unlocked read
    TenantPurpose.objects.filter(tenant=tenant_a, code="investigation").update(is_active=True)
    before = AuditEvent.objects.filter(event_type="access.purpose_unlocked").count()
    body = graphql(
        client, SEARCH, {"q": "Nora", "filters": json.dumps({"attributes": {"national_id": "NID-4711"}})}, **headers
    )
    assert [h["id"] for h in body["data"]["search"]["hits"]] == [str(person.pk)]
    assert AuditEvent.objects.filter(event_type="access.purpose_unlocked").count() > before


def test_reads_unlocked_by_a_purpose_are_audited(cleared, tenant_a):
    client, person = cleared
    entity = graphql(client, ENTITY, {"id": str(person.pk)}, HTTP_X_IG_PURPOSE="fraud-risk")["data"]["entity"]
    assert json.loads(entity["attributes"])["national_id"] == "NID-4711"
    event = AuditEvent.objects.filter(event_type="access.purpose_unlocked").latest("seq")
    assert event.payload["purpose"] == "fraud-risk" and event.payload["fields"] == {"national_id": 1}
    assert event.payload["resources"] == [str(person.pk)]
    # without a purpose it stays withheld and nothing is recorded as unlocked
    before = AuditEvent.objects.filter(event_type="access.purpose_unlocked").count()
    entity = graphql(client, ENTITY, {"id": str(person.pk)})["data"]["entity"]
    assert "national_id" not in json.loads(entity["attributes"])
    assert AuditEvent.objects.filter(event_type="access.purpose_unlocked").count() == before


def test_merge_links_do_not_name_hidden_records(client, tenant_a):
    from apps.core.models import Entity

    hidden = factories.entity(tenant=tenant_a, name="Hidden Canonical", sensitivity=4)
    member = factories.entity(tenant=tenant_a, name="Visible Member", sensitivity=0)
    also_hidden = factories.entity(tenant=tenant_a, name="Hidden Member", sensitivity=4)
    Entity.objects.filter(pk=member.pk).update(merged_into=hidden)
    Entity.objects.filter(pk=also_hidden.pk).update(merged_into=member)
    query = "query($id: ID!) { entity(id: $id) { mergedInto mergedMembers } }"
    low = as_user(client, tenant_a, role="analyst", clearance=1, username="lowm")
    assert graphql(low, query, {"id": str(member.pk)})["data"]["entity"] == {"mergedInto": None, "mergedMembers": []}
    high = as_user(client, tenant_a, role="analyst", clearance=4, username="highm")
    assert graphql(high, query, {"id": str(member.pk)})["data"]["entity"] == {
        "mergedInto": str(hidden.pk),
        "mergedMembers": [str(also_hidden.pk)],
    }


def test_counts_and_facets_confirm_no_withheld_value(client, tenant_a, account):
    reader = as_user(client, tenant_a, role="reader", clearance=2, username="counter")
    query = """query($q: String!) { search(q: $q) { totalEstimate facets { kind count } hits { id } } }"""
    for q in (IBAN, "DE89 3704", "3704"):
        found = graphql(reader, query, {"q": q})["data"]["search"]
        assert found == {"totalEstimate": 0, "facets": [], "hits": []}, q


def test_search_does_not_find_or_quote_an_attribute_repeating_a_masked_record(
    client, tenant_a, person_with_masked_phone
):
    low = as_user(client, tenant_a, role="analyst", clearance=1, username="lowsearch")
    assert graphql(low, SEARCH, {"q": "1234567"})["data"]["search"]["hits"] == []
    hits = graphql(low, SEARCH, {"q": "Phoneowner"})["data"]["search"]["hits"]
    assert [h["id"] for h in hits] == [str(person_with_masked_phone.pk)]
    assert "1234567" not in json.dumps(hits)
