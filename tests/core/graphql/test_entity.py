"""GraphQL: apiVersion for everyone, entity(id) scoped to the caller's tenants and clearance, coded errors."""

import json

import pytest

from apps.core import services
from apps.core.choices import Sensitivity
from tests import factories

pytestmark = pytest.mark.django_db

ENTITY = "query($id: ID!) { entity(id: $id) { id kind displayName attributes sensitivity labels tenant { slug } } }"


@pytest.fixture
def world(tenant_a, tenant_b):
    analyst = factories.user(tenant=tenant_a, username="ana", clearance=Sensitivity.CONFIDENTIAL)
    mine = factories.entity(tenant=tenant_a, name="Ada Lovelace", attributes={"birth_date": "1815-12-10"})
    secret = factories.entity(tenant=tenant_a, name="Hidden Hand", sensitivity=Sensitivity.SECRET)
    top = factories.entity(tenant=tenant_a, name="Deep Cover", sensitivity=Sensitivity.TOP_SECRET)
    theirs = factories.entity(tenant=tenant_b, name="Bravo Person")
    return {"analyst": analyst, "mine": mine, "secret": secret, "top": top, "theirs": theirs}


def test_api_version_needs_no_login_and_is_in_header(gql):
    body = gql().post("{ apiVersion }")
    assert body.status == 200
    assert body == {"data": {"apiVersion": "v1"}}
    assert body.response["x-ig-api-version"] == "v1"


def test_entity_requires_authentication(gql, world):
    body = gql().post(ENTITY, {"id": str(world["mine"].pk)})
    assert body.codes == ["UNAUTHENTICATED"]
    assert body["data"]["entity"] is None


def test_entity_in_own_tenant(gql, world):
    body = gql(world["analyst"]).post(ENTITY, {"id": str(world["mine"].pk)})
    entity = body["data"]["entity"]
    assert entity["displayName"] == "Ada Lovelace"
    assert json.loads(entity["attributes"]) == {"birth_date": "1815-12-10"}
    assert entity["tenant"] == {"slug": "alpha"}
    assert entity["sensitivity"] == "INTERNAL"


@pytest.mark.parametrize("which", ["theirs", "top"])
def test_other_tenant_and_far_above_clearance_look_like_missing(gql, world, which):
    body = gql(world["analyst"]).post(ENTITY, {"id": str(world[which].pk)})
    assert body["data"]["entity"] is None
    assert body.codes == ["NOT_FOUND"]
    assert "Bravo" not in json.dumps(body) and "Deep" not in json.dumps(body)


def test_one_level_above_clearance_is_forbidden_with_reason_and_no_content(gql, world):
    body = gql(world["analyst"]).post(ENTITY, {"id": str(world["secret"].pk)})
    assert body["data"]["entity"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["reason"] == "CLEARANCE"
    assert "clearance secret or higher" in error["message"]
    assert "Hidden" not in json.dumps(body)


def test_malformed_id_is_bad_user_input(gql, world):
    body = gql(world["analyst"]).post(ENTITY, {"id": "not-a-uuid"})
    assert body.codes == ["BAD_USER_INPUT"]


def test_invalid_query_gets_validation_code_not_500(gql):
    body = gql().post("{ entity { nope } }")
    assert body.status == 400
    assert set(body.codes) == {"GRAPHQL_VALIDATION_FAILED"}


def test_unparseable_body_is_a_400(client):
    response = client.post("/graphql", data="{not json", content_type="application/json")
    assert response.status_code == 400


def test_bearer_token_authenticates_and_revocation_refuses(gql, world):
    token, raw = services.api_token_issue(user=world["analyst"], name="sync job")
    body = gql(token=raw).post(ENTITY, {"id": str(world["mine"].pk)})
    assert body["data"]["entity"]["displayName"] == "Ada Lovelace"
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert token.key_hash != raw and raw not in token.key_hash

    services.api_token_revoke(token=token)
    body = gql(token=raw).post(ENTITY, {"id": str(world["mine"].pk)})
    assert body.status == 401
    assert body.codes == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("header", ["Bearer igt_wrong", "Basic abc", "Bearer ", "Token x"])
def test_bad_authorization_headers_are_refused(gql, header):
    body = gql().post("{ apiVersion }", HTTP_AUTHORIZATION=header)
    assert body.status == 401
    assert body.codes == ["UNAUTHENTICATED"]


def test_token_of_tenant_b_user_cannot_read_tenant_a(gql, world, tenant_b):
    other = factories.user(tenant=tenant_b, clearance=Sensitivity.TOP_SECRET)
    _, raw = services.api_token_issue(user=other, name="other")
    body = gql(token=raw).post(ENTITY, {"id": str(world["mine"].pk)})
    assert body.codes == ["NOT_FOUND"]


def test_anonymous_post_needs_no_csrf_token(gql):
    from django.test import Client

    body = gql(client=Client(enforce_csrf_checks=True)).post("{ apiVersion }")
    assert body.status == 200


def test_session_post_without_csrf_token_is_refused(world):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world["analyst"])
    query = {"query": ENTITY, "variables": {"id": str(world["mine"].pk)}}
    response = browser.post("/graphql", data=json.dumps(query), content_type="application/json")
    assert response.status_code == 403
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["CSRF_FAILED"]
    # with the token from the cookie, the same request goes through
    browser.get("/graphql", HTTP_ACCEPT="text/html")
    token = browser.cookies["csrftoken"].value
    response = browser.post("/graphql", data=json.dumps(query), content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.json()["data"]["entity"]["displayName"] == "Ada Lovelace"


def test_token_post_needs_no_csrf_token(gql, world):
    from django.test import Client

    _, raw = services.api_token_issue(user=world["analyst"], name="ci")
    body = gql(token=raw, client=Client(enforce_csrf_checks=True)).post(ENTITY, {"id": str(world["mine"].pk)})
    assert body["data"]["entity"]["displayName"] == "Ada Lovelace"


def test_version_negotiation(gql):
    body = gql().post("{ apiVersion }", HTTP_X_IG_API_VERSION="v1")
    assert body.status == 200 and body.response["x-ig-api-version"] == "v1"
    body = gql().post("{ apiVersion }", HTTP_X_IG_API_VERSION="v7")
    assert body.status == 400
    assert body["errors"][0]["extensions"] == {"code": "UNSUPPORTED_API_VERSION", "supported": ["v1"]}
    assert body.response["x-ig-api-version"] == "v1"
