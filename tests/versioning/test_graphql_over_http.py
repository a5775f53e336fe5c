"""GraphQL over HTTP as clients send it: persisted operations by every common key, GET, the spec's media type
and status codes, cache headers, batching refused with a code, and the published SDL and manifests."""

import hashlib
import json
from urllib.parse import urlencode

import pytest
from graphql import parse, print_ast, print_schema, visit

from apps.core import services
from apps.versioning import safelist
from intelgraph.schema import schema
from tests import factories

pytestmark = pytest.mark.django_db

GRAPHQL_RESPONSE = "application/graphql-response+json"
SEARCH = safelist.load()["search:v1"]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def token(tenant_a):
    user = factories.user(tenant=tenant_a, role="reader", clearance=1, username="http-integrator")
    factories.entity(tenant=tenant_a, name="Wire Person")
    return services.api_token_issue(user=user, name="http")[1]


def post(client, payload, token=None, **headers):
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    response = client.post("/graphql", data=json.dumps(payload), content_type="application/json", **headers)
    return response, json.loads(response.content)


def get(client, params, token=None, **headers):
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    encoded = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    response = client.get(f"/graphql?{urlencode(encoded)}", **headers)
    return response, json.loads(response.content)


def hits(body) -> list[str]:
    return [hit["displayName"] for hit in body["data"]["search"]["hits"]]


def with_typename(document: str) -> str:
    return print_ast(visit(parse(document), safelist._AddTypename()))


# --------------------------------------------------------------------------- persisted operations


def test_apollo_hash_of_the_printed_document_with_typename_runs_and_answers_typenames(client, token):
    sent = with_typename(SEARCH.document)  # what Apollo Client's cache sends and hashes
    payload = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256(sent)}}, "variables": {"q": "wire"}}
    response, body = post(client, payload, token)
    assert response.status_code == 200, body
    assert hits(body) == ["Wire Person"]
    assert body["data"]["search"]["__typename"] == "SearchResult"
    assert body["data"]["search"]["hits"][0]["__typename"] == "SearchHit"


def test_apollo_hash_of_the_printed_document_without_typename_runs(client, token):
    sent = print_ast(parse(SEARCH.document))
    assert sent != SEARCH.document  # the file ends in a newline: the bytes differ from the printed form
    payload = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256(sent)}}, "variables": {"q": "wire"}}
    response, body = post(client, payload, token)
    assert response.status_code == 200, body
    assert hits(body) == ["Wire Person"]


def test_an_unknown_printing_is_answered_not_found_then_learned_from_the_retry(client, token):
    # a client that prints differently (here: a comment and other spacing) sends only its hash first
    sent = "# my client's copy\n" + SEARCH.document.replace("  ", "    ")
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(sent)}}
    response, body = post(client, {"extensions": extensions, "variables": {"q": "wire"}}, token)
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert body["errors"][0]["message"] == "PersistedQueryNotFound"  # what Apollo's link looks for
    # Apollo's link then retries with the full query and the hash: it runs, as the safelisted operation
    response, body = post(client, {"query": sent, "extensions": extensions, "variables": {"q": "wire"}}, token)
    assert response.status_code == 200 and hits(body) == ["Wire Person"], body
    # and the next hash-only request is answered directly
    response, body = post(client, {"extensions": extensions, "variables": {"q": "wire"}}, token)
    assert response.status_code == 200 and hits(body) == ["Wire Person"], body


def test_gql_form_full_printed_query_with_the_file_hash_runs(client, token):
    printed = print_ast(parse(SEARCH.document))
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": SEARCH.sha256}}
    response, body = post(client, {"query": printed, "extensions": extensions, "variables": {"q": "wire"}}, token)
    assert response.status_code == 200 and hits(body) == ["Wire Person"], body


