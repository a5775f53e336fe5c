"""Reads of the audit log's state, for /readyz, /metrics, the admin and the sealing alert."""

from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditCheckpoint, AuditEvent, AuditPosition


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
