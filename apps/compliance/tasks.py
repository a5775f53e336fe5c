"""Scheduled compliance work. Tasks stay thin: they call the audit service."""

import logging

from celery import shared_task

from apps.compliance import services

logger = logging.getLogger(__name__)


@shared_task(name="compliance.verify_audit_chain")
def verify_audit_chain() -> dict:
    """Walk the audit chain (scheduled daily by Celery beat) and record the outcome as an event."""
    report = services.verify_chain()
    result = {"ok": report.ok, "checked": report.checked, "head_seq": report.head_seq}
    if report.ok:
        services.record("audit.verified", payload=result)
    else:
        result["problem"] = str(report.problem)
        logger.error("audit chain broken: %s", report.problem)
        services.record("audit.verify_failed", payload=result)
    return result
