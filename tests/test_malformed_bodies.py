"""Malformed GraphQL requests are refused with 400 and a bad-request code before anything runs, never a 500.

Each case is one of the black-box findings of issue 11 (finding 8): the body and its envelope give
BAD_REQUEST; a NUL byte in any string input (variable or inline literal) gives BAD_USER_INPUT naming
where it is, and no resolver sends it to PostgreSQL.
"""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.core import services
from tests import factories

pytestmark = pytest.mark.django_db

SEARCH = "query($q: String!, $filters: JSONString) { search(q: $q, filters: $filters) { hits { id } } }"


@pytest.fixture
def token(tenant_a):
    user = factories.user(tenant=tenant_a, username="prober")
    factories.entity(tenant=tenant_a, name="Probe Person", attributes={"city": "Oslo"})
    return services.api_token_issue(user=user, name="probe")[1]


def send(client, body, token=None, content_type="application/json"):
    """POST raw bytes or text as they come off the wire; returns (status, parsed JSON body)."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    response = client.post("/graphql", data=body, content_type=content_type, **headers)
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return response.status_code, response.json()


def code_of(body):
    return body["errors"][0]["extensions"]["code"]


def refused_as_bad_request(status, body, *, code="BAD_REQUEST", says=""):
    assert status == 400, body
    assert code_of(body) == code, body
    assert "data" not in body or body["data"] is None
    assert says.lower() in body["errors"][0]["message"].lower(), body


# --------------------------------------------------------------------------- the body


def test_json_nested_five_thousand_levels(client, token):
    body = '{"query": "{ apiVersion }", "variables": {"v": ' + "[" * 5000 + "]" * 5000 + "}}"
    refused_as_bad_request(*send(client, body, token), says="nested")


def test_variables_nested_too_deeply_for_the_parser_to_notice(client, token):
    """Below Python's recursion limit, but deeper than any real input: refused before coercion recurses."""
    body = json.dumps({"query": SEARCH, "variables": {"q": "x", "filters": json.dumps({"a": 1}), "v": [[[]]]}})
    status, _ = send(client, body, token)
    assert status == 200  # a little nesting is fine
    body = '{"query": "{ apiVersion }", "variables": {"v": ' + "[" * 500 + "]" * 500 + "}}"
    refused_as_bad_request(*send(client, body, token), says="nested")


@pytest.mark.parametrize(
    "body",
    ['"{ apiVersion }"', "42", "null", "true"],
    ids=["string", "number", "null", "true"],
)
def test_body_that_is_not_a_json_object(client, token, body):
    refused_as_bad_request(*send(client, body, token), says="JSON object")


@pytest.mark.parametrize(
    "raw",
    [b'{"query": "{ apiVersion \xff }"}', b"\xfe\xff\x00{"],
    ids=["invalid-byte", "utf16-bom"],
)
def test_body_that_is_not_utf8(client, token, raw):
    refused_as_bad_request(*send(client, raw, token), says="UTF-8")


def test_graphql_content_type_that_is_not_utf8(client, token):
    refused_as_bad_request(
        *send(client, b"{ apiVersion \xff }", token, content_type="application/graphql"), says="UTF-8"
    )


def test_body_that_is_not_json(client, token):
    refused_as_bad_request(*send(client, '{"query": ', token), says="JSON")


@pytest.mark.parametrize(
    "raw",
    [
        '{"query": NaN}',
        '{"query": 1e999}',
        '{"query": true}',
        '{"query": ["{ apiVersion }"]}',
        '{"query": {"text": "{ apiVersion }"}}',
        '{"query": -Infinity}',
        '{"query": 7}',
    ],
    ids=["NaN", "1e999", "true", "list", "object", "-Infinity", "number"],
)
def test_query_that_is_not_a_string(client, token, raw):
    status, body = send(client, raw, token)
    assert status == 400 and code_of(body) == "BAD_REQUEST", body
    assert "query must be a string" in body["errors"][0]["message"] or "not valid JSON" in body["errors"][0]["message"]


@pytest.mark.parametrize("variables", ["[1, 2]", "7", "true", '"{\\"q\\": 1"', "NaN"])
def test_variables_that_are_not_an_object(client, token, variables):
    raw = '{"query": "{ apiVersion }", "variables": ' + variables + "}"
    status, body = send(client, raw, token)
    assert status == 400 and code_of(body) == "BAD_REQUEST", body


def test_variables_as_a_json_string_of_an_object_still_work(client, token):
    """graphene-django's form and GET encodings send variables as JSON text; keep accepting them."""
    raw = json.dumps({"query": SEARCH, "variables": json.dumps({"q": "probe"})})
    status, body = send(client, raw, token)
    assert status == 200 and body["data"]["search"]["hits"], body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("operationName", 5),
        ("operationName", ["A"]),
        ("extensions", "x"),
        ("extensions", [1]),
        ("id", {"a": 1}),
        ("documentId", 3),
    ],
)
def test_envelope_members_of_the_wrong_type(client, token, field, value):
    raw = json.dumps({"query": "query A { apiVersion }", field: value})
    status, body = send(client, raw, token)
    refused_as_bad_request(status, body, says=field)


