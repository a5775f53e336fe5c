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


def run(client, query, entity):
    response = client.post(
        "/graphql",
        data=json.dumps({"query": query, "variables": {"id": str(entity.pk)}}),
        content_type="application/json",
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
    assert response["Deprecation"] == "true"
    assert response["Sunset"] == "Tue, 31 Mar 2026 00:00:00 GMT"
    error = body["errors"][0]
    assert error["extensions"]["code"] == "FIELD_PAST_EOL"
    assert error["extensions"]["replacement"] == "Attribute.text"
    assert "use Attribute.text instead" in error["message"]
    run(client, WITH_VALUE, entity)
    usage = DeprecatedFieldUsage.objects.get(field="Attribute.value")
    assert usage.client == "ad-hoc by dep" and usage.count == 2


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
