"""Celery tasks of entity resolution. Thin: they call apps.er.runs and apps.er.online."""

import logging
import time

from celery import shared_task

from apps.er import online, runs
from intelgraph import metering

logger = logging.getLogger(__name__)


@shared_task(name="er.score_block", acks_late=True)
def score_block_task(tenant_id: int, kind: str, pairs: list, keep_from: float = 0.0) -> dict:
    """Score one block of candidate pairs (a batch run fans its blocks out to the workers); return those scoring
    at least ``keep_from``."""
    started = time.process_time()
    try:
        return runs.score_block_for(
            tenant_id=tenant_id, kind=kind, pairs=[tuple(p) for p in pairs], keep_from=keep_from
        )
    finally:
        metering.meter(
            tenant_id=tenant_id, feature="er_batch", unit="cpu_second", quantity=time.process_time() - started
        )


@shared_task(name="er.score_outbox", bind=True, max_retries=None, acks_late=True)
def score_outbox_task(self) -> dict:
    """The online path: score the entities of committed writes (core's outbox rows for ER), batch by batch.
    Queued after every commit that wrote entities; if the database fails, retried with backoff (max 5 min)."""
    try:
        result = online.outbox_score()
    except Exception as exc:  # rows are kept: a later run scores them
        countdown = min(300, 2 ** min(self.request.retries, 8))
        logger.warning("online ER scoring failed, outbox rows kept; retrying in %ss: %s", countdown, exc)
        raise self.retry(exc=exc, countdown=countdown) from None
    return {"rows": result.rows, "scored": result.scored, "review": result.review, "failed": result.failed}


@shared_task(name="er.score_entity", acks_late=True)
def score_entity_task(entity_id: str) -> dict:
    """One entity scored online. Nothing queues it any more (writes reach ER through the outbox); kept so that
    messages queued before an upgrade are still understood."""
    return runs.score_entity(entity_id=entity_id)
