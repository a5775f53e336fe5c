"""The decision center's live channel: a claim or decision by one reviewer reaches the others."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from channels.db import database_sync_to_async

from apps.access.services import subject_for
from apps.core import services
from apps.core.choices import Role
from apps.er import services as er
from apps.er.consumers import DecisionQueueConsumer
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def run_async(scenario) -> None:
    """Run a coroutine on its own thread: Playwright's sync API may hold an event loop on this one."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()


def _connect(user):
    from channels.testing.websocket import WebsocketCommunicator

    communicator = WebsocketCommunicator(DecisionQueueConsumer.as_asgi(), "/ws/er/queue/")
    communicator.scope["user"] = user
    return communicator


def test_claims_and_decisions_reach_other_reviewers():
    tenant = services.tenant_create(slug="queue")
    rosa = factories.user(tenant=tenant, role=Role.REVIEWER, username="rosa")
    tom = factories.user(tenant=tenant, role=Role.REVIEWER, username="tom")
    analyst = factories.user(tenant=tenant, role=Role.ANALYST)
    a, b = factories.entity(tenant=tenant, name="A"), factories.entity(tenant=tenant, name="B")
    pair = factories.candidate_pair(tenant=tenant, a=a, b=b, score=0.9)

    async def scenario():
        watching = _connect(rosa)
        assert (await watching.connect())[0]
        await database_sync_to_async(lambda: er.pair_claim(subject=subject_for(user=tom), pair=pair))()
        assert await watching.receive_json_from(timeout=5) == {
            "type": "pair",
            "pair": pair.pk,
            "status": "pending",
            "claimed_by": "tom",
        }
        await database_sync_to_async(
            lambda: er.pair_reject(subject=subject_for(user=tom), pair=pair, reason="not the same")
        )()
        message = await watching.receive_json_from(timeout=5)
        assert message["status"] == "rejected" and message["claimed_by"] is None
        await watching.disconnect()
        refused = _connect(analyst)
        connected, code = await refused.connect()
        assert not connected and code == 4403

    run_async(scenario)
