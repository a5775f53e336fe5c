"""Query limits: depth, field count and database time give coded errors, not 500s."""

import json

import pytest

from intelgraph import query_limits
from tests import factories

pytestmark = pytest.mark.django_db


def post(client, query):
    response = client.post("/graphql", data=json.dumps({"query": query}), content_type="application/json")
    return response, response.json()


def test_too_many_fields_through_aliases(client):
    query = "{ " + " ".join(f"a{i}: apiVersion" for i in range(query_limits.MAX_FIELDS + 5)) + " }"
    response, body = post(client, query)
    assert response.status_code == 400
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


def test_graphiql_introspection_query_is_allowed(client):
    from graphql import get_introspection_query

    response, body = post(client, get_introspection_query(descriptions=True))
    assert response.status_code == 200, body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


def test_too_deep(client):
    fragment = "fragment F on SearchResult { hits { id } }"
    nested = '{ search(q: "x") { ' + "hits { " * 1 + "id } ...F } } " + fragment
    assert post(client, nested)[0].status_code == 200  # shallow is fine
    of_types = "ofType { " * 14 + "name" + " }" * 14
    deep = "query { __schema { types { fields { type { " + of_types + " } } } } }"
    response, body = post(client, deep)
    assert response.status_code == 400
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"


def test_statement_timeout_is_a_coded_error(client, tenant_a, monkeypatch):
    user = factories.user(tenant=tenant_a)
    client.force_login(user)
    monkeypatch.setattr(query_limits, "STATEMENT_TIMEOUT_MS", 1)
    factories.entity(tenant=tenant_a, name="Slow Person")
    from django.db import connection

    def slow(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.2)")

    monkeypatch.setattr("apps.search.selectors._tenant_configs", lambda ids: slow() or {})
    _, body = post(client, '{ search(q: "slow") { hits { id } } }')
    assert body["errors"][0]["extensions"]["code"] == "TIMEOUT", body


def test_request_level_errors_are_coded_not_internal(client):
    response = client.post("/graphql", data=json.dumps({"variables": {}}), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "query" in response.json()["errors"][0]["message"]