def test_null_envelope_members_mean_absent(client, token):
    raw = json.dumps({"query": "{ apiVersion }", "variables": None, "operationName": None, "extensions": None})
    status, body = send(client, raw, token)
    assert status == 200 and body["data"] == {"apiVersion": "v1"}, body


@pytest.mark.parametrize(
    "params",
    [
        {"query": "{ apiVersion }", "variables": "[1]"},
        {"query": "{ apiVersion }", "variables": "{nope"},
        {"query": "{ apiVersion }", "variables": "NaN"},
        {"query": "{ apiVersion }", "variables": "[" * 5000},
    ],
    ids=["list", "invalid", "NaN", "deep"],
)
def test_get_with_malformed_params(client, token, params):
    response = client.get("/graphql", params, HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT="application/json")
    assert response.status_code == 400, response.content[:300]
    assert code_of(response.json()) == "BAD_REQUEST"


def test_oversized_body(client, token, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    raw = json.dumps({"query": "{ apiVersion }", "variables": {"pad": "x" * 20_000}})
    status, body = send(client, raw, token)
    assert status == 413, body
    assert code_of(body) == "BAD_REQUEST" and "10000 bytes" in body["errors"][0]["message"], body


# --------------------------------------------------------------------------- NUL bytes in input values

NUL_FILTERS = {
    "attributes": {"city": "a\x00b"},
    "kind": "per\x00son",
    "labels": ["p\x00ep"],
    "source": "leak\x002024",
    "tenant": "alp\x00ha",
    "created": {"gte": "2026-01-01\x00"},
    "attribute-name": {"ci\x00ty": "Oslo"},
}


@pytest.mark.parametrize("name", list(NUL_FILTERS))
def test_nul_byte_in_a_search_filter_variable(client, token, name):
    key = "attributes" if name == "attribute-name" else name
    variables = {"q": "probe", "filters": json.dumps({key: NUL_FILTERS[name]})}
    before = AuditEvent.objects.count()
    status, body = send(client, json.dumps({"query": SEARCH, "variables": variables}), token)
    refused_as_bad_request(status, body, code="BAD_USER_INPUT", says="NUL")
    assert body["errors"][0]["extensions"]["variable"].startswith(f"filters.{key}"), body
    assert AuditEvent.objects.count() == before  # nothing ran: a search is audited


def test_nul_byte_in_q(client, token):
    status, body = send(client, json.dumps({"query": SEARCH, "variables": {"q": "pro\x00be"}}), token)
    refused_as_bad_request(status, body, code="BAD_USER_INPUT", says="NUL")
    assert body["errors"][0]["extensions"]["variable"] == "q"


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ('{ search(q: "pro\\u0000be") { hits { id } } }', "search.q"),
        (
            '{ s: search(q: "x", filters: "{\\"attributes\\": {\\"city\\": \\"a\\\\u0000b\\"}}") { hits { id } } }',
            "s.filters.attributes.city",
        ),
        ('{ graphNodes(ids: ["1", "2\\u0000"]) { id } }', "graphNodes.ids.1"),
        ('query { neighborhood(id: "1", edgeKinds: ["a\\u0000"]) { seed } }', "neighborhood.edgeKinds.0"),
        ('query($q: String = "de\\u0000fault") { search(q: $q) { hits { id } } }', "q"),
    ],
    ids=["q", "filters", "id-list", "kinds", "variable-default"],
)
def test_nul_byte_in_an_inline_literal(client, token, document, where):
    with CaptureQueriesContext(connection) as queries:
        status, body = send(client, json.dumps({"query": document}), token)
    refused_as_bad_request(status, body, code="BAD_USER_INPUT", says="NUL")
    extensions = body["errors"][0]["extensions"]
    assert extensions.get("argument", extensions.get("variable")) == where, body
    assert not [q for q in queries.captured_queries if "core_entity" in q["sql"]]


def test_nul_byte_in_a_variable_of_the_persisted_search(client, token):
    status, body = send(client, json.dumps({"id": "search:v1", "variables": {"q": "x\x00"}}), token)
    refused_as_bad_request(status, body, code="BAD_USER_INPUT", says="NUL")


def test_nul_byte_in_the_document_itself(client, token):
    status, body = send(client, json.dumps({"query": "{ apiVersion \x00 }"}), token)
    assert status == 400 and code_of(body) == "GRAPHQL_VALIDATION_FAILED", body
