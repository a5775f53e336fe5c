"""Reads of the audit log's state, for /readyz, /metrics, the admin and the sealing alert; the coverage report."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from apps.audit import catalogue
from apps.audit.models import (
    AuditCheckpoint,
    AuditEvent,
    AuditPosition,
    AuditRetentionOverride,
)


def unsealed_window() -> dict:
    """How far sealing is behind: committed events not sealed yet, the age of the oldest, the last checkpoint.

    Every event whose transaction id is at or above the last checkpoint's horizon is unsealed (the sealer seals
    by transaction-id ranges), so this is one range read on an index, not an anti-join.
    """
    last = AuditCheckpoint.objects.order_by("-size").values("size", "horizon", "created_at").first()
    horizon = last["horizon"] if last else 0
    unsealed = AuditEvent.objects.filter(xid__gte=horizon)
    if last is None or horizon == 0:  # hash-chained events not adopted yet count too
        adopted = (
            AuditPosition.objects.filter(position=last["size"]).values_list("event_seq", flat=True).first()
            if last
            else 0
        )
        unsealed = unsealed | AuditEvent.objects.filter(xid__isnull=True, seq__gt=adopted or 0)
    count = unsealed.count()
    oldest = unsealed.order_by("created_at").values_list("created_at", flat=True).first()
    age = max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0
    return {
        "unsealed": count,
        "oldest_seconds": round(age, 3),
        "sealed": last["size"] if last else 0,
        "last_checkpoint_at": last["created_at"].isoformat() if last else None,
        "sealer": sealer_state(),
    }


def sealer_state() -> str:
    from apps.audit.sealing import sealer_lock_holder

    with connection.cursor():
        pid = sealer_lock_holder()
    return f"sealer running (backend {pid})" if pid else "no sealer holds the sealer lock"


def event_seal_state(event: AuditEvent) -> dict:
    """Where an event is in the log: its position and the first checkpoint that covers it, or that it waits."""
    position = AuditPosition.objects.filter(event_seq=event.seq).first()
    if position is None:
        return {"sealed": False}
    checkpoint = AuditCheckpoint.objects.filter(size__gte=position.position).order_by("size").first()
    return {
        "sealed": True,
        "position": position.position,
        "checkpoint": checkpoint.size if checkpoint else None,
        "sealed_at": checkpoint.created_at if checkpoint else None,
    }


@dataclass
class CoverageRow:
    """One event type in the coverage report: its catalogue entry and how often it was recorded, per tenant."""

    event_type: str
    group: str
    description: str
    retention: str
    per_tenant: dict[str, int] = field(default_factory=dict)  # tenant slug ("" for no tenant) -> events
    overrides: dict[str, str] = field(default_factory=dict)  # tenant slug -> its longer retention class
    listed: bool = True  # False: recorded, but not in the catalogue

    @property
    def total(self) -> int:
        return sum(self.per_tenant.values())


@dataclass
class Coverage:
    since: datetime
    until: datetime
    tenants: list[str]
    rows: list[CoverageRow]

    @property
    def silent(self) -> list[CoverageRow]:
        """Listed types with no event in the period (a gap, or simply nothing of that kind happened)."""
        return [r for r in self.rows if r.listed and not r.total]


def coverage(*, since: datetime, until: datetime, tenant_slugs: list[str] | None = None) -> Coverage:
    """Every event type of the catalogue (and any recorded type missing from it) with its retention class, the
    tenants' overrides, and its count per tenant between ``since`` and ``until``. ``tenant_slugs`` narrows the
    counts to those tenants (a tenant-scoped reader's own); events with no tenant count under "" only without it."""
    events = AuditEvent.objects.filter(created_at__gte=since, created_at__lt=until)
    if tenant_slugs is not None:
        events = events.filter(tenant__slug__in=tenant_slugs)
    counts = events.values_list("event_type", "tenant__slug").annotate(n=Count("id")).order_by()
    rows = {
        name: CoverageRow(name, kind.group, kind.description, kind.retention)
        for name, kind in catalogue.EVENT_TYPES.items()
    }
    tenants: set[str] = set()
    for event_type, slug, n in counts:
        row = rows.get(event_type)
        if row is None:
            row = rows[event_type] = CoverageRow(
                event_type, "not in the catalogue", "", catalogue.DEFAULT_CLASS, listed=False
            )
        row.per_tenant[slug or ""] = n
        tenants.add(slug or "")
    overrides = AuditRetentionOverride.objects.values_list("event_type", "tenant__slug", "retention")
    if tenant_slugs is not None:
        overrides = overrides.filter(tenant__slug__in=tenant_slugs)
    for event_type, slug, kept in overrides:
        if event_type in rows:
            rows[event_type].overrides[slug] = kept
    ordered = sorted(rows.values(), key=lambda r: (not r.listed, r.group, r.event_type))
    return Coverage(since=since, until=until, tenants=sorted(tenants), rows=ordered)
