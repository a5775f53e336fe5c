"""Pins and rollout: which model a tenant scores with, in shadow or active mode, from canary tenants to every
tenant (GA), and the one-click revert. Which pin is in force is read in ``apps.er.selectors`` (``pin_current``)."""

from __future__ import annotations

from django.db import transaction

from apps.access import bundle as policy
from apps.audit import services as audit
from apps.core.models import Tenant
from apps.er.choices import PinMode
from apps.er.models import ModelArtifact, ModelPin
from apps.er.selectors import ERError, pin_allowed


def pin_refused(*, actor, tenant_id: int | None, requested: str = "") -> None:
    """Audit a refused pin or revert (the admin refuses it as a form error; the services raise)."""
    member = tenant_id is not None and actor.memberships.filter(tenant_id=tenant_id).exists()
    audit.record(
        "access.denied",
        actor=actor,
        tenant=tenant_id if member else None,
        target_type="er.modelpin",
        payload={
            "action": "admin-change",
            "record_type": "modelpin",
            "tenant": tenant_id,
            "requested": requested[:100],
            "bundle": policy.current_bundle().sha256,
        },
    )


def _require_pin_allowed(actor, tenant: Tenant | None) -> None:
    if pin_allowed(actor=actor, tenant=tenant):
        return
    pin_refused(actor=actor, tenant_id=tenant.pk if tenant else None, requested="all tenants" if tenant is None else "")
    where = "every tenant (GA) is for superusers only" if tenant is None else f"{tenant.slug} needs its admin role"
    raise ERError(f"Pinning a model for {where}.", code="forbidden")


def _stage(tenant: Tenant | None, mode: str) -> str:
    if mode == PinMode.SHADOW:
        return "shadow"
    return "ga" if tenant is None else "canary"


def pin_set(
    *, tenant: Tenant | None, artifact: ModelArtifact | None, mode: str = PinMode.ACTIVE, actor=None, note: str = ""
) -> ModelPin:
    """Pin a model for a tenant (or, with no tenant, for all tenants: GA), in active or shadow mode."""
    if mode not in PinMode.values:
        raise ERError(f"Unknown mode {mode!r}; use active or shadow.", code="invalid_mode")
    _require_pin_allowed(actor, tenant)
    with transaction.atomic():
        previous = ModelPin.objects.select_for_update().filter(tenant=tenant, mode=mode).first()
        pin = ModelPin.objects.create(
            tenant=tenant,
            artifact=artifact,
            mode=mode,
            stage=_stage(tenant, mode),
            note=note[:300],
            actor=actor if getattr(actor, "pk", None) else None,
        )
        audit.record(
            "er.model_pinned",
            actor=actor,
            tenant=tenant,
            target=pin,
            payload={
                "sha256": artifact.sha256 if artifact else None,
                "mode": mode,
                "stage": pin.stage,
                "previous": previous.artifact.sha256 if previous and previous.artifact_id else None,
            },
        )
    return pin


def pin_revert(*, tenant: Tenant | None, mode: str = PinMode.ACTIVE, actor=None) -> ModelPin:
    """Go back to the model pinned before the current one (one click in the admin)."""
    _require_pin_allowed(actor, tenant)
    history = list(ModelPin.objects.filter(tenant=tenant, mode=mode).select_related("artifact")[:50])
    if not history:
        raise ERError("Nothing is pinned here; there is nothing to revert.", code="no_pin")
    current = history[0].artifact_id
    previous = next((p for p in history[1:] if p.artifact_id != current), None)
    if previous is None:
        if tenant is None or current is None:
            raise ERError("There is no earlier pin to go back to.", code="no_previous")
        # A tenant's first pin: reverting unpins it (active: back to the GA model; shadow: off).
        return pin_set(tenant=tenant, artifact=None, mode=mode, actor=actor, note="revert: unpinned")
    back_to = previous.artifact.sha256[:12] if previous.artifact_id else "unpinned"
    return pin_set(tenant=tenant, artifact=previous.artifact, mode=mode, actor=actor, note=f"revert to {back_to}")
