"""Every graph path shows only what the policy allows: names built from withheld attributes, the live-update
socket (through the real ASGI app, channel layer and database) and the export check, which must not tell a
hidden record of one's own tenant from an id that does not exist."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from apps.core import services
from apps.core.choices import Role, Sensitivity
from apps.er.services import merge_materialize
from apps.graph.services import outbox_drain
from tests import factories
from tests.graph.test_graphql import run_async

IBAN = "DE89370400440532013000"
IBAN_SPACED = "DE89 3704 0044 0532 0130 00"
NATIONAL_ID = "123-45-6789"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HOOD = """query($id: ID!) { neighborhood(id: $id, hops: 1) {
  nodes { id kind label masked reason sensitivity labels mergedInto } } }"""
NODES = "query($ids: [ID!]!) { graphNodes(ids: $ids) { id kind label masked reason sensitivity mergedInto } }"


def build() -> dict:
    tenant = services.tenant_create(slug=f"redact-{uuid.uuid4().hex[:6]}", feature_flags={"explorer": True})
    seed = factories.entity(tenant=tenant, name="Seed Person")
    account = factories.entity(
        tenant=tenant, kind="account", name=f"Deutsche Bank {IBAN_SPACED}", attributes={"iban": IBAN}
    )
    person = factories.entity(
        tenant=tenant, name=f"Jane Roe {NATIONAL_ID}", attributes={"national_id": NATIONAL_ID, "nickname": "JR"}
    )
    masked = factories.entity(tenant=tenant, kind="organization", name="Masked Org", sensitivity=Sensitivity.SECRET)
    hidden = factories.entity(tenant=tenant, name="Hidden Hand", sensitivity=Sensitivity.TOP_SECRET)
    for other in (account, person, masked, hidden):
        services.relationship_create(tenant=tenant, kind="associated_with", from_entity=seed, to_entity=other)
    outbox_drain()
    return {
        "tenant": tenant,
        "seed": seed,
        "account": account,
        "person": person,
        "masked": masked,
        "hidden": hidden,
        # a reader may not see iban (role) nor national_id (clearance); CONFIDENTIAL masks SECRET, hides TOP_SECRET
        "low": factories.user(tenant=tenant, role=Role.READER, clearance=Sensitivity.CONFIDENTIAL),
        "high": factories.user(tenant=tenant, role=Role.ANALYST, clearance=Sensitivity.TOP_SECRET),
    }


def shows_withheld(text: str) -> list[str]:
    """The withheld values (or a telling part: a group of the spaced IBAN) that a text shows, ids aside."""
    text = UUID_RE.sub("", text)
    folded = re.sub(r"[^0-9a-z]", "", text.casefold())
    found = [v for v in (IBAN, NATIONAL_ID) if re.sub(r"[^0-9a-z]", "", v.casefold()) in folded]
    found += [g for g in IBAN_SPACED.split() if len(g) >= 4 and g in text]
    return found


def gql(user, query, variables, **headers) -> tuple[dict, str]:
    _, raw = services.api_token_issue(user=user, name="redaction test")
    response = Client().post(
        "/graphql",
        data=json.dumps({"query": query, "variables": variables}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
        **headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    return body["data"], response.content.decode()


# --------------------------------------------------------------------------- names


@pytest.mark.django_db
def test_neighborhood_and_graph_nodes_withhold_values_that_names_are_built_from():
    world = build()
    ids = [str(world[k].pk) for k in ("seed", "account", "person", "masked")]
    data, text = gql(world["low"], HOOD, {"id": ids[0]})
    labels = {n["id"]: n["label"] for n in data["neighborhood"]["nodes"]}
    assert shows_withheld(text) == []
    assert labels[ids[1]] == "Deutsche Bank [withheld]"
    assert labels[ids[2]] == "Jane Roe [withheld]"
    assert labels[ids[3]] is None  # masked: a stub
    assert str(world["hidden"].pk) not in text

    data, text = gql(world["low"], NODES, {"ids": ids})
    assert shows_withheld(text) == []
    assert [n["label"] for n in data["graphNodes"]] == [
        "Seed Person",
        "Deutsche Bank [withheld]",
        "Jane Roe [withheld]",
        None,
    ]


@pytest.mark.django_db
def test_who_may_see_the_values_sees_the_whole_names():
    world = build()
    ids = [str(world["account"].pk), str(world["person"].pk)]
    data, _ = gql(world["high"], NODES, {"ids": ids}, HTTP_X_IG_PURPOSE="investigation")
    assert [n["label"] for n in data["graphNodes"]] == [f"Deutsche Bank {IBAN_SPACED}", f"Jane Roe {NATIONAL_ID}"]
    data, _ = gql(world["high"], HOOD, {"id": str(world["seed"].pk)})
    labels = {n["id"]: n["label"] for n in data["neighborhood"]["nodes"]}
    # without a declared purpose the purpose-bound national_id stays withheld, the IBAN does not
    assert (labels[ids[0]], labels[ids[1]]) == (f"Deutsche Bank {IBAN_SPACED}", "Jane Roe [withheld]")


@pytest.mark.django_db
def test_merged_into_does_not_name_a_canonical_entity_the_subscriber_may_not_see():
    world = build()
    visible = factories.entity(tenant=world["tenant"], name="Hidden Hand alias")
    merge = merge_materialize(tenant=world["tenant"], entities=[visible, world["hidden"]], purpose="investigation")
    data, text = gql(world["low"], NODES, {"ids": [str(visible.pk)]})
    assert data["graphNodes"][0]["mergedInto"] is None
    assert str(merge.canonical_id) not in text
    data, _ = gql(world["high"], NODES, {"ids": [str(visible.pk)]})
    assert data["graphNodes"][0]["mergedInto"] == str(merge.canonical_id)


# --------------------------------------------------------------------------- the live-update socket


def _socket(user):
    """A socket through the product's ASGI application (origin check, session auth, routing), signed in as user."""
    from intelgraph.asgi import application

    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return WebsocketCommunicator(
        application, "/ws/explorer/", headers=[(b"cookie", cookie.encode()), (b"origin", b"http://testserver")]
    )


