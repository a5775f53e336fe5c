"""The graph through GraphQL: shapes, coded errors, no cross-tenant oracle, and the live-update socket."""

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from channels.testing.websocket import WebsocketCommunicator

from apps.core import services
from apps.core.choices import Role, Sensitivity
from apps.graph.services import outbox_drain
from tests import factories


def gql(client, query, variables=None, **headers):
    """The raw response and its body, for tests that look at the HTTP status too."""
    response = client.post(
        "/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
        **headers,
    )
    return response, response.json()


def codes(body):
    return [e["extensions"]["code"] for e in body.get("errors", [])]


HOOD = """query($id: ID!, $hops: Int, $edgeKinds: [String!], $limit: Int, $after: String) {
  neighborhood(id: $id, hops: $hops, edgeKinds: $edgeKinds, limit: $limit, after: $after) {
    seed truncated budgetExhausted degraded nextCursor totalNodes backend
    nodes { id tenant kind label masked reason sensitivity labels hop mergedInto }
    edges { id kind source target masked reason sensitivity }
  }
}"""
PREVIEW = """query($id: ID!) { neighborhoodPreview(id: $id) {
  total masked degraded backend byEdgeKind { kind count } byNodeKind { kind count } } }"""


@pytest.fixture
def world(tenant_a, tenant_b):
    seed = factories.entity(tenant=tenant_a, name="Ada Seed")
    secret = factories.entity(tenant=tenant_a, kind="organization", name="Secret Org", sensitivity=Sensitivity.SECRET)
    friend = factories.entity(tenant=tenant_a, name="Friend")
    services.relationship_create(tenant=tenant_a, kind="works_for", from_entity=seed, to_entity=secret)
    services.relationship_create(tenant=tenant_a, kind="associated_with", from_entity=seed, to_entity=friend)
    theirs = factories.entity(tenant=tenant_b, name="Bravo person")
    analyst = factories.user(tenant=tenant_a, role=Role.ANALYST, clearance=Sensitivity.CONFIDENTIAL)
    outbox_drain()
    return {"seed": seed, "secret": secret, "friend": friend, "theirs": theirs, "analyst": analyst}


@pytest.mark.django_db
def test_neighborhood_through_the_api(client, world):
    client.force_login(world["analyst"])
    response, body = gql(client, HOOD, {"id": str(world["seed"].pk)})
    assert response.status_code == 200 and "errors" not in body
    hood = body["data"]["neighborhood"]
    assert hood["seed"] == str(world["seed"].pk)
    assert (hood["truncated"], hood["degraded"], hood["backend"], hood["totalNodes"]) == (False, False, "falkordb", 3)
    by_id = {n["id"]: n for n in hood["nodes"]}
    assert by_id[str(world["secret"].pk)] == {
        "id": str(world["secret"].pk),
        "tenant": "alpha",
        "kind": "organization",
        "label": None,
        "masked": True,
        "reason": "CLEARANCE",
        "sensitivity": None,
        "labels": None,
        "hop": 1,
        "mergedInto": None,
    }
    assert by_id[str(world["friend"].pk)]["label"] == "Friend"
    assert {e["kind"] for e in hood["edges"]} == {"works_for", "associated_with"}


@pytest.mark.django_db
def test_pages_through_the_api(client, world):
    client.force_login(world["analyst"])
    _, first = gql(client, HOOD, {"id": str(world["seed"].pk), "limit": 2})
    page = first["data"]["neighborhood"]
    assert page["truncated"] and page["nextCursor"]
    _, second = gql(client, HOOD, {"id": str(world["seed"].pk), "limit": 2, "after": page["nextCursor"]})
    rest = second["data"]["neighborhood"]
    assert rest["nextCursor"] is None and not rest["truncated"]
    assert len(page["nodes"]) + len(rest["nodes"]) == 3
    assert len(page["edges"]) + len(rest["edges"]) == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"hops": 7}, "BAD_USER_INPUT"),
        ({"edgeKinds": ["teleported_to"]}, "BAD_USER_INPUT"),
        ({"after": "xyz"}, "INVALID_CURSOR"),
    ],
)
def test_bad_input_gets_coded_errors(client, world, variables, code):
    client.force_login(world["analyst"])
    response, body = gql(client, HOOD, {"id": str(world["seed"].pk), **variables})
    assert response.status_code == 200
    assert codes(body) == [code]
    assert body["data"] is None


@pytest.mark.django_db
def test_no_oracle_for_other_tenants_entities(client, world):
    client.force_login(world["analyst"])
    answers = []
    for entity_id in (str(world["theirs"].pk), str(uuid.uuid4())):
        _, body = gql(client, HOOD, {"id": entity_id})
        answers.append((codes(body), body["errors"][0]["message"]))
    assert answers[0] == answers[1] == (["NOT_FOUND"], "No such entity.")
    _, body = gql(client, HOOD, {"id": "nope"})
    assert codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.django_db