@pytest.mark.parametrize(
    "key",
    ["search:v1", f"sha256:{SEARCH.sha256}", SEARCH.sha256],
    ids=["id", "documentId-sha256-prefix", "documentId-bare-hex"],
)
def test_document_id_by_id_or_hash(client, token, key):
    response, body = post(client, {"documentId": key, "variables": {"q": "wire"}}, token)
    assert response.status_code == 200 and hits(body) == ["Wire Person"], body


def test_a_full_safelisted_query_runs_as_its_operation_even_with_typename(client, token, settings):
    settings.GRAPHQL_REQUIRE_PERSISTED = True
    response, body = post(client, {"query": with_typename(SEARCH.document), "variables": {"q": "wire"}}, token)
    assert response.status_code == 200 and hits(body) == ["Wire Person"], body


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        # another operation's text under search's hash
        (
            {"query": "{ apiVersion }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": SEARCH.sha256}}},
            "PERSISTED_QUERY_HASH_MISMATCH",
        ),
        # a hash that is neither the query's nor a persisted operation's
        (
            {"query": SEARCH.document, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "ab" * 32}}},
            "PERSISTED_QUERY_HASH_MISMATCH",
        ),
        # a query with an extra field sent as search:v1
        (
            {"id": "search:v1", "query": SEARCH.document.replace("tenant", "tenant kind")},
            "PERSISTED_QUERY_HASH_MISMATCH",
        ),
        ({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "xyz"}}}, "BAD_REQUEST"),
        ({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": 7}}}, "BAD_REQUEST"),
        ({"documentId": "sha256:" + "0" * 64}, "PERSISTED_QUERY_NOT_FOUND"),
    ],
    ids=["other-text", "foreign-hash", "extra-field", "bad-hex", "hash-not-string", "unknown-document"],
)
def test_wrong_persisted_requests_are_refused_with_a_code(client, token, payload, code):
    response, body = post(client, {**payload, "variables": {"q": "wire"}}, token)
    assert response.status_code == 400, body
    assert body["errors"][0]["extensions"]["code"] == code


# --------------------------------------------------------------------------- GET


def test_get_runs_a_persisted_query_by_id_and_by_apollo_hash(client, token):
    response, body = get(client, {"id": "search:v1", "variables": {"q": "wire"}}, token)
    assert response.status_code == 200 and hits(body) == ["Wire Person"], body
    sent = with_typename(SEARCH.document)
    params = {
        "operationName": "SearchV1",
        "variables": {"q": "wire"},
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256(sent)}},
    }
    response, body = get(client, params, token)
    assert response.status_code == 200 and hits(body) == ["Wire Person"], body
    # authenticated answers are never stored by a cache, and the cache key names the caller
    assert response["Cache-Control"] == "no-store"
    assert {"Accept", "Authorization", "Cookie"} <= {v.strip() for v in response["Vary"].split(",")}


def test_get_ignores_a_json_content_type(client, token):
    response, body = get(
        client, {"id": "search:v1", "variables": {"q": "wire"}}, token, CONTENT_TYPE="application/json"
    )
    assert response.status_code == 200 and hits(body) == ["Wire Person"], body


def test_get_of_a_public_read_is_cacheable_for_anonymous_callers(client):
    response, body = get(client, {"query": "{ apiVersion }"})
    assert body == {"data": {"apiVersion": "v1"}}
    assert response["Cache-Control"] == "public, max-age=300"
    assert "Set-Cookie" not in response  # a shared cache must not store anybody's cookie
    response, body = post(client, {"query": "{ apiVersion }"})
    assert response["Cache-Control"] == "no-store"


