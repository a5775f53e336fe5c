"""What compliance staff read about the audit log: its health (verification, sealing, holds) and the coverage
report, narrowed to the tenants a member may see."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count
from django.utils import timezone

from apps.audit import selectors as audit_selectors
from apps.audit import services as audit
from apps.audit.errors import AuditCheckpointError
from apps.audit.models import AuditEvent, LegalHold
from apps.compliance.choices import AccessDecision, AccessFinding, AccessItemKind, AccessReviewStatus
from apps.compliance.models import AccessReview, AccessReviewItem
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


# --------------------------------------------------------------------------- access reviews

REVIEW_TABS = (("pending", "pending"), ("flagged", "with findings"), ("decided", "decided"), ("all", "all"))


def _access_summary(item: AccessReviewItem) -> str:
    access = item.access or {}
    if item.kind == AccessItemKind.MEMBERSHIP:
        compartments = ", ".join(access.get("compartments") or []) or "none"
        return f"role {access.get('role')}, clearance {access.get('clearance_label')}, compartments {compartments}"
    if item.kind == AccessItemKind.GRANT:
        return f"{access.get('permission')} on entity {access.get('entity')}"
    if item.kind == AccessItemKind.TOKEN:
        used = access.get("last_used_at") or "never used"
        return f"{access.get('name')} ({access.get('prefix')}…), last used {used}" + (
            ", developer scope" if access.get("developer") else ""
        )
    return f"{item.kind} flag, last sign-in {access.get('last_login') or 'never'}"


def access_review_page(*, review: AccessReview, user, show: str = "pending") -> dict:
    """What the review page shows ``user``: progress, the items of a tab (pending first by default), and whether
    they may decide (the compliance role in the tenant); their own items say another reviewer decides them."""
    from apps.compliance.services import access_review_allowed

    items = review.items.select_related("decided_by")
    counts = {row["decision"]: row["n"] for row in items.values("decision").annotate(n=Count("pk"))}
    total = sum(counts.values())
    pending = counts.get(AccessDecision.PENDING, 0)
    shown = {
        "pending": items.filter(decision=AccessDecision.PENDING),
        "flagged": items.exclude(findings=[]),
        "decided": items.exclude(decision=AccessDecision.PENDING),
    }.get(show, items)
    show = show if show in dict(REVIEW_TABS) else "all"
    groups = set(user.groups.values_list("name", flat=True))
    findings = dict(AccessFinding.choices)
    rows = [
        {
            "item": item,
            "summary": _access_summary(item),
            "findings": [findings.get(f, f) for f in item.findings],
            "change": ", ".join(f"{k}: {v}" for k, v in (item.change or {}).items()),
            "own": item.user_id == user.pk or (item.access or {}).get("group") in groups,
            # staff and superuser flags are superusers' to remove; others certify them with their finding
            "revocable": user.is_superuser or item.kind not in (AccessItemKind.STAFF, AccessItemKind.SUPERUSER),
        }
        for item in shown.order_by("kind", "holder", "object_id")
    ]
    return {
        "review": review,
        "rows": rows,
        "show": show,
        "tabs": REVIEW_TABS,
        "counts": {
            "total": total,
            "pending": pending,
            "decided": total - pending,
            "flagged": items.exclude(findings=[]).count(),
        },
        "bar": [
            {"decision": d, "percent": round(100 * counts.get(d, 0) / total, 1) if total else 0}
            for d in (AccessDecision.CERTIFIED, AccessDecision.MODIFIED, AccessDecision.REVOKED)
        ],
        "overdue": review.status == AccessReviewStatus.OPEN and review.due_at < timezone.now(),
        "can_decide": access_review_allowed(actor=user, tenant_id=review.tenant_id),
    }
