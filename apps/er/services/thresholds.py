"""A tenant's ER thresholds (auto-merge and review band) and whether it merges automatically at all. The
settings in force and the what-if previews are read in ``apps.er.selectors`` (``settings_for``, ``what_if``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.audit import services as audit
from apps.core.models import Tenant
from apps.er.models import TenantERSettings


def thresholds_set(
    *, tenant: Tenant, auto_merge: float, review: float, actor=None, auto_merge_enabled: bool | None = None
) -> TenantERSettings:
    """Set a tenant's thresholds (0 ≤ review < auto-merge ≤ 1), audited with the values before and after."""
    errors = {}
    for name, value in (("auto_merge_threshold", auto_merge), ("review_threshold", review)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            errors[name] = ValidationError("A probability between 0 and 1.", code="out_of_range")
    if not errors and review >= auto_merge:
        errors["review_threshold"] = ValidationError(
            "The review band must start below the auto-merge threshold.", code="order"
        )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current, _ = TenantERSettings.objects.get_or_create(tenant=tenant)
        before = {"auto": current.auto_merge_threshold, "review": current.review_threshold}
        current.auto_merge_threshold, current.review_threshold = float(auto_merge), float(review)
        if auto_merge_enabled is not None:
            current.auto_merge_enabled = bool(auto_merge_enabled)
        current.save()
        audit.record(
            "er.thresholds_changed",
            actor=actor,
            tenant=tenant,
            target=current,
            payload={
                "before": before,
                "after": {"auto": current.auto_merge_threshold, "review": current.review_threshold},
                "auto_merge_enabled": current.auto_merge_enabled,
            },
        )
    return current
