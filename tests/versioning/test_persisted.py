"""Persisted queries: run by id, documentId or Apollo's sha256Hash; unknown ids and mismatches refused."""

import json
from pathlib import Path

import pytest
from django.conf import settings

from apps.core import services
from apps.versioning import safelist
from tests import factories

pytestmark = pytest.mark.django_db

SEARCH_DOC = (safelist.load()["search:v1"]).document


@pytest.fixture
def token(tenant_a):
    user = factories.user(tenant=tenant_a, role="reader", clearance=1, username="integrator")
    factories.entity(tenant=tenant_a, name="Persisted Person")
    return services.api_token_issue(user=user, name="ci")[1]


def post(client, payload, token=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    response = client.post("/graphql", data=json.dumps(payload), content_type="application/json", **headers)
    return response, response.json()


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "search:v1", "variables": {"q": "persisted"}},
        {"documentId": "search:v1", "variables": {"q": "persisted"}},
        {
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": safelist.load()["search:v1"].sha256}},
            "variables": {"q": "persisted"},
        },
        {"id": "search:v1", "query": SEARCH_DOC, "variables": {"q": "persisted"}},
    ],
)
def test_persisted_search_by_id_document_id_and_apollo_hash(client, token, payload):
    response, body = post(client, payload, token)
    assert response.status_code == 200, body
    assert [h["displayName"] for h in body["data"]["search"]["hits"]] == ["Persisted Person"]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"id": "search:v9", "variables": {"q": "x"}}, "PERSISTED_QUERY_NOT_FOUND"),
        ({"extensions": {"persistedQuery": {"sha256Hash": "0" * 64}}}, "PERSISTED_QUERY_NOT_FOUND"),
        ({"id": "search:v1", "query": "{ apiVersion }", "variables": {"q": "x"}}, "PERSISTED_QUERY_HASH_MISMATCH"),
    ],
)
def test_unknown_ids_and_mismatches_are_refused(client, token, payload, code):
    response, body = post(client, payload, token)
    assert response.status_code == 400
    assert body["errors"][0]["extensions"]["code"] == code


def test_persisted_operation_needs_authentication(client):
    response, body = post(client, {"id": "search:v1", "variables": {"q": "x"}})
    assert response.status_code == 401
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


AD_HOC = '{ search(q: "persisted") { hits { displayName } } }'


def test_production_mode_runs_ad_hoc_operations_only_for_developer_tokens(client, tenant_a, token, settings):
    settings.GRAPHQL_REQUIRE_PERSISTED = True
    # an ordinary token: persisted operations (by id or as their document), never ad-hoc ones
    response, body = post(client, {"query": AD_HOC}, token)
    assert response.status_code == 400
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
    response, body = post(client, {"id": "search:v1", "variables": {"q": "persisted"}}, token)
    assert response.status_code == 200
    response, body = post(client, {"query": SEARCH_DOC, "variables": {"q": "persisted"}}, token)
    assert response.status_code == 200 and body["data"]["search"]["hits"], body
    # staff are not exempt: an analyst's session is refused ad-hoc documents and introspection too
    analyst = factories.user(tenant=tenant_a, role="analyst", clearance=1, username="staff-analyst", staff=True)
    client.force_login(analyst)
    for query in (AD_HOC, "{ __schema { types { name } } }"):
        response, body = post(client, {"query": query})
        assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED", body
    client.logout()
    # a token issued with the developer scope may
    developer = services.api_token_issue(user=analyst, name="graphiql", developer=True)[1]
    response, body = post(client, {"query": AD_HOC}, developer)
    assert response.status_code == 200 and body["data"]["search"]["hits"] == [{"displayName": "Persisted Person"}]


@pytest.mark.parametrize("who", ["anonymous", "token"])
def test_api_version_is_answered_for_anyone_in_production_mode(client, token, settings, who):
    settings.GRAPHQL_REQUIRE_PERSISTED = True
    response, body = post(client, {"query": "{ apiVersion __typename }"}, token if who == "token" else None)
    assert response.status_code == 200, body
    assert body["data"] == {"apiVersion": "v1", "__typename": "Query"}
    response, body = post(client, {"query": '{ apiVersion entity(id: "x") { id } }'}, None)
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"


def test_developer_scope_is_recorded_in_the_audit_log(tenant_a):
    from apps.audit.models import AuditEvent

    user = factories.user(tenant=tenant_a, role="reader", username="dev-scope")
    token = services.api_token_issue(user=user, name="tools", developer=True)[0]
    event = AuditEvent.objects.get(event_type="api_token.issued", target_id=str(token.pk))
    assert event.payload["developer"] is True and token.developer


def test_safelist_hashes_match_documents():
    checked = []
    for key, operation in safelist.load().items():
        if key == operation.id:
            assert safelist.document_hash(operation.document) == operation.hash
            checked.append(key)
    listed = [entry["id"] for entry in json.loads(Path(settings.GRAPHQL_SAFELIST).read_text())["operations"]]
    assert checked, "the safelist is empty: this test would check nothing"
    assert sorted(checked) == sorted(listed)
