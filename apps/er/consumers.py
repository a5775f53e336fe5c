"""WebSocket for the decision center: reviewers see claims and decisions of others as they happen."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.access import ranks
from apps.access import services as access
from apps.core.choices import Role


def queue_group(tenant_id: int) -> str:
    return f"er.queue.t{int(tenant_id)}"


def _reviewer_tenants(user) -> list[int]:
    return ranks.tenants_with_role(subject=access.subject_for(user=user), role=Role.REVIEWER)


class DecisionQueueConsumer(AsyncJsonWebsocketConsumer):
    """Server -> browser only: ``{"type": "pair", "pair": id, "status": ..., "claimed_by": name|null}``.
    Reviewers (and higher) of a tenant hear that tenant's queue; others are refused (close 4403)."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        tenant_ids = await database_sync_to_async(_reviewer_tenants)(user)
        if not tenant_ids:
            await self.close(code=4403)
            return
        self.joined = [queue_group(t) for t in tenant_ids]
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def pair_changed(self, event):
        await self.send_json({"type": "pair", **event["pair"]})
