"""Live updates for open Explorer canvases (platform layer: any lane publishes its changes here): changes are
published to a per-tenant Channels group.

Published only after the writing transaction commits, and never fatal: a write that committed
must not fail because Redis hiccuped (the canvas then simply does not hear of that change).
What reaches a browser is decided by the consumer for each subscriber with the same policy as reads
(``apps.graph.selectors.changes_for_subscriber``): only ids it watches and may see, a stub's change says no
more than the stub, and the canonical entity of a merge only if that one is visible too.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from django.db import transaction

logger = logging.getLogger(__name__)

OPS = ("updated", "deleted", "merged", "split")


def tenant_group(tenant_id: int) -> str:
    return f"explorer.t{int(tenant_id)}"


def publish_changes(*, tenant_id: int, changes: list[dict]) -> None:
    """changes: [{"id": str, "op": updated|deleted|merged|split, "into": str|None}], sent after commit."""
    if not changes:
        return
    payload = [{"id": str(c["id"]), "op": c["op"], "into": str(c["into"]) if c.get("into") else None} for c in changes]
    transaction.on_commit(lambda: _send(tenant_id, payload))


def _send(tenant_id: int, changes: list[dict]) -> None:
    send_to_group(tenant_group(tenant_id), {"type": "entity.changes", "tenant": int(tenant_id), "changes": changes})


def publish_after_commit(group: str, message: dict) -> None:
    """Any live message to a Channels group, sent once the caller's transaction commits (never fatal)."""
    transaction.on_commit(lambda: send_to_group(group, message))


def send_to_group(group: str, message: dict) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # the usual case: a sync caller (request thread, worker, command)
        _send_now(group, message)
    else:  # called from a thread that runs an event loop: async_to_sync cannot be used here
        threading.Thread(target=_send_now, args=(group, message), daemon=True).start()


def _send_now(group: str, message: dict) -> None:
    try:
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(group, message)
    except Exception as exc:
        logger.warning("could not publish live message to %s: %s", group, exc)
