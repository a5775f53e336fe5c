"""What someone with database rights can do to the audit log, for the tamper tests: switch the append-only
triggers off, run SQL, switch them on again (DDL rights are enough; no key, no checkpoint file)."""

from django.db import connection, transaction

from apps.audit import services as audit
from apps.audit.sealing import seal_pending

TRIGGERS = {
    "audit_auditevent": "audit_auditevent_no_update",
    "audit_auditposition": "audit_auditposition_no_update",
    "audit_auditcheckpoint": "audit_auditcheckpoint_no_update",
    "audit_audittreenode": "audit_audittreenode_no_update",
    "audit_audittombstone": "audit_audittombstone_no_update",
}


def as_attacker(*statements, keep_xid: bool = False) -> None:
    """Run ``(sql, params)`` statements with every append-only trigger off, in one transaction; with ``keep_xid``
    the trigger that stamps an inserted event with its transaction is off too."""
    triggers = list(TRIGGERS.items()) + ([("audit_auditevent", "audit_auditevent_xid")] if keep_xid else [])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush deferred FK checks so ALTER TABLE may run
        for table, trigger in triggers:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        for sql, params in statements:
            cursor.execute(sql, params)
        for table, trigger in triggers:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


def appended(n: int, *, tenant=None, kind: str = "test.event") -> list:
    """``n`` events, each committed in its own short transaction, as services append them."""
    events = []
    for i in range(n):
        with transaction.atomic():
            events.append(audit.record(kind, tenant=tenant, payload={"n": i, "note": "é ✓"}))
    return events


def sealed(n: int, **kwargs) -> list:
    events = appended(n, **kwargs)
    seal_pending()
    return events


def position_of(event) -> int:
    from apps.audit.models import AuditPosition

    return AuditPosition.objects.get(event_seq=event.seq).position
