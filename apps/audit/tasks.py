"""Scheduled audit work. Tasks stay thin: they call the audit service."""

import logging

from celery import shared_task

from apps.audit import services
from apps.audit.errors import AuditCheckpointError

logger = logging.getLogger(__name__)


@shared_task(name="audit.verify_chain")
def verify_audit_chain() -> dict:
    """Walk the audit chain (scheduled daily by Celery beat), move the checkpoint on, record the outcome as an event."""
    result: dict = {"ok": False, "checked": 0, "head_seq": 0}
    try:
        report = services.verify_chain(advance_checkpoint=True)
    except AuditCheckpointError as exc:  # the chain verified, the checkpoint could not be written
        result["problem"] = str(exc)
    else:
        result.update(ok=report.ok, checked=report.checked, head_seq=report.head_seq)
        if report.checkpoint_after is not None:
            result["checkpoint"] = {"from": getattr(report.checkpoint, "seq", None), "to": report.checkpoint_after.seq}
        if not report.ok:
            result["problem"] = str(report.problem)
    if result["ok"]:
        services.record("audit.verified", payload=result)
    else:
        logger.error("audit chain not verified: %s", result["problem"])
        services.record("audit.verify_failed", payload=result)
    return result
