"""Deprecated fields: announced in headers, counted per client, denied by the schema policy after EOL."""

import datetime as dt
import json

import pytest

from apps.core.choices import Sensitivity
from apps.versioning import deprecations
from apps.versioning.models import DeprecatedFieldUsage
from intelgraph.schema import schema
from tests import factories

pytestmark = pytest.mark.django_db

WITH_VALUE = "query($id: ID!) { entity(id: $id) { attributeList { name value } } }"
WITHOUT = "query($id: ID!) { entity(id: $id) { attributeList { name text redacted reason } } }"


@pytest.fixture
def setup(client, tenant_a):
    user = factories.user(tenant=tenant_a, role="reader", clearance=Sensitivity.CONFIDENTIAL, username="dep")
    entity = factories.entity(tenant=tenant_a, attributes={"city": "Oslo", "birth_date": "1980-01-01", "n": 3})
    client.force_login(user)
    return client, entity


def run(client, query, entity, **extra):
    response = client.post(
        "/graphql",
        data=json.dumps({"query": query, "variables": {"id": str(entity.pk)}, **extra.pop("envelope", {})}),
        content_type="application/json",
        **extra,
    )
    return response, response.json()


def test_current_fields_carry_no_deprecation_headers_and_show_redactions(setup):
    client, entity = setup
    response, body = run(client, WITHOUT, entity)
    assert "x-ig-deprecations" not in response
    rows = {row["name"]: row for row in body["data"]["entity"]["attributeList"]}
    assert rows["city"]["text"] == "Oslo" and rows["n"]["text"] == "3"
    assert rows["birth_date"] == {"name": "birth_date", "text": None, "redacted": True, "reason": "FIELD_ROLE"}


def test_deprecated_field_past_eol_is_announced_denied_and_counted(setup):
    client, entity = setup
    response, body = run(client, WITH_VALUE, entity)
    assert response["x-ig-deprecations"] == "Attribute.value (EOL 2026-03-31)"
    # RFC 9745: when it was deprecated (2025-09-30), as an epoch; RFC 8594: when it ends
    assert response["Deprecation"] == "@1759190400"
    assert dt.datetime.fromtimestamp(1759190400, dt.UTC).date() == dt.date(2025, 9, 30)
    assert response["Sunset"] == "Tue, 31 Mar 2026 00:00:00 GMT"
    # one error for the field and path, however many list elements it resolved for (three attributes here)
    assert len(body["errors"]) == 1, body["errors"]
    error = body["errors"][0]
    assert error["extensions"]["code"] == "FIELD_PAST_EOL"
    assert error["extensions"]["replacement"] == "Attribute.text"
    assert error["extensions"]["occurrences"] == 3
    assert "use Attribute.text instead" in error["message"]
    run(client, WITH_VALUE, entity)
    usage = DeprecatedFieldUsage.objects.get(field="Attribute.value")
    assert (usage.client, usage.operation, usage.count) == ("session of dep", "ad-hoc", 2)


def test_usage_is_counted_only_for_executed_authenticated_operations(setup, tenant_a):
    client, entity = setup
    # a failed validation (an unknown field beside the deprecated one): not counted
    run(client, "query($id: ID!) { entity(id: $id) { attributeList { value nope } } }", entity)
    # a document of two operations where the one that runs does not touch the field: not counted
    both = WITHOUT.replace("query(", "query Current(") + " " + WITH_VALUE.replace("query(", "query Old(")
    response, body = run(client, both, entity, envelope={"operationName": "Current"})
    assert "errors" not in body and "x-ig-deprecations" not in response
    # an anonymous request: not counted
    anonymous = type(client)()
    run(anonymous, WITH_VALUE, entity)
    assert not DeprecatedFieldUsage.objects.exists()
    # the same document's deprecated operation, run: counted once
    run(client, both, entity, envelope={"operationName": "Old"})
    assert DeprecatedFieldUsage.objects.get().count == 1


def test_usage_is_counted_per_token(setup, tenant_a):
    from apps.core import services

    client, entity = setup
    owner = factories.user(tenant=tenant_a, role="reader", clearance=Sensitivity.CONFIDENTIAL, username="owner")
    first, raw_first = services.api_token_issue(user=owner, name="nightly-sync")
    second, raw_second = services.api_token_issue(user=owner, name="dashboard")
    anonymous = type(client)()
    for raw, times in ((raw_first, 2), (raw_second, 1)):
        for _ in range(times):
            run(anonymous, WITH_VALUE, entity, HTTP_AUTHORIZATION=f"Bearer {raw}")
    rows = {row.token_id: row for row in DeprecatedFieldUsage.objects.all()}
    assert {first.pk: 2, second.pk: 1} == {pk: row.count for pk, row in rows.items()}
    assert rows[first.pk].client.startswith(f"token {first.prefix}… (nightly-sync) of owner")


def test_before_eol_the_guard_allows_the_field():
    assert deprecations.denied_after_eol(["Attribute.value"], today=dt.date(2026, 3, 31)) == {}
    assert "Attribute.value" in deprecations.denied_after_eol(["Attribute.value"], today=dt.date(2026, 4, 1))


def test_schema_deprecation_reasons_match_the_policy_registry():
    graphql_schema = schema.graphql_schema
    assert deprecations.registry(), "the policy lists no deprecated field: this test would check nothing"
    for name, entry in deprecations.registry().items():
        type_name, field_name = name.split(".")
        field = graphql_schema.type_map[type_name].fields[field_name]
        assert field.deprecation_reason == deprecations.reason(name)
        assert entry["eol"] in field.deprecation_reason
