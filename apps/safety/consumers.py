"""WebSocket for a restore drill's page: each step as it starts and ends (superusers only, as the page)."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.safety.drills import drill_group, progress_document
from apps.safety.models import RestoreDrill


class DrillProgressConsumer(AsyncJsonWebsocketConsumer):
    """Server -> browser only: ``{"type": "progress", "drill": <progress document>}``, first on connect, then on
    every change. Close codes: 4401 not signed in, 4403 not a superuser, 4404 no such drill."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        if not (user.is_active and user.is_superuser):
            await self.close(code=4403)
            return
        drill_id = self.scope["url_route"]["kwargs"]["drill_id"]
        drill = await database_sync_to_async(lambda: RestoreDrill.objects.filter(pk=drill_id).first())()
        if drill is None:
            await self.close(code=4404)
            return
        self.group = drill_group(drill.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "progress", "drill": await database_sync_to_async(progress_document)(drill)})

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def drill_progress(self, event):
        await self.send_json({"type": "progress", "drill": event["drill"]})
