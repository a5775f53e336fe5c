"""Compliance staff's changes to the audit log's keeping: legal holds and per-tenant retention overrides.

The audit app stores them and the purge obeys them (``apps.audit.retention``); who may change them is decided
here, by the access policy's admin-change table: ``legalhold`` and ``auditretentionoverride`` need the compliance
role (or higher) in the tenant; holds over every tenant are for superusers. Every change, and every refusal, is
an audit event.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.access import services as access
from apps.audit import catalogue
from apps.audit import services as audit
from apps.audit.errors import AuditRetentionError
from apps.audit.models import AuditRetentionOverride, LegalHold

HOLD_RECORD = "legalhold"
RETENTION_RECORD = "auditretentionoverride"


def _allowed(*, actor, tenant_id: int | None, record_type: str) -> bool:
    if actor.is_superuser:
        return True
    if tenant_id is None:
        return False
    subject = access.subject_for(user=actor)
    return access.admin_change_allowed(subject=subject, tenant_id=tenant_id, record_type=record_type)


def _refuse(*, actor, tenant_id, record_type: str, action: str, why: str, target=None) -> None:
    audit.record(
        "access.denied",
        actor=actor,
        tenant=tenant_id,
        target=target,
        target_type="" if target is not None else f"audit.{record_type}",
        payload={
            "action": action,
            "record_type": record_type,
            "reason": "ROLE",
            "bundle": access.policy.current_bundle().sha256,
        },
    )
    raise AuditRetentionError(why)


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
