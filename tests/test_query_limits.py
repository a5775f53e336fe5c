"""Query limits: depth, field count and database time give coded errors, not 500s."""

import json
import uuid

import pytest

from intelgraph.graphql import limits as query_limits
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


# --------------------------------------------------------------------------- cost, size and time (issue 11, finding 9)

HOOD_FIELDS = "seed totalNodes nodes { id kind label hop } edges { id kind source target }"


@pytest.fixture
def hub(tenant_a):
    """A seed with 30 neighbours of 6 neighbours each (211 entities): three hops reach all of it."""
    from apps.core import services
    from apps.graph.services import outbox_drain

    seed = factories.entity(tenant=tenant_a, name="Hub Seed")
    for i in range(30):
        near = factories.entity(tenant=tenant_a, name=f"Near {i}")
        services.relationship_create(tenant=tenant_a, kind="associated_with", from_entity=seed, to_entity=near)
        for j in range(6):
            far = factories.entity(tenant=tenant_a, name=f"Far {i}-{j}")
            services.relationship_create(tenant=tenant_a, kind="associated_with", from_entity=near, to_entity=far)
    outbox_drain()
    user = factories.user(tenant=tenant_a)
    return seed, services.api_token_issue(user=user, name="cost")[1]


def bearer(client, token, payload):
    response = client.post(
        "/graphql", data=json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    return response, response.json()


def aliased_neighborhoods(seed_id, count, hops=3, limit=1000, fields="totalNodes"):
    """The probe's document: two fields an alias, so 120 of them fit under the field limit (250)."""
    fields = " ".join(
        f'n{i}: neighborhood(id: "{seed_id}", hops: {hops}, limit: {limit}) {{ {fields} }}' for i in range(count)
    )
    return "{ " + fields + " }"


def test_120_aliased_neighborhoods_are_refused_before_running(client, hub):
    import time

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.audit.models import AuditEvent

    seed, token = hub
    audited = AuditEvent.objects.filter(event_type="graph.expanded").count()
    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        response, body = bearer(client, token, {"query": aliased_neighborhoods(seed.pk, 120)})
    elapsed = time.monotonic() - started
    assert response.status_code == 400, body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY", body
    assert error["extensions"]["cost"] > error["extensions"]["budget"] == settings_budget()
    assert "data" not in body or body["data"] is None
    assert elapsed < 1.0, elapsed
    touched = [
        q["sql"] for q in queries.captured_queries if "core_entity" in q["sql"] or "core_relationship" in q["sql"]
    ]
    assert touched == []  # the neighbourhood resolver never ran
    assert AuditEvent.objects.filter(event_type="graph.expanded").count() == audited


def settings_budget():
    from django.conf import settings

    return settings.GRAPHQL_MAX_COST


def test_one_big_neighborhood_is_within_budget(client, hub):
    seed, token = hub
    response, body = bearer(client, token, {"query": aliased_neighborhoods(seed.pk, 1, fields=HOOD_FIELDS)})
    assert response.status_code == 200 and "errors" not in body, body
    assert body["data"]["n0"]["totalNodes"] == 211


def test_cost_counts_variables_fragments_and_nesting(client, hub, settings):
    """The cost follows the sizes the variables ask for, through fragments, and the error says both figures."""
    seed, token = hub
    settings.GRAPHQL_MAX_COST = 500
    document = (
        "query($id: ID!, $limit: Int, $hops: Int) { neighborhood(id: $id, hops: $hops, limit: $limit) { ...H } } "
        f"fragment H on Neighborhood {{ {HOOD_FIELDS} }}"
    )
    small = {"id": str(seed.pk), "limit": 10, "hops": 1}
    response, body = bearer(client, token, {"query": document, "variables": small})
    assert response.status_code == 200 and "errors" not in body, body
    response, body = bearer(client, token, {"query": document, "variables": {**small, "limit": 1000, "hops": 3}})
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY", body
    assert body["errors"][0]["extensions"]["budget"] == 500
    assert "1000" not in body["errors"][0]["message"] or "cost" in body["errors"][0]["message"]


def test_every_persisted_operation_fits_the_budget_at_its_largest():
    """The safelisted documents with the largest variables their resolvers accept stay under the default budget."""
    from graphql import parse

    from apps.versioning import safelist
    from intelgraph.graphql import cost as query_cost
    from intelgraph.schema import schema

    largest = {"first": 100, "limit": 1000, "hops": 3, "ids": [f"id{i}" for i in range(500)], "q": "x", "id": "1"}
    for operation in {op.id: op for op in safelist.load().values()}.values():
        cost = query_cost.document_cost(schema.graphql_schema, parse(operation.document), largest)
        assert 0 < cost <= query_cost.DEFAULT_MAX_COST, (operation.id, cost)


def test_ten_thousand_aliases_are_refused_in_milliseconds(client):
    import time

    query = "{ " + " ".join(f"a{i}: apiVersion" for i in range(10_000)) + " }"
    post(client, "{ apiVersion }")  # the first request of a process loads the schema; time only the refusal
    started = time.monotonic()
    response, body = post(client, query)
    elapsed = time.monotonic() - started
    assert response.status_code == 400
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_LARGE", body
    # Parsing and validating these 10,000 fields in full costs about 1 s here (graphql-core: parse 0.39 s,
    # validate 0.63 s); the refusal stops earlier. It took up to 0.52 s when CI shared the 2 cores with other work,
    # so the bound is loose: the test is about refusing before the full parse and validation, not the machine's
    # load (speed is measured by the make bench-* commands).
    assert elapsed < 1.0, elapsed


@pytest.mark.django_db(transaction=True)  # autocommit, as in production: the cancelled statement ends no test
def test_wall_clock_budget_cancels_a_slow_request(client, hub, settings):
    """A real slow request: 100 three-hop neighbourhoods, each fine alone, with a 0.3 s budget for the request."""
    import time

    from apps.audit.models import AuditEvent

    seed, token = hub
    settings.GRAPHQL_REQUEST_TIMEOUT_SECONDS = 0.3
    settings.GRAPHQL_MAX_COST = 10**9
    started = time.monotonic()
    response, body = bearer(client, token, {"query": aliased_neighborhoods(seed.pk, 100)})
    elapsed = time.monotonic() - started
    assert elapsed < 1.5, elapsed  # 100 of them take about 5 s when nothing stops them
    assert response.status_code == 200, body
    assert body["data"] is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"TIMEOUT"}, body
    assert "0.3" in body["errors"][0]["message"]
    # Fewer neighbourhoods ran than were asked for; those that did were audited whole (one transaction each).
    expanded = AuditEvent.objects.filter(event_type="graph.expanded")
    assert expanded.count() < 100
    assert all({"nodes", "edges", "hops"} <= set(event.payload) for event in expanded)


def test_entity_reads_count_their_work():
    """Each entity read is a row, a policy decision and maybe an audit record: it costs like a search's own work,
    so aliased reads add up (the field limit allows 125 of them)."""
    from graphql import parse

    from intelgraph.graphql.cost import document_cost
    from intelgraph.schema import schema

    one = document_cost(schema.graphql_schema, parse(f'{{ entity(id: "{uuid.uuid4()}") {{ id }} }}'))
    many = document_cost(
        schema.graphql_schema,
        parse("{ " + " ".join(f'e{i}: entity(id: "{uuid.uuid4()}") {{ id }}' for i in range(120)) + " }"),
    )
    assert one == 11 and many == 120 * one  # 10 of work and 1 for the object
