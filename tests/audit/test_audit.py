"""The audit log: append-only, hash-chained, signed, and verifiable."""

import itertools

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import DatabaseError

from apps.audit import services as audit
from apps.audit.errors import AuditImmutableError
from apps.audit.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


def _events(n, tenant=None):
    return [audit.record("test.event", tenant=tenant, payload={"n": i, "note": "é ✓"}) for i in range(n)]


def test_events_form_a_gapless_chain():
    events = _events(5)
    seqs = [e.seq for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    for previous, current in itertools.pairwise(events):
        assert current.prev_hash == previous.hash
    report = audit.verify_chain()
    assert report.ok and report.checked == AuditEvent.objects.count()


def test_rolled_back_event_leaves_no_gap():
    _events(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record("test.doomed")
        raise RuntimeError("rollback")
    _events(1)
    assert audit.verify_chain().ok


def test_orm_refuses_update_and_delete():
    event = _events(1)[0]
    event.event_type = "forged"
    with pytest.raises(AuditImmutableError):
        event.save()
    with pytest.raises(AuditImmutableError):
        event.delete()
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).update(event_type="forged")
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_database_trigger_refuses_raw_update():
    event = _events(1)[0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET event_type = 'forged' WHERE id = %s", [event.pk])


def _tamper(sql, params):
    """What someone with DDL rights could do: switch the trigger off and edit rows."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush deferred FK checks so ALTER TABLE may run
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_no_update")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_no_update")


def test_verify_detects_a_row_changed_in_sql():
    # Given a valid chain
    events = _events(4)
    assert audit.verify_chain().ok
    # When one row's payload is changed directly in SQL
    _tamper("UPDATE audit_auditevent SET payload = '{\"n\": 99}' WHERE id = %s", [events[2].pk])
    # Then verification stops at exactly that event
    report = audit.verify_chain()
    assert not report.ok
    assert report.problem.seq == events[2].seq
    assert report.problem.kind == "changed"
    with pytest.raises(CommandError, match=f"#{events[2].seq}: changed"):
        call_command("audit_verify", verbosity=0)


def test_verify_detects_a_deleted_row():
    events = _events(4)
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    report = audit.verify_chain()
    assert report.problem.kind == "missing"
    assert report.problem.seq == events[1].seq


def test_verify_detects_a_recomputed_hash_without_the_key():
    # An attacker who rewrites the payload and recomputes the hash still cannot sign it.
    import hashlib

    events = _events(3)
    target = AuditEvent.objects.get(pk=events[1].pk)
    target.payload = {"n": 1000}
    forged_hash = hashlib.sha256(audit.canonical_bytes(target)).hexdigest()
    _tamper(
        "UPDATE audit_auditevent SET payload = %s, hash = %s WHERE id = %s",
        ['{"n": 1000}', forged_hash, target.pk],
    )
    _tamper("UPDATE audit_auditevent SET prev_hash = %s WHERE id = %s", [forged_hash, events[2].pk])
    problem = audit.verify_chain().problem
    # the next event's content changed too (prev_hash is hashed), or the forged one's signature fails
    assert problem is not None
    assert problem.seq in (events[1].seq, events[2].seq)


def test_audit_verify_command_reports_ok(capsys):
    _events(3)
    call_command("audit_verify")
    assert "audit chain OK" in capsys.readouterr().out


def test_login_logout_and_failed_login_are_recorded(client):
    tenant = factories.tenant()
    user = factories.user(tenant=tenant, username="ada", password="correct horse battery", staff=True)
    client.post("/admin/login/", {"username": "ada", "password": "wrong password!"})
    client.post("/admin/login/", {"username": "ada", "password": "correct horse battery"})
    client.post("/admin/logout/")
    types = list(AuditEvent.objects.order_by("seq").values_list("event_type", "actor_label"))[-3:]
    assert types == [("auth.login_failed", "ada"), ("auth.login", "ada"), ("auth.logout", "ada")]
    failed = AuditEvent.objects.get(event_type="auth.login_failed")
    assert "wrong password!" not in str(failed.payload)
    assert AuditEvent.objects.get(event_type="auth.login").actor_id == user.pk
