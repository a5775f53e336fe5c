"""Builders for test data. They go through the services, as real writes do."""

from __future__ import annotations

import itertools

from apps.core import services
from apps.core.choices import Role, Sensitivity
from apps.core.models import Entity, Tenant, User

_counter = itertools.count(1)


def tenant(slug: str | None = None, **kwargs) -> Tenant:
    return services.tenant_create(slug=slug or f"tenant-{next(_counter)}", **kwargs)


def user(
    *, tenant: Tenant, role: str = Role.ANALYST, clearance: int = Sensitivity.CONFIDENTIAL, username: str | None = None,
    password: str | None = None, staff: bool = False, **kwargs,
) -> User:  # fmt: skip
    created = services.user_create(
        username=username or f"user{next(_counter)}", tenant=tenant, role=role, clearance=clearance,
        password=password, **kwargs,
    )  # fmt: skip
    if staff:
        created.is_staff = True
        created.save(update_fields=["is_staff"])
    return created


def entity(*, tenant: Tenant, kind: str = "person", name: str | None = None, **kwargs) -> Entity:
    return services.entity_create(tenant=tenant, kind=kind, display_name=name or f"Entity {next(_counter)}", **kwargs)
