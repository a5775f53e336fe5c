"""What compliance staff read about the audit log: its health (verification, sealing, holds) and the coverage
report, narrowed to the tenants a member may see."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from apps.audit import selectors as audit_selectors
from apps.audit import services as audit
from apps.audit.errors import AuditCheckpointError
from apps.audit.models import AuditEvent, LegalHold
from apps.core import selectors as core_selectors


def _tenant_slugs(user) -> list[str] | None:
    if user.is_superuser:
        return None
    return list(core_selectors.tenants_for_user(user=user).values_list("slug", flat=True))


def coverage_for(*, user, since: datetime, until: datetime) -> audit_selectors.Coverage:
    """The coverage report as ``user`` may see it: superusers every tenant's counts (and events with none),
    members their tenants' only."""
    return audit_selectors.coverage(since=since, until=until, tenant_slugs=_tenant_slugs(user))


def audit_health(*, user) -> dict:
    """The audit admin's header: the last verification (its event, and the verified state kept outside the
    database), the sealing lag, active legal holds. Counts of the whole log are for superusers only (they
    tell other tenants' activity)."""
    last = (
        AuditEvent.objects.filter(event_type__in=["audit.verified", "audit.verify_failed"])
        .order_by("-seq")
        .values("event_type", "created_at", "payload")
        .first()
    )
    try:
        verified = audit.verified_load()
        verified_problem = None
    except AuditCheckpointError as exc:
        verified, verified_problem = None, str(exc)
    window = audit_selectors.unsealed_window()
    now = timezone.now()
    holds = LegalHold.objects.filter(lifted_at__isnull=True)
    slugs = _tenant_slugs(user)
    if slugs is not None:
        holds = holds.filter(tenant__slug__in=slugs)
    return {
        "superuser": user.is_superuser,
        "last_verify": {
            "ok": last["event_type"] == "audit.verified",
            "at": last["created_at"],
            "full": last["payload"].get("full"),
            "checked": last["payload"].get("checked"),
            "size": last["payload"].get("size"),
            "problem": last["payload"].get("problem"),
        }
        if last
        else None,
        "verified": verified,
        "verified_problem": verified_problem,
        "unsealed": window["unsealed"],
        "oldest_seconds": window["oldest_seconds"],
        "sealed": window["sealed"],
        "last_checkpoint_at": window["last_checkpoint_at"],
        "sealer": window["sealer"],
        "holds_active": sum(1 for hold in holds if hold.active(now)),
    }
