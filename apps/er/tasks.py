"""Celery tasks of entity resolution. Thin: they call apps.er.runs."""

from celery import shared_task

from apps.er import runs


@shared_task(name="er.score_block", acks_late=True)
def score_block_task(tenant_id: int, kind: str, pairs: list, keep_from: float = 0.0) -> dict:
    """Score one block of candidate pairs (a batch run fans its blocks out to the workers); return those scoring
    at least ``keep_from``."""
    return runs.score_block_for(tenant_id=tenant_id, kind=kind, pairs=[tuple(p) for p in pairs], keep_from=keep_from)


@shared_task(name="er.score_entity", acks_late=True)
def score_entity_task(entity_id: str) -> dict:
    """The online path: score a newly written entity against its candidates (after the write commits)."""
    return runs.score_entity(entity_id=entity_id)