async def _open(user, watch: list[str]) -> tuple[WebsocketCommunicator, dict]:
    communicator = await database_sync_to_async(_socket)(user)
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["type"] == "hello"
    await communicator.send_json_to({"watch": watch})
    return communicator, await communicator.receive_json_from(timeout=5)


def _update(entity, **fields):
    return database_sync_to_async(lambda: services.entity_update(entity=entity, **fields))()


@pytest.mark.django_db(transaction=True)
def test_the_socket_tells_a_subscriber_only_what_the_policy_lets_them_see():
    world = build()
    hidden, masked, account, seed = (str(world[k].pk) for k in ("hidden", "masked", "account", "seed"))

    async def scenario():
        # subscribing to a hidden id is answered like subscribing to an id that does not exist
        probe, to_hidden = await _open(world["low"], [hidden])
        await probe.disconnect()
        probe, to_random = await _open(world["low"], [str(uuid.uuid4())])
        await probe.disconnect()
        assert to_hidden == to_random

        low, _ = await _open(world["low"], [hidden, masked, account, seed])
        high, _ = await _open(world["high"], [hidden, account])
        await _update(world["hidden"], display_name="Hidden Hand (renamed)")
        await _update(world["masked"], display_name="Masked Org (renamed)")
        await _update(world["account"], attributes={"iban": IBAN, "bank": "Deutsche Bank"})
        # the hidden change is never sent to the low subscriber: the next message is the masked one's stub
        first = await low.receive_json_from(timeout=5)
        assert first == {"type": "changed", "changes": [{"id": masked, "op": "updated", "into": None}]}
        second = await low.receive_json_from(timeout=5)
        assert second == {"type": "changed", "changes": [{"id": account, "op": "updated", "into": None}]}
        assert shows_withheld(json.dumps([first, second])) == []
        assert await low.receive_nothing(timeout=0.3)
        # who may see the hidden entity still hears of it
        assert (await high.receive_json_from(timeout=5))["changes"] == [{"id": hidden, "op": "updated", "into": None}]
        assert (await high.receive_json_from(timeout=5))["changes"] == [{"id": account, "op": "updated", "into": None}]
        await low.disconnect()
        await high.disconnect()

    run_async(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_merge_into_a_hidden_entity_does_not_send_its_id():
    world = build()
    alias = factories.entity(tenant=world["tenant"], name="Hidden Hand alias")
    alias_id, hidden = str(alias.pk), str(world["hidden"].pk)

    async def scenario():
        low, _ = await _open(world["low"], [alias_id, hidden])
        high, _ = await _open(world["high"], [alias_id, hidden])
        merge = await database_sync_to_async(
            lambda: merge_materialize(
                tenant=world["tenant"], entities=[alias, world["hidden"]], purpose="investigation"
            )
        )()
        message = await low.receive_json_from(timeout=5)
        assert message == {"type": "changed", "changes": [{"id": alias_id, "op": "merged", "into": None}]}
        assert str(merge.canonical_id) not in json.dumps(message)
        assert await low.receive_nothing(timeout=0.3)
        changes = (await high.receive_json_from(timeout=5))["changes"]
        assert sorted(c["id"] for c in changes) == sorted([alias_id, hidden])
        assert {c["into"] for c in changes} == {str(merge.canonical_id)}
        await low.disconnect()
        await high.disconnect()

    run_async(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_deleted_hidden_entity_is_not_reported_but_a_visible_one_is():
    world = build()
    hidden, seed = str(world["hidden"].pk), str(world["seed"].pk)
    gone = factories.entity(tenant=world["tenant"], name="Short-lived")
    gone_id = str(gone.pk)

    async def scenario():
        low, _ = await _open(world["low"], [hidden, gone_id, seed])
        await database_sync_to_async(lambda: services.entity_delete(entity=world["hidden"]))()
        await database_sync_to_async(lambda: services.entity_delete(entity=gone))()
        message = await low.receive_json_from(timeout=5)
        assert message == {"type": "changed", "changes": [{"id": gone_id, "op": "deleted", "into": None}]}
        assert await low.receive_nothing(timeout=0.3)
        await low.disconnect()

    run_async(scenario)


# --------------------------------------------------------------------------- export


@pytest.mark.django_db
@pytest.mark.parametrize("purpose", ["", "investigation"])
def test_export_answers_a_hidden_id_exactly_like_an_unknown_one(purpose):
    world = build()
    client = Client()
    client.force_login(world["low"])
    headers = {"HTTP_X_IG_PURPOSE": purpose} if purpose else {}
    answers = []
    for entity_id in (str(world["hidden"].pk), str(uuid.uuid4())):
        response = client.post(
            "/explorer/export",
            data=json.dumps({"format": "json", "ids": [entity_id]}),
            content_type="application/json",
            **headers,
        )
        answers.append((response.status_code, response.content))
    assert answers[0] == answers[1]
    assert answers[0][0] == 403


@pytest.mark.django_db
def test_export_of_a_visible_canvas_with_a_hidden_id_on_it_is_allowed_and_counts_what_was_sent():
    world = build()
    client = Client()
    client.force_login(world["low"])
    bodies = []
    for extra in (str(world["hidden"].pk), str(uuid.uuid4())):
        response = client.post(
            "/explorer/export",
            data=json.dumps({"format": "png", "ids": [str(world["seed"].pk), extra]}),
            content_type="application/json",
            HTTP_X_IG_PURPOSE="investigation",
        )
        assert response.status_code == 200
        bodies.append(response.json())
    assert bodies[0] == bodies[1] == {"ok": True, "tenants": 1, "entities": 2}


@pytest.mark.django_db
def test_export_refuses_a_deeply_nested_body_with_400(client):
    tenant = services.tenant_create(slug="deep", feature_flags={"explorer": True})
    user = factories.user(tenant=tenant, username="deep-user")
    client.force_login(user)
    response = client.post("/explorer/export", data="[" * 100_000, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "BAD_REQUEST"
