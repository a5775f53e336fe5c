"""Compliance staff's work: the audit log's keeping (legal holds, per-tenant retention overrides) and the
quarterly access reviews.

The audit app stores holds and overrides and the purge obeys them (``apps.audit.retention``); who may change them
is decided here, by the access policy's admin-change table: ``legalhold`` and ``auditretentionoverride`` need the
compliance role (or higher) in the tenant; holds over every tenant are for superusers. Access reviews
(``AccessReview``, plan D-3): launched per tenant and quarter, decided item by item, closed when complete,
exported as signed evidence; ``accessreview`` in the same table says who. Every change, and every refusal, is an
audit event.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import time
import zipfile
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import CharField, Q
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import timezone
from guardian.models import GroupObjectPermission, UserObjectPermission

from apps.access import ranks
from apps.access import services as access
from apps.audit import catalogue
from apps.audit import services as audit
from apps.audit.errors import AuditRetentionError
from apps.audit.models import AuditCheckpoint, AuditPosition, AuditRetentionOverride, LegalHold
from apps.compliance import manifests
from apps.compliance.choices import AccessDecision, AccessFinding, AccessItemKind, AccessReviewStatus
from apps.compliance.errors import AccessReviewError, ComplianceError
from apps.compliance.models import (
    AccessReview,
    AccessReviewItem,
    Control,
    ControlApplicability,
    ControlAttestation,
    EvidenceBundle,
)
from apps.core import services as core
from apps.core.choices import Role, Sensitivity
from apps.core.models import ApiToken, Entity, Membership, Tenant, User
from intelgraph import metering
from intelgraph.alerts import alert

HOLD_RECORD = "legalhold"
RETENTION_RECORD = "auditretentionoverride"


def _allowed(*, actor, tenant_id: int | None, record_type: str) -> bool:
    if actor.is_superuser:
        return True
    if tenant_id is None:
        return False
    subject = access.subject_for(user=actor)
    return access.admin_change_allowed(subject=subject, tenant_id=tenant_id, record_type=record_type)


def _refuse(
    *, actor, tenant_id, record_type: str, action: str, why: str, target=None, app: str = "audit",
    error: type[Exception] = AuditRetentionError,
) -> None:  # fmt: skip
    """Record the refusal (``access.denied``, the policy bundle that decided) and raise ``error(why)``; ``app``
    names the record type's app for a refusal about no row yet."""
    audit.record(
        "access.denied",
        actor=actor,
        tenant=tenant_id,
        target=target,
        target_type="" if target is not None else f"{app}.{record_type}",
        payload={
            "action": action,
            "record_type": record_type,
            "reason": "ROLE",
            "bundle": access.policy.current_bundle().sha256,
        },
    )
    raise error(why)


def _hold_payload(hold: LegalHold) -> dict:
    return {
        "hold": hold.pk,
        "tenant": hold.tenant_id,
        "target_type": hold.target_type,
        "target_id": hold.target_id,
        "events_from": hold.events_from.isoformat() if hold.events_from else None,
        "events_until": hold.events_until.isoformat() if hold.events_until else None,
        "until": hold.until.isoformat() if hold.until else None,
        "reason": hold.reason[:1000],
    }


def hold_check(
    *,
    actor,
    reason: str,
    tenant=None,
    target_type: str = "",
    target_id: str = "",
    events_from: datetime | None = None,
    events_until: datetime | None = None,
    until: datetime | None = None,
) -> None:
    """What ``hold_place`` refuses, without placing anything (the admin form's validation): AuditRetentionError
    when the hold is inconsistent or the actor may not place it there (that refusal is audited)."""
    tenant_id = getattr(tenant, "pk", tenant)
    if not (reason or "").strip():
        raise AuditRetentionError("a legal hold needs a reason (the matter, request or case it is for)")
    if target_id and not target_type:
        raise AuditRetentionError("a hold on a target id needs the target's type too (e.g. core.entity)")
    if events_from and events_until and events_from > events_until:
        raise AuditRetentionError("the hold's time range ends before it starts")
    if until is not None and until <= timezone.now():
        raise AuditRetentionError("the hold's end date is in the past")
    if not _allowed(actor=actor, tenant_id=tenant_id, record_type=HOLD_RECORD):
        _refuse(
            actor=actor,
            tenant_id=tenant_id,
            record_type=HOLD_RECORD,
            action="hold-place",
            why=(
                "placing a legal hold over every tenant is for superusers"
                if tenant_id is None
                else "placing a legal hold needs the compliance role in that tenant"
            ),
        )


def hold_place(
    *,
    actor,
    reason: str,
    tenant=None,
    target_type: str = "",
    target_id: str = "",
    events_from: datetime | None = None,
    events_until: datetime | None = None,
    until: datetime | None = None,
) -> LegalHold:
    """Place a legal hold (needs the compliance role in its tenant; every tenant: superusers). AuditRetentionError
    with nothing changed when refused or inconsistent (``hold_check``)."""
    tenant_id = getattr(tenant, "pk", tenant)
    hold_check(
        actor=actor,
        reason=reason,
        tenant=tenant_id,
        target_type=target_type,
        target_id=target_id,
        events_from=events_from,
        events_until=events_until,
        until=until,
    )
    with transaction.atomic():
        hold = LegalHold.objects.create(
            tenant_id=tenant_id,
            target_type=target_type.strip(),
            target_id=str(target_id).strip(),
            events_from=events_from,
            events_until=events_until,
            reason=reason.strip(),
            until=until,
            placed_by=actor,
            placed_at=timezone.now(),
        )
        audit.record("audit.hold_placed", actor=actor, tenant=tenant_id, target=hold, payload=_hold_payload(hold))
    return hold


