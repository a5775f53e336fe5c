"""Celery tasks of the graph projection. Thin: they call apps.graph.services."""

import logging

from celery import shared_task

from apps.graph import services
from apps.graph.store import GraphStoreUnavailable

logger = logging.getLogger(__name__)


@shared_task(name="graph.drain_outbox", bind=True, max_retries=None, acks_late=True)
def drain_outbox(self) -> dict:
    """Apply pending outbox rows to the graph store; while the store is down, retry with backoff (max 5 min)."""
    services.drain_started()
    try:
        result = services.outbox_drain()
    except GraphStoreUnavailable as exc:
        countdown = min(300, 2 ** min(self.request.retries, 8))
        logger.warning("graph store unavailable, outbox kept; retrying in %ss: %s", countdown, exc)
        raise self.retry(exc=exc, countdown=countdown) from None
    return {"applied": result.applied, "batches": result.batches, "busy": result.busy, "remaining": result.remaining}