def test_anonymous_callers_are_refused(client, world):
    _, body = gql(client, HOOD, {"id": str(world["seed"].pk)})
    assert codes(body) == ["UNAUTHENTICATED"]


@pytest.mark.django_db
def test_preview_nodes_and_kinds(client, world):
    client.force_login(world["analyst"])
    _, body = gql(client, PREVIEW, {"id": str(world["seed"].pk)})
    preview = body["data"]["neighborhoodPreview"]
    assert (preview["total"], preview["masked"], preview["degraded"]) == (2, 1, False)
    assert {k["kind"]: k["count"] for k in preview["byEdgeKind"]} == {"works_for": 1, "associated_with": 1}
    ids = [str(world[k].pk) for k in ("seed", "secret", "theirs")]
    _, body = gql(client, "query($ids: [ID!]!) { graphNodes(ids: $ids) { id masked label } }", {"ids": ids})
    assert body["data"]["graphNodes"] == [
        {"id": ids[0], "masked": False, "label": "Ada Seed"},
        {"id": ids[1], "masked": True, "label": None},
    ]
    _, body = gql(client, "{ graphKinds { edgeKinds nodeKinds } }")
    assert body["data"]["graphKinds"]["edgeKinds"] == ["associated_with", "works_for"]
    assert "person" in body["data"]["graphKinds"]["nodeKinds"]


@pytest.mark.django_db
def test_graph_nodes_refuses_oversized_or_malformed_lists(client, world):
    client.force_login(world["analyst"])
    query = "query($ids: [ID!]!) { graphNodes(ids: $ids) { id } }"
    _, body = gql(client, query, {"ids": [str(uuid.uuid4()) for _ in range(501)]})
    assert codes(body) == ["BAD_USER_INPUT"]
    _, body = gql(client, query, {"ids": ["not-an-id"]})
    assert codes(body) == ["BAD_USER_INPUT"]


# --------------------------------------------------------------------------- live updates


def run_async(scenario) -> None:
    """Run a coroutine on its own thread: Playwright's sync API may hold an event loop on this one."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()


def _connect(user):
    """Connect through the real ASGI stack with the user already authenticated (session auth is Django's)."""
    from apps.graph.consumers import ExplorerConsumer

    communicator = WebsocketCommunicator(ExplorerConsumer.as_asgi(), "/ws/explorer/")
    communicator.scope["user"] = user
    return communicator


@pytest.mark.django_db(transaction=True)
def test_an_open_canvas_hears_of_changes_to_what_it_shows():
    tenant = services.tenant_create(slug="live", feature_flags={"explorer": True})
    watched = factories.entity(tenant=tenant, name="Watched")
    other = factories.entity(tenant=tenant, name="Not on the canvas")
    analyst = factories.user(tenant=tenant, role=Role.ANALYST)
    watched_id = str(watched.pk)  # delete() clears pk

    async def scenario():
        communicator = _connect(analyst)
        connected, _ = await communicator.connect()
        assert connected
        assert (await communicator.receive_json_from())["type"] == "hello"
        await communicator.send_json_to({"watch": [str(watched.pk)]})
        assert await communicator.receive_json_from() == {"type": "watching", "count": 1}
        from channels.db import database_sync_to_async

        await database_sync_to_async(lambda: services.entity_update(entity=other, display_name="Changed, unseen"))()
        await database_sync_to_async(lambda: services.entity_update(entity=watched, display_name="Changed"))()
        message = await communicator.receive_json_from(timeout=5)
        assert message == {"type": "changed", "changes": [{"id": str(watched.pk), "op": "updated", "into": None}]}
        await database_sync_to_async(lambda: services.entity_delete(entity=watched))()
        message = await communicator.receive_json_from(timeout=5)
        assert message["changes"] == [{"id": watched_id, "op": "deleted", "into": None}]
        await communicator.send_json_to({"watch": "everything"})
        assert (await communicator.receive_json_from())["type"] == "error"
        await communicator.disconnect()

    run_async(scenario)


@pytest.mark.django_db(transaction=True)
def test_the_socket_refuses_anonymous_users_and_tenants_without_the_flag():
    from django.contrib.auth.models import AnonymousUser

    tenant = services.tenant_create(slug="noflag")
    member = factories.user(tenant=tenant, role=Role.ANALYST)

    async def scenario():
        for user, code in ((AnonymousUser(), 4401), (member, 4403)):
            communicator = _connect(user)
            connected, close_code = await communicator.connect()
            assert not connected and close_code == code

    run_async(scenario)