def hold_lift(*, hold: LegalHold, actor, reason: str) -> LegalHold:
    """Lift a hold (the compliance role in its tenant; superusers for every-tenant holds), with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise AuditRetentionError("lifting a legal hold needs a reason")
    if not _allowed(actor=actor, tenant_id=hold.tenant_id, record_type=HOLD_RECORD):
        _refuse(
            actor=actor,
            tenant_id=hold.tenant_id,
            record_type=HOLD_RECORD,
            action="hold-lift",
            target=hold,
            why=(
                "lifting a legal hold over every tenant is for superusers"
                if hold.tenant_id is None
                else "lifting a legal hold needs the compliance role in its tenant"
            ),
        )
    with transaction.atomic():
        locked = LegalHold.objects.select_for_update().get(pk=hold.pk)
        if locked.lifted_at is not None:
            raise AuditRetentionError(f"legal hold #{hold.pk} was already lifted on {locked.lifted_at:%Y-%m-%d}")
        locked.lifted_at, locked.lifted_by, locked.lift_reason = timezone.now(), actor, reason
        locked.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        audit.record(
            "audit.hold_lifted",
            actor=actor,
            tenant=locked.tenant_id,
            target=locked,
            payload={**_hold_payload(locked), "lift_reason": reason[:1000]},
        )
    return locked


def retention_override_check(*, actor, tenant, event_type: str, retention: str, reason: str) -> None:
    """What ``retention_override_set`` refuses, changing nothing (the admin form's validation)."""
    tenant_id = getattr(tenant, "pk", tenant)
    kind = catalogue.event_type_get(event_type)
    if kind is None:
        raise AuditRetentionError(f"{event_type!r} is not an audit event type (see the coverage report)")
    if retention not in catalogue.RETENTION_DAYS:
        raise AuditRetentionError(f"{retention!r} is not a retention class ({', '.join(catalogue.RETENTION_DAYS)})")
    if not catalogue.longer_or_equal(retention, kind.retention):
        raise AuditRetentionError(
            f"{event_type} is kept under {kind.retention}; a tenant may only lengthen that, not shorten it to "
            f"{retention}"
        )
    before = AuditRetentionOverride.objects.filter(tenant_id=tenant_id, event_type=event_type).first()
    if before is not None and not catalogue.longer_or_equal(retention, before.retention):
        raise AuditRetentionError(
            f"{event_type} is already kept under {before.retention} for this tenant; an override only lengthens"
        )
    if not (reason or "").strip():
        raise AuditRetentionError("a retention override needs a reason")
    if tenant_id is None:
        raise AuditRetentionError("a retention override is for one tenant")
    if not _allowed(actor=actor, tenant_id=tenant_id, record_type=RETENTION_RECORD):
        _refuse(
            actor=actor,
            tenant_id=tenant_id,
            record_type=RETENTION_RECORD,
            action="retention-change",
            why="changing retention needs the compliance role in that tenant",
        )


def retention_override_set(*, actor, tenant, event_type: str, retention: str, reason: str) -> AuditRetentionOverride:
    """Keep ``event_type`` longer for ``tenant``: the class may only lengthen the catalogue's and the tenant's
    current one (compliance role). AuditRetentionError, nothing changed, otherwise."""
    tenant_id = getattr(tenant, "pk", tenant)
    retention_override_check(actor=actor, tenant=tenant_id, event_type=event_type, retention=retention, reason=reason)
    with transaction.atomic():
        before = (
            AuditRetentionOverride.objects.select_for_update()
            .filter(tenant_id=tenant_id, event_type=event_type)
            .first()
        )
        if before is not None and not catalogue.longer_or_equal(retention, before.retention):
            raise AuditRetentionError(
                f"{event_type} is already kept under {before.retention} for this tenant; an override only lengthens"
            )
        override, _ = AuditRetentionOverride.objects.update_or_create(
            tenant_id=tenant_id,
            event_type=event_type,
            defaults={"retention": retention, "reason": reason.strip(), "created_by": actor},
        )
        audit.record(
            "audit.retention_changed",
            actor=actor,
            tenant=tenant_id,
            target=override,
            payload={
                "event_type": event_type,
                "before": before.retention if before else catalogue.retention_class(event_type),
                "after": retention,
                "reason": reason.strip()[:1000],
            },
        )
    return override


# --------------------------------------------------------------------------- access reviews (plan D-3)
# Who may launch, decide and close a tenant's review: the admin-change row "accessreview" of the access policy
# (compliance or higher in that tenant), superusers everywhere. Nobody decides their own access. A review only
# takes access away: revoking, or a modification that lowers a role or clearance or removes compartments.

REVIEW_RECORD = "accessreview"
TOKEN_UNUSED_DAYS = 90
REMIND_DAYS = 7  # reviewers are reminded daily in the last week before the due date
REVIEW_DUE_MAX_DAYS = 92  # a review is due within a quarter of its launch


def quarter_of(moment: datetime) -> str:
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def quarter_bounds(period: str) -> tuple[datetime, datetime]:
    """The first instant of the quarter and of the next one (UTC); AccessReviewError for a malformed quarter."""
    match = re.fullmatch(r"(\d{4})-Q([1-4])", period or "")
    if not match:
        raise AccessReviewError(f"{period!r} is not a quarter: give one such as {quarter_of(timezone.now())}")
    year, quarter = int(match[1]), int(match[2])
    if not 2000 <= year <= 2999:
        raise AccessReviewError(f"{period!r} is not a quarter this product can have evidence of (2000 to 2999)")
    start = datetime(year, 3 * quarter - 2, 1, tzinfo=UTC)
    end = datetime(year + quarter // 4, 3 * quarter % 12 + 1, 1, tzinfo=UTC)
    return start, end


def access_review_allowed(*, actor, tenant_id: int) -> bool:
    return _allowed(actor=actor, tenant_id=tenant_id, record_type=REVIEW_RECORD)


def _review_refuse(*, actor, tenant_id, action: str, why: str, target=None, record_type: str = REVIEW_RECORD,
                   error: type[Exception] = AccessReviewError) -> None:  # fmt: skip
    _refuse(
        actor=actor, tenant_id=tenant_id, record_type=record_type, action=action, why=why, target=target,
        app="compliance", error=error,
    )  # fmt: skip


def access_review_launch(
    *, tenant: Tenant, actor=None, period: str | None = None, due_at: datetime | None = None
) -> AccessReview:
    """Launch ``tenant``'s access review of ``period`` (default: this quarter), freezing its population now.

    ``actor`` None is the scheduled launch (Celery beat). AccessReviewError, nothing changed, when the quarter is
    malformed, the review was launched already, or the actor may not launch it (compliance role, or superuser).
    """
    now = timezone.now()
    period = period or quarter_of(now)
    start, _ = quarter_bounds(period)
    if start > now:  # launched early, it would freeze today's access and stand in for the real one
        raise AccessReviewError(f"{period} has not started: a quarter's review is launched once it has begun")
    due_at = due_at or now + timedelta(days=settings.ACCESS_REVIEW_DUE_DAYS)
    if due_at <= now:
        raise AccessReviewError("the review's due date is in the past")
    if due_at > now + timedelta(days=REVIEW_DUE_MAX_DAYS):
        raise AccessReviewError(f"the review's due date is more than {REVIEW_DUE_MAX_DAYS} days away")
    if actor is not None and not access_review_allowed(actor=actor, tenant_id=tenant.pk):
        _review_refuse(
            actor=actor,
            tenant_id=tenant.pk,
            action="access-review-launch",
            why=f"launching an access review needs the compliance role in {tenant}",
        )
    existing = AccessReview.objects.filter(tenant=tenant, period=period).first()
    if existing is not None:
        raise AccessReviewError(launched_already(existing))
    try:
        with transaction.atomic():
            review = AccessReview.objects.create(
                tenant=tenant, period=period, launched_at=now, launched_by=actor, due_at=due_at
            )
            items = AccessReviewItem.objects.bulk_create(_population(review))
            audit.record(
                "access_review.launched",
                actor=actor,
                actor_label=None if actor is not None else "celery beat",
                tenant=tenant,
                target=review,
                payload={
                    "period": period,
                    "due": due_at.isoformat(),
                    "items": len(items),
                    "kinds": _count(item.kind for item in items),
                    "findings": _count(f for item in items for f in item.findings),
                },
            )
    except IntegrityError:  # launched meanwhile by someone else (the unique constraint)
        raise AccessReviewError(launched_already(AccessReview.objects.get(tenant=tenant, period=period))) from None
    return review


def launched_already(review: AccessReview) -> str:
    return (
        f"the {review.period} access review of {review.tenant} was launched on {review.launched_at:%Y-%m-%d} "
        f"and is {review.status}: a quarter has one review"
    )


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def _population(review: AccessReview) -> list[AccessReviewItem]:
    """Every access into the tenant as it is now (see the models' docstring), with the orphan findings."""
    tenant, now = review.tenant, review.launched_at
    unused_since = now - timedelta(days=TOKEN_UNUSED_DAYS)
    memberships = list(Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__username"))
    users = {m.user_id: m.user for m in memberships}
    active_here = {m.user_id for m in memberships if m.is_active}
    active_anywhere = set(
        Membership.objects.filter(user_id__in=users, is_active=True).values_list("user_id", flat=True)
    )

    def where(user_id) -> list[str]:
        if user_id not in active_anywhere:
            return [AccessFinding.NO_ROLE]
        if user_id not in active_here:
            return [AccessFinding.OUTSIDE_TENANT]
        return []

    items = []
    for m in memberships:
        if not m.is_active:
            continue
        items.append(
            AccessReviewItem(
                review=review,
                kind=AccessItemKind.MEMBERSHIP,
                user=m.user,
                holder=m.user.get_username(),
                object_id=str(m.pk),
                access={
                    "role": m.role,
                    "clearance": m.clearance,
                    "clearance_label": Sensitivity(m.clearance).label,
                    "compartments": list(m.compartments),
                    "account_active": m.user.is_active,
                    "last_login": manifests.iso(m.user.last_login),
                },
                findings=[AccessFinding.NEVER_LOGGED_IN] if m.user.last_login is None else [],
            )
        )
    entity_type = ContentType.objects.get_for_model(Entity)
    entity_ids = Entity.objects.filter(tenant=tenant).annotate(text=Cast("pk", CharField())).values("text")
    grants = UserObjectPermission.objects.filter(content_type=entity_type, object_pk__in=entity_ids)
    for grant in grants.select_related("user", "permission").order_by("user__username", "object_pk"):
        items.append(
            AccessReviewItem(
                review=review,
                kind=AccessItemKind.GRANT,
                user=grant.user,
                holder=grant.user.get_username(),
                object_id=f"user-grant:{grant.pk}",
                access={"entity": grant.object_pk, "permission": grant.permission.codename},
                findings=[] if grant.user_id in active_here else [AccessFinding.OUTSIDE_TENANT],
            )
        )
    group_grants = GroupObjectPermission.objects.filter(content_type=entity_type, object_pk__in=entity_ids)
    for grant in group_grants.select_related("group", "permission").order_by("group__name", "object_pk"):
        outside = grant.group.user_set.exclude(pk__in=active_here).exists()
        items.append(
            AccessReviewItem(
                review=review,
                kind=AccessItemKind.GRANT,
                holder=f"group {grant.group.name}",
                object_id=f"group-grant:{grant.pk}",
                access={"entity": grant.object_pk, "permission": grant.permission.codename, "group": grant.group.name},
                findings=[AccessFinding.OUTSIDE_TENANT] if outside else [],
            )
        )
    tokens = ApiToken.objects.filter(user_id__in=users, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    for token in tokens.select_related("user").order_by("user__username", "pk"):
        findings = where(token.user_id)
        if (token.last_used_at or token.created_at) < unused_since:
            findings.append(AccessFinding.TOKEN_UNUSED)
        items.append(
            AccessReviewItem(
                review=review,
                kind=AccessItemKind.TOKEN,
                user=token.user,
                holder=token.user.get_username(),
                object_id=str(token.pk),
                access={
                    "name": token.name,
                    "prefix": token.prefix,
                    "developer": token.developer,
                    "created_at": manifests.iso(token.created_at),
                    "last_used_at": manifests.iso(token.last_used_at),
                    "expires_at": manifests.iso(token.expires_at),
                },
                findings=findings,
            )
        )
    for user in sorted(users.values(), key=lambda u: u.get_username()):
        for kind, held in ((AccessItemKind.STAFF, user.is_staff), (AccessItemKind.SUPERUSER, user.is_superuser)):
            if held:
                items.append(
                    AccessReviewItem(
                        review=review,
                        kind=kind,
                        user=user,
                        holder=user.get_username(),
                        object_id=str(user.pk),
                        access={
                            kind: True,
                            "account_active": user.is_active,
                            "last_login": manifests.iso(user.last_login),
                        },
                        findings=where(user.pk),
                    )
                )
    return items


def access_review_decide(
    *,
    item: AccessReviewItem,
    actor,
    decision: str,
    reason: str,
    role: str | None = None,
    clearance: int | None = None,
    compartments: list[str] | None = None,
) -> AccessReviewItem:
    """Certify, revoke or modify one item, with a reason; a revocation or modification is applied at once, through
    the services that own the access. AccessReviewError, nothing changed, when the decision cannot stand."""
    reason = (reason or "").strip()
    review = item.review
    if decision not in (AccessDecision.CERTIFIED, AccessDecision.REVOKED, AccessDecision.MODIFIED):
        raise AccessReviewError(f"{decision!r} is not a decision: certify, revoke or modify")
    if not reason:
        raise AccessReviewError("a decision needs a reason (what the reviewer checked)")
    if not access_review_allowed(actor=actor, tenant_id=review.tenant_id):
        _review_refuse(
            actor=actor,
            tenant_id=review.tenant_id,
            action="access-review-decide",
            target=item,
            why=f"deciding access review items needs the compliance role in {review.tenant}",
        )
    if _own(item, actor):
        _review_refuse(
            actor=actor,
            tenant_id=review.tenant_id,
            action="access-review-decide-own",
            target=item,
            why="nobody decides their own access: another reviewer must decide this item",
        )
    with transaction.atomic():
        item = AccessReviewItem.objects.select_for_update().select_related("review", "review__tenant").get(pk=item.pk)
        review = item.review
        if review.status != AccessReviewStatus.OPEN:
            raise AccessReviewError(f"the {review.period} review of {review.tenant} is closed: no more decisions")
        if item.decision != AccessDecision.PENDING:
            raise AccessReviewError(
                f"this item was already {item.decision} by {item.decided_by or 'someone'} on "
                f"{item.decided_at:%Y-%m-%d %H:%M}"
            )
        change = {}
        if decision == AccessDecision.REVOKED:
            change = _revoke(item, actor)
        elif decision == AccessDecision.MODIFIED:
            change = _modify(item, actor, role=role, clearance=clearance, compartments=compartments)
        item.decision, item.reason, item.change = decision, reason, change
        item.decided_by, item.decided_at = actor, timezone.now()
        item.save(update_fields=["decision", "reason", "change", "decided_by", "decided_at"])
        audit.record(
            "access_review.decided",
            actor=actor,
            tenant=review.tenant_id,
            target=item,
            payload={
                "review": review.pk,
                "period": review.period,
                "kind": item.kind,
                "holder": item.holder,
                "object": item.object_id,
                "decision": decision,
                "reason": reason[:1000],
                "change": change,
            },
        )
    return item


def _own(item: AccessReviewItem, actor) -> bool:
    if item.user_id is not None:
        return item.user_id == actor.pk
    group = (item.access or {}).get("group")
    return bool(group) and actor.groups.filter(name=group).exists()


def _outranked(item: AccessReviewItem, actor) -> bool:
    """A membership whose role is above the reviewer's own in the tenant (a compliance member reviewing an
    administrator): taking it away is for a reviewer of that rank, or a superuser."""
    if actor.is_superuser or item.kind != AccessItemKind.MEMBERSHIP:
        return False
    own = Membership.objects.filter(user=actor, tenant=item.review.tenant, is_active=True).values_list(
        "role", flat=True
    )
    role = (item.access or {}).get("role", "")
    return not any(ranks.role_at_least(role=mine, least=role) for mine in own)


def _revoke(item: AccessReviewItem, actor) -> dict:
    tenant = item.review.tenant
    if _outranked(item, actor):
        raise AccessReviewError(
            f"{item.holder} is {item.access.get('role')} here, above your role: certify it, or let a reviewer of that "
            "rank (or a superuser) take it away"
        )
    if item.kind == AccessItemKind.MEMBERSHIP:
        membership = Membership.objects.filter(pk=item.object_id, tenant=tenant).first()
        if membership is None or not membership.is_active:
            return {"applied": "the membership was no longer active"}
        core.membership_deactivate(membership=membership, actor=actor)
        return {"applied": "membership deactivated"}
    if item.kind == AccessItemKind.GRANT:
        which, _, pk = item.object_id.partition(":")
        model = UserObjectPermission if which == "user-grant" else GroupObjectPermission
        grant = model.objects.filter(pk=pk).first()
        if grant is None:
            return {"applied": "the grant was already gone"}
        grant.delete()
        audit.record(
            "access.grant_changed",
            actor=actor,
            tenant=tenant,
            target_type="core.entity",
            target_id=item.access.get("entity", ""),
            payload={
                "holder": item.holder,
                "permissions": [],
                "removed": item.access.get("permission"),
                "via": "access review",
            },
        )
        return {"applied": "grant removed"}
    if item.kind == AccessItemKind.TOKEN:
        token = ApiToken.objects.filter(pk=item.object_id).select_related("user").first()
        if token is None or token.revoked_at is not None:
            return {"applied": "the token was already revoked"}
        # A token reaches every tenant of its owner: revoking it here must not cut a tenant the reviewer has no say in.
        elsewhere = set(
            Membership.objects.filter(user=token.user, is_active=True).values_list("tenant_id", flat=True)
        ) - {tenant.pk}
        if not actor.is_superuser and any(not access_review_allowed(actor=actor, tenant_id=t) for t in elsewhere):
            raise AccessReviewError(
                f"{token.user} also works in tenants you do not review, and the token reaches them all: revoke their "
                "membership here instead (the token then reaches nothing of this tenant), or ask a superuser"
            )
        core.api_token_revoke(token=token, actor=actor)
        return {"applied": "token revoked"}
    # staff and superuser flags are superusers' alone, everywhere in the product
    if not actor.is_superuser:
        raise AccessReviewError(
            f"only a superuser removes a {item.get_kind_display()}: certify it with your finding, or ask one"
        )
    user = User.objects.filter(pk=item.object_id).first()
    if user is None:
        return {"applied": "the account was already gone"}
    field = "is_staff" if item.kind == AccessItemKind.STAFF else "is_superuser"
    if not getattr(user, field):
        return {"applied": f"{field} was already off"}
    setattr(user, field, False)
    core.user_update(user=user, actor=actor, changed=[field])
    return {"applied": f"{field} removed"}


def _modify(item: AccessReviewItem, actor, *, role, clearance, compartments) -> dict:
    if item.kind != AccessItemKind.MEMBERSHIP:
        raise AccessReviewError(f"a {item.get_kind_display()} is certified or revoked; only a membership is modified")
    if _outranked(item, actor):
        raise AccessReviewError(
            f"{item.holder} is {item.access.get('role')} here, above your role: certify it, or let a reviewer of that "
            "rank (or a superuser) change it"
        )
    membership = Membership.objects.filter(pk=item.object_id, tenant=item.review.tenant, is_active=True).first()
    if membership is None:
        raise AccessReviewError("the membership is no longer active: revoke or certify the item instead")
    change: dict = {}
    if role and role != membership.role:
        if role not in Role.values:
            raise AccessReviewError(f"{role!r} is not a role ({', '.join(Role.values)})")
        if not ranks.role_at_least(role=membership.role, least=role):
            raise AccessReviewError(
                f"an access review only takes access away: {role} is above the member's {membership.role}"
            )
        change["role"] = [membership.role, role]
    if clearance is not None:
        try:
            clearance = core.parse_sensitivity(clearance)
        except ValueError:
            raise AccessReviewError(f"{clearance!r} is not a clearance") from None
    if clearance is not None and clearance != membership.clearance:
        if clearance > membership.clearance:
            raise AccessReviewError("an access review only takes access away: that clearance is above the member's")
        change["clearance"] = [membership.clearance, clearance]
    if compartments is not None:
        wanted = sorted({c.strip() for c in compartments if c.strip()})
        if not set(wanted) <= set(membership.compartments):
            raise AccessReviewError(
                "an access review only takes access away: it may remove compartments, not add "
                + ", ".join(sorted(set(wanted) - set(membership.compartments)))
            )
        if wanted != sorted(membership.compartments):
            change["compartments"] = [sorted(membership.compartments), wanted]
    if not change:
        raise AccessReviewError(
            "the modification changes nothing: lower the role or clearance, or remove a compartment"
        )
    core.membership_set(
        user=membership.user,
        tenant=membership.tenant,
        role=change.get("role", [None, membership.role])[1],
        clearance=change.get("clearance", [None, membership.clearance])[1],
        compartments=change.get("compartments", [None, membership.compartments])[1],
        actor=actor,
    )
    return change


def access_review_close(*, review: AccessReview, actor) -> AccessReview:
    """Close a review whose every item is decided (the completeness proof); AccessReviewError otherwise."""
    if not access_review_allowed(actor=actor, tenant_id=review.tenant_id):
        _review_refuse(
            actor=actor,
            tenant_id=review.tenant_id,
            action="access-review-close",
            target=review,
            why=f"closing an access review needs the compliance role in {review.tenant}",
        )
    with transaction.atomic():
        review = AccessReview.objects.select_for_update().select_related("tenant").get(pk=review.pk)
        if review.status != AccessReviewStatus.OPEN:
            raise AccessReviewError(f"the {review.period} review of {review.tenant} is closed already")
        pending = review.items.filter(decision=AccessDecision.PENDING).count()
        if pending:
            raise AccessReviewError(
                f"{pending} item(s) are still undecided: every item is certified, revoked or modified before the "
                "review closes"
            )
        review.status, review.closed_at, review.closed_by = AccessReviewStatus.CLOSED, timezone.now(), actor
        review.save(update_fields=["status", "closed_at", "closed_by"])
        decisions = _count(review.items.values_list("decision", flat=True))
        audit.record(
            "access_review.closed",
            actor=actor,
            tenant=review.tenant_id,
            target=review,
            payload={"period": review.period, "decisions": decisions, "late": review.closed_at > review.due_at},
        )
    return review


DECISION_COLUMNS = (
    "review", "tenant", "period", "item", "kind", "holder", "object", "access_at_launch", "findings", "decision",
    "reason", "change", "decided_by", "decided_at",
)  # fmt: skip


def access_review_export(*, review: AccessReview, actor) -> tuple[bytes, str]:
    """A closed review as signed evidence: ``decisions.csv`` (every item and its decision), the inclusion proofs of
    the review's audit events (launch, each decision, close) against the latest checkpoint, and the manifest.
    Returns the zip and its file name; AccessReviewError while the review is open or for a member without the
    compliance role."""
    if not access_review_allowed(actor=actor, tenant_id=review.tenant_id):
        _review_refuse(
            actor=actor,
            tenant_id=review.tenant_id,
            action="access-review-export",
            target=review,
            why=f"exporting an access review needs the compliance role in {review.tenant}",
        )
    if review.status != AccessReviewStatus.CLOSED:
        raise AccessReviewError("close the review first: the export is the record of a finished review")
    data, name, events, gaps = access_review_export_data(review, counts=True)
    # Evidence exports are metered but never refused at a budget cap: an auditor's evidence must stay reachable.
    metering.meter(tenant_id=review.tenant_id, feature="export", unit="export", quantity=1)
    audit.record(
        "access_review.exported",
        actor=actor,
        tenant=review.tenant_id,
        target=review,
        payload={"period": review.period, "sha256": hashlib.sha256(data).hexdigest(), "events": events, "gaps": gaps},
    )
    return data, name


def access_review_export_data(review: AccessReview, *, counts: bool = False):
    """The signed zip of a closed review and its file name (with the number of events and gaps when ``counts``);
    no permission check and no audit event: ``access_review_export`` and the evidence bundle do those."""
    items = list(review.items.select_related("decided_by").order_by("kind", "holder", "object_id"))
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(DECISION_COLUMNS)
    for item in items:
        writer.writerow(
            [
                review.pk, review.tenant.slug, review.period, item.pk, item.kind, item.holder, item.object_id,
                json.dumps(item.access, sort_keys=True), " ".join(item.findings), item.decision, item.reason,
                json.dumps(item.change, sort_keys=True) if item.change else "",
                item.decided_by.get_username() if item.decided_by else "", manifests.iso(item.decided_at),
            ]
        )  # fmt: skip
    start, end = quarter_bounds(review.period)
    targets = [("compliance.accessreview", str(review.pk))] + [
        ("compliance.accessreviewitem", str(i.pk)) for i in items
    ]
    events = _sealed_events(targets, tenant_id=review.tenant_id)
    proofs, checkpoint, gaps = manifests.audit_proofs_file(
        "audit-events.proofs.jsonl",
        events,
        description="the review's audit events (launch, every decision, close), each with its inclusion proof",
    )
    decisions = manifests.EvidenceFile(
        "decisions.csv",
        text.getvalue().encode(),
        description="every item of the review as frozen at launch, its findings and its decision",
        effective_from=start,
        effective_until=end,
    )
    proofs.effective_from, proofs.effective_until = start, end
    metadata = {
        "tenant": review.tenant.slug,
        "period": review.period,
        "review": review.pk,
        "launched_at": manifests.iso(review.launched_at),
        "due_at": manifests.iso(review.due_at),
        "closed_at": manifests.iso(review.closed_at),
        "closed_by": review.closed_by.get_username() if review.closed_by else None,
        "items": len(items),
        "decisions": _count(item.decision for item in items),
        "retention": catalogue.retention_class("access_review.decided"),
    }
    data = manifests.evidence_zip(
        kind="access-review", metadata=metadata, files=[decisions, proofs], gaps=gaps, checkpoint=checkpoint
    )
    name = f"access-review-{review.tenant.slug}-{review.period}.zip"
    return (data, name, len(events), len(gaps)) if counts else (data, name)


def _sealed_events(targets, *, tenant_id: int) -> list:
    """The review's audit events, once the sealer has sealed them under a checkpoint so the export can prove
    them (it polls twice a second); what is still not sealed after ACCESS_REVIEW_EXPORT_WAIT seconds becomes a
    gap in the manifest. A closed review's events do not change meanwhile."""
    events = manifests.audit_events_about(targets, tenant_id=tenant_id)
    numbers = [event.seq for event in events]
    deadline = time.monotonic() + settings.ACCESS_REVIEW_EXPORT_WAIT
    while True:
        last = AuditCheckpoint.objects.order_by("-size").values_list("size", flat=True).first() or 0
        if AuditPosition.objects.filter(event_seq__in=numbers, position__lte=last).count() == len(numbers):
            return events
        if time.monotonic() > deadline:
            return events
        time.sleep(0.25)


# --------------------------------------------------------------------------- schedules: launch and remind


def access_reviews_launch_due(*, now: datetime | None = None) -> list[AccessReview]:
    """Launch this quarter's review of every active tenant that has none yet (Celery beat, each quarter)."""
    period = quarter_of(now or timezone.now())
    launched = []
    for tenant in Tenant.objects.filter(is_active=True).exclude(access_reviews__period=period).order_by("slug"):
        try:
            launched.append(access_review_launch(tenant=tenant, period=period))
        except AccessReviewError:  # launched meanwhile
            continue
    return launched


def _people(tenant, *, least: str) -> list[str]:
    memberships = Membership.objects.filter(tenant=tenant, is_active=True, user__is_active=True).exclude(user__email="")
    return sorted(
        {m.user.email for m in memberships.select_related("user") if ranks.role_at_least(role=m.role, least=least)}
    )


def access_reviews_remind(*, now: datetime | None = None) -> dict:
    """Remind the reviewers of open reviews due within a week (once a day, by e-mail); for an overdue one, the
    "access review overdue" alert and an escalation to the tenant's administrators (once a day). Audited."""
    now = now or timezone.now()
    done = {"reminded": [], "overdue": []}
    for review in AccessReview.objects.filter(status=AccessReviewStatus.OPEN).select_related("tenant"):
        pending = review.items.filter(decision=AccessDecision.PENDING).count()
        if not pending:
            continue
        url = f"{settings.SITE_URL}{reverse('admin:compliance_accessreview_change', args=[review.pk])}"
        if review.due_at <= now:
            if review.overdue_alerted_at and review.overdue_alerted_at.date() >= now.date():
                continue
            body = (
                f"The {review.period} access review of {review.tenant} was due on {review.due_at:%Y-%m-%d} "
                f"({(now - review.due_at).days} day(s) ago) and {pending} item(s) are still undecided. Review them: "
                f"{url}"
            )
            alert(key=f"access-review-overdue-{review.pk}-{now:%Y%m%d}", subject="Access review overdue", body=body)
            administrators = _people(review.tenant, least=Role.ADMIN)
            _mail(
                f"Access review overdue: {review.tenant} {review.period}",
                body + "\n\nYou receive this as an administrator of the tenant (escalation).",
                administrators,
            )
            _notified(review, "overdue_alerted_at", now, "access_review.overdue", pending, escalated_to=administrators)
            done["overdue"].append(review.pk)
        elif review.due_at - now <= timedelta(days=REMIND_DAYS):
            if review.reminded_at and review.reminded_at.date() >= now.date():
                continue
            reviewers = _people(review.tenant, least=Role.COMPLIANCE)
            _mail(
                f"Access review due {review.due_at:%Y-%m-%d}: {review.tenant} {review.period}",
                f"{pending} item(s) of the {review.period} access review of {review.tenant} wait for a decision "
                f"(due {review.due_at:%Y-%m-%d}). Review them: {url}",
                reviewers,
            )
            _notified(review, "reminded_at", now, "access_review.reminded", pending, reviewers=reviewers)
            done["reminded"].append(review.pk)
    return done


def _mail(subject: str, body: str, to: list[str]) -> None:
    if to:
        send_mail(f"[IntelGraph] {subject}", body, settings.DEFAULT_FROM_EMAIL, to, fail_silently=True)


def _notified(review: AccessReview, field: str, now: datetime, event_type: str, pending: int, **people) -> None:
    """Remember when the review's people were told (once a day), and record it (how many were told)."""
    setattr(review, field, now)
    review.save(update_fields=[field])
    audit.record(
        event_type,
        actor_label="celery beat",
        tenant=review.tenant_id,
        target=review,
        payload={"period": review.period, "pending": pending, **{k: len(v) for k, v in people.items()}},
    )


# --------------------------------------------------------------------------- the control library (plan D-1)

APPLICABILITY_RECORD = "controlapplicability"
ATTESTATION_RECORD = "controlattestation"


def controls_sync() -> dict:
    """Make the Control rows match ``control_library`` (after every migrate, and ``manage.py controls_sync``):
    add and update controls, retire those the library dropped (applicability decisions stay). A change to a
    library already loaded is audited."""
    from apps.compliance.control_library import CONTROLS, LIBRARY_VERSION

    changes = {"added": [], "updated": [], "retired": []}
    with transaction.atomic():
        existing = {control.code: control for control in Control.objects.select_for_update()}
        for code, category, title, description, owner, frequency, sources in CONTROLS:
            values = {
                "category": category,
                "title": title,
                "description": description,
                "owner": owner,
                "frequency": frequency,
                "sources": list(sources),
                "library_version": LIBRARY_VERSION,
                "is_active": True,
            }
            control = existing.get(code)
            if control is None:
                Control.objects.create(code=code, **values)
                changes["added"].append(code)
            elif any(getattr(control, k) != v for k, v in values.items()):
                Control.objects.filter(pk=control.pk).update(**values)
                changes["updated"].append(code)
        listed = {entry[0] for entry in CONTROLS}
        for code, control in existing.items():
            if code not in listed and control.is_active:
                Control.objects.filter(pk=control.pk).update(is_active=False)
                changes["retired"].append(code)
        # The first load (a new database, a test's flush) is the migration's; a change of library is audited.
        if existing and any(changes.values()):
            audit.record(
                "compliance.controls_synced",
                actor_label="controls_sync",
                payload={"version": LIBRARY_VERSION, **changes},
            )
    return changes


def applicability_set(
    *, tenant: Tenant, control: Control, applicable: bool, reason: str, actor
) -> ControlApplicability:
    """Include or exclude a control for a tenant (its Statement of Applicability). Excluding needs a reason and the
    compliance role in the tenant; AccessReviewError otherwise, nothing changed."""
    reason = (reason or "").strip()
    if not applicable and not reason:
        raise ComplianceError(f"excluding {control.code} for {tenant} needs a reason (why it does not apply)")
    if not _allowed(actor=actor, tenant_id=tenant.pk, record_type=APPLICABILITY_RECORD):
        _review_refuse(
            actor=actor,
            tenant_id=tenant.pk,
            action="applicability-change",
            why=f"changing what applies to {tenant} needs the compliance role there",
            record_type=APPLICABILITY_RECORD,
            error=ComplianceError,
        )
    with transaction.atomic():
        row, _ = ControlApplicability.objects.update_or_create(
            tenant=tenant, control=control, defaults={"applicable": applicable, "reason": reason, "decided_by": actor}
        )
        audit.record(
            "compliance.applicability_changed",
            actor=actor,
            tenant=tenant,
            target=row,
            payload={"control": control.code, "applicable": applicable, "reason": reason[:1000]},
        )
    return row


def control_attest(
    *,
    control: Control,
    actor,
    statement: str,
    effective_from,
    effective_until,
    tenant: Tenant | None = None,
    document_sha256: str = "",
) -> ControlAttestation:
    """Record that a control was met over a period (compliance role in the tenant; every tenant: superusers)."""
    statement = (statement or "").strip()
    document_sha256 = (document_sha256 or "").strip().lower()
    if not statement:
        raise ComplianceError("an attestation needs a statement of what was done")
    if effective_until < effective_from:
        raise ComplianceError("the attested period ends before it starts")
    if document_sha256 and not re.fullmatch(r"[0-9a-f]{64}", document_sha256):
        raise ComplianceError("the document's SHA-256 is 64 hexadecimal digits")
    tenant_id = tenant.pk if tenant is not None else None
    if not _allowed(actor=actor, tenant_id=tenant_id, record_type=ATTESTATION_RECORD):
        _review_refuse(
            actor=actor,
            tenant_id=tenant_id,
            action="control-attest",
            why="attesting a control for every tenant is for superusers"
            if tenant is None
            else f"attesting a control for {tenant} needs the compliance role there",
            record_type=ATTESTATION_RECORD,
            error=ComplianceError,
        )
    with transaction.atomic():
        attestation = ControlAttestation.objects.create(
            control=control,
            tenant=tenant,
            statement=statement,
            document_sha256=document_sha256,
            effective_from=effective_from,
            effective_until=effective_until,
            attested_by=actor,
        )
        audit.record(
            "compliance.control_attested",
            actor=actor,
            tenant=tenant_id,
            target=attestation,
            payload={
                "control": control.code,
                "from": str(effective_from),
                "until": str(effective_until),
                "statement": statement[:1000],
                "document_sha256": document_sha256,
            },
        )
    return attestation


# --------------------------------------------------------------------------- evidence bundle v4

BUNDLE_RECORD = "evidencebundle"


def evidence_bundle_request(*, tenant: Tenant | None, period: str, actor) -> EvidenceBundle:
    """Ask for a quarter's evidence bundle (compliance role in the tenant; every tenant: superusers); a Celery task
    builds it once this commits. ComplianceError, nothing queued, for a malformed or future quarter or a refused
    actor."""
    from apps.compliance.bundle import period_problem

    period_problem(tenant=tenant, period=period)
    tenant_id = tenant.pk if tenant is not None else None
    if not _allowed(actor=actor, tenant_id=tenant_id, record_type=BUNDLE_RECORD):
        _review_refuse(
            actor=actor,
            tenant_id=tenant_id,
            action="evidence-bundle",
            why="a bundle of every tenant is for superusers"
            if tenant is None
            else f"an evidence bundle of {tenant} needs the compliance role there",
            record_type=BUNDLE_RECORD,
            error=ComplianceError,
        )
    with transaction.atomic():
        bundle = EvidenceBundle.objects.create(tenant=tenant, period=period, requested_by=actor)
        transaction.on_commit(lambda: _queue_bundle(bundle.pk))
    return bundle


def _queue_bundle(bundle_id: int) -> None:
    from apps.compliance.tasks import evidence_bundle_build

    evidence_bundle_build.delay(bundle_id)


def evidence_bundle_run(*, bundle: EvidenceBundle) -> EvidenceBundle:
    """Build a requested bundle (the Celery task), moving its progress on as it goes; audited when done."""
    from django.core.files.base import ContentFile

    from apps.compliance.bundle import bundle_build

    EvidenceBundle.objects.filter(pk=bundle.pk).update(status=EvidenceBundle.Status.RUNNING, progress=1)

    def progress(percent: int, step: str) -> None:
        EvidenceBundle.objects.filter(pk=bundle.pk).update(progress=min(percent, 99), step=step[:100])

    try:
        data = bundle_build(tenant=bundle.tenant, period=bundle.period, progress=progress)
    except Exception as exc:
        EvidenceBundle.objects.filter(pk=bundle.pk).update(
            status=EvidenceBundle.Status.FAILED, error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now()
        )
        raise
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read(manifests.MANIFEST_NAME))
    bundle.refresh_from_db()
    slug = bundle.tenant.slug if bundle.tenant else "all-tenants"
    bundle.file.save(f"evidence-{slug}-{bundle.period}-{bundle.pk}.zip", ContentFile(data), save=False)
    bundle.sha256, bundle.size, bundle.gaps = hashlib.sha256(data).hexdigest(), len(data), len(manifest["gaps"])
    bundle.status, bundle.progress, bundle.step, bundle.finished_at = (
        EvidenceBundle.Status.DONE,
        100,
        "done",
        timezone.now(),
    )
    bundle.save()
    metering.meter(tenant_id=bundle.tenant_id, feature="export", unit="export", quantity=1)
    audit.record(
        "compliance.bundle_exported",
        actor=bundle.requested_by,
        tenant=bundle.tenant_id,
        target=bundle,
        payload={
            "period": bundle.period,
            "sha256": bundle.sha256,
            "files": len(manifest["files"]),
            "gaps": bundle.gaps,
        },
    )
    return bundle


def evidence_bundle_downloaded(*, bundle: EvidenceBundle, actor) -> None:
    """Record who took a copy of a bundle (the evidence of a whole quarter leaves the product)."""
    audit.record(
        "compliance.bundle_downloaded",
        actor=actor,
        tenant=bundle.tenant_id,
        target=bundle,
        payload={"period": bundle.period, "sha256": bundle.sha256},
    )