def test_get_refuses_mutations_and_repeated_parameters(client, token):
    response, body = get(client, {"query": "mutation { __typename }"}, token)
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert body["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    response = client.get("/graphql?id=search:v1&id=entity:v1", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 400
    assert json.loads(response.content)["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    response, body = get(client, {"id": "search:v1", "extensions": "{not json"}, token)
    assert response.status_code == 400 and body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


# --------------------------------------------------------------------------- media types and status codes


def test_graphql_response_media_type_when_accepted(client, token):
    accept = {"HTTP_ACCEPT": f"{GRAPHQL_RESPONSE}, application/json;q=0.9"}
    response, body = post(client, {"id": "search:v1", "variables": {"q": "wire"}}, token, **accept)
    assert response.status_code == 200 and response["Content-Type"].startswith(GRAPHQL_RESPONSE)
    # a request error (no data): 4xx, same media type, with a code
    response, body = post(client, {"query": "{ nope }"}, token, **accept)
    assert response.status_code == 400 and response["Content-Type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in body and body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    # a refused token: 401, same media type, with a code
    response, body = post(client, {"query": "{ apiVersion }"}, "igt_unknown", **accept)
    assert response.status_code == 401 and response["Content-Type"].startswith(GRAPHQL_RESPONSE)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # a field error with data: 200
    response, body = post(client, {"query": '{ apiVersion entity(id: "not-a-uuid") { id } }'}, token, **accept)
    assert response.status_code == 200 and body["data"]["apiVersion"] == "v1" and body["errors"]


def test_plain_json_stays_the_default(client, token):
    response, _ = post(client, {"id": "search:v1", "variables": {"q": "wire"}}, token)
    assert response["Content-Type"] == "application/json"
    response, _ = post(client, {"id": "search:v1", "variables": {"q": "wire"}}, token, HTTP_ACCEPT="*/*")
    assert response["Content-Type"] == "application/json"


# --------------------------------------------------------------------------- batching


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
def test_batches_are_refused_with_a_code_and_nothing_runs(client, token, accept):
    batch = [{"id": "search:v1", "variables": {"q": "wire"}}, {"query": "{ apiVersion }"}]
    response = client.post(
        "/graphql",
        data=json.dumps(batch),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_ACCEPT=accept,
    )
    body = json.loads(response.content)
    assert response.status_code == 400
    assert body["errors"][0]["extensions"]["code"] == "BATCHING_NOT_SUPPORTED"
    assert "one operation per request" in body["errors"][0]["message"]


# --------------------------------------------------------------------------- what integrators read


def test_the_schema_is_published_as_sdl(client):
    response = client.get("/graphql/schema.graphql")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert response.content.decode().strip() == print_schema(schema.graphql_schema).strip()


def test_apollo_manifest_ids_run_as_their_operations(client, token):
    manifest = client.get("/graphql/persisted-queries.json").json()
    assert manifest["format"] == "apollo-persisted-query-manifest" and manifest["version"] == 1
    entries = {entry["name"]: entry for entry in manifest["operations"]}
    assert set(entries) == {op.name for op in safelist.operations()}
    search = entries["SearchV1"]
    assert search["id"] == sha256(search["body"]) and search["type"] == "query"
    payload = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": search["id"]}}, "variables": {"q": "w"}}
    response, body = post(client, payload, token)
    assert response.status_code == 200 and "__typename" in body["data"]["search"], body


def test_persisted_documents_manifest_keys_run_as_document_ids(client, token):
    documents = client.get("/graphql/persisted-documents.json").json()
    assert len(documents) == len(safelist.operations())
    key = next(k for k, text in documents.items() if text == SEARCH.document)
    response, body = post(client, {"documentId": key, "variables": {"q": "wire"}}, token)
    assert response.status_code == 200 and hits(body) == ["Wire Person"], body


@pytest.mark.parametrize(
    "variables",
    [{}, {"q": None}, {"q": ["not", "a", "string"]}],
    ids=["missing", "null", "wrong-type"],
)
def test_a_variable_that_does_not_fit_its_type_is_bad_user_input(client, token, variables):
    response, body = post(client, {"id": "search:v1", "variables": variables}, token)
    assert response.status_code == 400 and "data" not in body, body
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert "$q" in body["errors"][0]["message"]
