"""WebSocket for open Explorer canvases: tells a browser when entities it shows change."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.access.services import subject_for
from apps.core.selectors import tenants_with_flag
from apps.graph import selectors
from intelgraph.realtime import tenant_group

MAX_WATCHED = 5000


class ExplorerConsumer(AsyncJsonWebsocketConsumer):
    """Protocol: the browser sends ``{"watch": [entity ids on its canvas]}`` whenever that set changes and is
    answered ``{"type": "watching", "count": <distinct ids sent>}``; the server sends
    ``{"type": "changed", "changes": [{"id", "op", "into"}]}`` for watched ids only.
    Only members of a tenant with the ``explorer`` flag may connect (close codes 4401 / 4403).

    Every event is decided by the access policy for this subscriber, as reads are (``expand``): a watched id the
    subscriber may not see is answered like an unknown one and never heard of; see
    ``selectors.changes_for_subscriber`` for what a change to a masked entity or a merge says."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        tenant_ids = await database_sync_to_async(
            lambda: [t.pk for t in tenants_with_flag(user=user, flag="explorer")]
        )()
        if not tenant_ids:
            await self.close(code=4403)
            return
        self.user = user
        self.groups_joined = [tenant_group(t) for t in tenant_ids]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.watched: set[str] = set()
        await self.accept()
        await self.send_json({"type": "hello", "tenants": len(tenant_ids)})

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        ids = content.get("watch") if isinstance(content, dict) else None
        if (
            not isinstance(ids, list)
            or len(ids) > MAX_WATCHED
            or not all(isinstance(i, str) and len(i) <= 64 for i in ids)
        ):
            await self.send_json({"type": "error", "message": f'send {{"watch": [up to {MAX_WATCHED} entity ids]}}'})
            return
        self.watched = await database_sync_to_async(
            lambda: selectors.watchable_ids(subject=subject_for(user=self.user), ids=ids)
        )()
        # The count of what was sent, not of what is watched: the answer must not tell hidden ids from unknown ones.
        await self.send_json({"type": "watching", "count": len(set(ids))})

    async def entity_changes(self, event):
        if not any(c["id"] in self.watched for c in event["changes"]):
            return  # the usual case for most subscribers: nothing to decide, no query
        changes = await database_sync_to_async(self._changes_heard)(event)
        if changes:
            await self.send_json({"type": "changed", "changes": changes})

    def _changes_heard(self, event) -> list[dict]:
        # The subject is built per event, so a clearance lowered or a membership ended applies to the next one.
        if event.get("tenant") is None:
            return []  # published by a process from before events named their tenant: nothing can be decided
        subject = subject_for(user=self.user)
        return selectors.changes_for_subscriber(
            subject=subject, tenant_id=event["tenant"], changes=event["changes"], watched=self.watched
        )
