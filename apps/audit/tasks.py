"""Scheduled audit work. Tasks stay thin: they call the audit services."""

import logging

from celery import shared_task
from django.conf import settings

from apps.audit import retention, selectors
from apps.audit.errors import AuditCheckpointError
from apps.audit.verification import verify_recorded
from intelgraph.alerts import alert

logger = logging.getLogger(__name__)


@shared_task(name="audit.verify_chain")
def verify_audit_chain() -> dict:
    """Verify the audit log incrementally (scheduled daily by Celery beat); the outcome is an audit event, and an
    alert when it fails.

    The task keeps its name of the hash-chain days, so the beat schedules already in databases keep running it."""
    result: dict = {"ok": False, "checked": 0, "size": 0}
    try:
        report = verify_recorded(full=False, via="celery beat")
    except AuditCheckpointError as exc:  # the log verified, the state file could not be written
        result["problem"] = str(exc)
    else:
        result.update(ok=report.ok, checked=report.checked, size=report.size, start=report.start)
        if not report.ok:
            result["problem"] = str(report.problem)
    if not result["ok"]:
        logger.error("audit log not verified: %s", result["problem"])
        alert(key="audit-verify-failed", subject="Audit log verification failed", body=result["problem"])
    return result


@shared_task(name="audit.check_sealing")
def check_sealing() -> dict:
    """Alert when an audit event has waited unsealed longer than AUDIT_UNSEALED_ALERT_SECONDS (the sealer is down,
    or a transaction left open holds the horizon back). Runs every minute from beat, not in the sealer, so a dead
    sealer is noticed too."""
    window = selectors.unsealed_window()
    late = window["oldest_seconds"] > settings.AUDIT_UNSEALED_ALERT_SECONDS
    if late:
        alert(
            key="audit-unsealed",
            subject="Audit events are not being sealed",
            body=(
                f"{window['unsealed']} audit event(s) wait to be sealed, the oldest for {window['oldest_seconds']:.0f} s "
                f"(alert after {settings.AUDIT_UNSEALED_ALERT_SECONDS} s). Is `manage.py audit_sealer` running? "
                f"{window['sealer']}. Appends go on; nothing is lost while it is down."
            ),
        )
    return {**window, "alerted": late}


@shared_task(name="audit.purge")
def purge_past_retention() -> dict:
    """Purge sealed segments past retention that no hold covers (daily, from beat); a dry run when
    AUDIT_PURGE_ENABLED is off. The purge records its own ``audit.purged`` event."""
    report = retention.purge(dry_run=not settings.AUDIT_PURGE_ENABLED, via="celery beat")
    return {
        "dry_run": report.dry_run,
        "segments": len(report.plan.purgeable),
        "events": report.deleted if not report.dry_run else report.plan.events,
        "held_segments": len(report.plan.held),
        "tombstones": len(report.tombstones),
    }
