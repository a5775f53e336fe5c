"""Reads of the core domain, scoped to what the asking user may see.

Admin querysets, GraphQL resolvers and commands call these, so every interface
narrows data the same way. Which entities and fields a subject may see is decided by
apps.access.selectors.readable, never here.
"""

from __future__ import annotations

from django.db.models import QuerySet

from apps.core.models import Entity, Membership, Tenant


def memberships_for_user(*, user) -> QuerySet[Membership]:
    if not getattr(user, "is_authenticated", False):
        return Membership.objects.none()
    return Membership.objects.filter(user=user, is_active=True, tenant__is_active=True).select_related("tenant")


def tenant_ids_for_user(*, user) -> list[int]:
    return list(memberships_for_user(user=user).values_list("tenant_id", flat=True))


def tenants_for_user(*, user) -> QuerySet[Tenant]:
    if getattr(user, "is_superuser", False):
        return Tenant.objects.all()
    return Tenant.objects.filter(pk__in=tenant_ids_for_user(user=user))


def tenants_with_flag(*, user, flag: str) -> list[Tenant]:
    """Tenants the user is an active member of that have a feature flag on (e.g. "explorer")."""
    return [m.tenant for m in memberships_for_user(user=user) if m.tenant.flag(flag)]


def provenance_for_entity(*, entity: Entity, limit: int = 50) -> list:
    """An entity's provenance, newest first, with its sources (the caller has already been allowed to read it)."""
    return list(entity.provenance.select_related("source").order_by("-recorded_at", "-pk")[:limit])


def merged_member_ids(*, entity: Entity, limit: int = 100) -> list:
    """Ids of the entities merged into this one (its resolution cluster)."""
    return list(Entity.objects.filter(merged_into=entity).order_by("pk").values_list("pk", flat=True)[:limit])
