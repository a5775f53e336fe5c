"""The audit log: events appended with no lock, signed, sealed into the Merkle log and verifiable."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import DatabaseError, IntegrityError
from django.test.utils import CaptureQueriesContext

from apps.audit import merkle
from apps.audit import services as audit
from apps.audit.errors import AuditImmutableError
from apps.audit.models import AuditCheckpoint, AuditEvent, AuditPosition
from apps.audit.sealing import seal_pending
from apps.audit.verification import verify_log
from tests import factories
from tests.audit.tampering import appended, position_of, sealed

# --------------------------------------------------------------------------- appending (in the test's transaction)


@pytest.mark.django_db
def test_an_event_is_signed_on_append_and_covers_its_transaction():
    event = audit.record("test.event", payload={"n": 1, "note": "é ✓"})
    stored = AuditEvent.objects.get(seq=event.seq)
    assert stored.version == 2 and stored.id == stored.seq and stored.prev_hash == ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        assert stored.xid == cursor.fetchone()[0]  # the inserting transaction, signed
    assert audit.event_hash(stored) == stored.hash
    assert audit.verify_event_signature(stored, audit.trusted_public_keys()) is None
    body = audit.event_evidence(stored)["body"]
    assert body["xid"] == stored.xid and body["seq"] == stored.seq and body["v"] == 2


def test_the_append_fills_the_columns_in_the_models_field_order():
    # record builds the model positionally from one list of values and inserts the same list
    assert tuple(f.attname for f in AuditEvent._meta.concrete_fields) == audit.EVENT_COLUMNS
    listed = audit._INSERT.split("INSERT INTO audit_auditevent (", 1)[1].split(")", 1)[0]
    assert tuple(c.strip() for c in listed.split(",")) == audit.EVENT_COLUMNS


@pytest.mark.django_db
def test_a_returned_event_equals_what_was_stored_and_a_failed_append_changes_nothing():
    actor = factories.user(tenant=factories.tenant())
    with transaction.atomic():
        event = audit.record("test.event", actor=actor, target=actor, payload={"when": actor.date_joined})
    stored = AuditEvent.objects.get(seq=event.seq)
    for column in audit.EVENT_COLUMNS:
        assert getattr(event, column) == getattr(stored, column), column
    before = AuditEvent.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():  # Django's error, not the driver's
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the foreign keys are checked at the INSERT
        audit.record("test.event", tenant=10**12)  # no such tenant
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_the_append_goes_through_the_connections_execute_wrappers_and_query_log():
    # The GraphQL deadline is an execute wrapper, and the tests' query counts read Django's query log: the
    # append's prepared statements must pass through both, as a Django cursor's would
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(wrapper):
        audit.record("test.event")
    assert seen == [audit._NEXT, audit._INSERT]
    assert [q["sql"] for q in captured.captured_queries] == seen

    def refuse(execute, sql, params, many, context):
        raise DatabaseError("past the deadline")

    before = AuditEvent.objects.count()
    with pytest.raises(DatabaseError, match="deadline"), connection.execute_wrapper(refuse):
        audit.record("test.event")
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_record_takes_no_lock():
    # Given an append in an open transaction
    audit.record("test.event")
    # Then this backend holds no advisory lock (the old chain held one until commit) and no lock on the table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT locktype, mode, relation::regclass::text FROM pg_locks WHERE pid = pg_backend_pid() "
            "AND (locktype = 'advisory' OR (locktype = 'relation' AND mode NOT IN ('AccessShareLock', "
            "'RowExclusiveLock')))"
        )
        assert cursor.fetchall() == []


@pytest.mark.django_db
def test_a_client_cannot_choose_the_transaction_id():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        (mine,) = cursor.fetchone()
    event = audit.record("test.event")
    AuditEvent(
        seq=event.seq + 1000, xid=1, created_at=event.created_at, event_type="x", hash="f" * 64, key_id="k"
    ).save(force_insert=True)
    assert AuditEvent.objects.get(seq=event.seq + 1000).xid == mine  # the trigger's value, not the client's


@pytest.mark.django_db
def test_orm_refuses_update_and_delete():
    event = audit.record("test.event")
    event.event_type = "forged"
    with pytest.raises(AuditImmutableError):
        event.save()
    with pytest.raises(AuditImmutableError):
        event.delete()
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).update(event_type="forged")
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET event_type = 'forged'",
        "DELETE FROM audit_auditevent",
        "UPDATE audit_auditposition SET event_seq = event_seq + 1",
        "DELETE FROM audit_auditcheckpoint",
        "DELETE FROM audit_audittreenode",
    ],
)
def test_database_triggers_refuse_raw_updates_and_deletes(sql):
    audit.record("test.event")
    with connection.cursor() as cursor:  # rows to refuse in every table
        cursor.execute("INSERT INTO audit_auditposition VALUES (1, 1, '\\x00', 'event', NULL)")
        cursor.execute(
            "INSERT INTO audit_auditcheckpoint (size, origin, root_hash, horizon, created_at, key_id, signature) "
            "VALUES (1, 'o', 'r', 1, now(), 'k', 's')"
        )
        cursor.execute("INSERT INTO audit_audittreenode (level, index, hash) VALUES (8, 0, '\\x00')")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)


@pytest.mark.django_db
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


# --------------------------------------------------------------------------- sealing and verifying (committed)

pytestmark_sealed = pytest.mark.django_db(transaction=True)


@pytestmark_sealed
def test_sealed_events_form_a_merkle_log_under_signed_checkpoints():
    # Given a log (a test before may have left committed events: they are sealed first and kept)
    seal_pending()
    earlier = list(AuditPosition.objects.order_by("position"))
    # and events appended in their own transactions, then sealed
    events = sealed(5)
    # Then each has a position, in append order, and the last checkpoint signs the root of all leaves
    positions = list(AuditPosition.objects.order_by("position"))[len(earlier) :]
    assert [p.event_seq for p in positions] == [e.seq for e in events]
    checkpoint = AuditCheckpoint.objects.order_by("-size").first()
    leaves = [bytes(p.leaf_hash) for p in earlier] + [merkle.leaf_hash(bytes.fromhex(e.hash)) for e in events]
    assert checkpoint.size == len(earlier) + 5 and checkpoint.root_hash == merkle.root_of(leaves).hex()
    assert audit.checkpoint_problem(checkpoint) is None
    # and the checkpoint was also written outside the database
    assert audit.checkpoint_file_load().size == len(earlier) + 5
    report = verify_log(full=True)
    assert report.ok and report.checked == len(earlier) + 5 and report.checkpoints >= 1


@pytestmark_sealed
def test_a_rolled_back_event_is_never_sealed_and_leaves_no_hole():
    appended(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record("test.doomed")
        raise RuntimeError("rollback")
    appended(1)
    assert seal_pending() == 2
    assert not AuditEvent.objects.filter(event_type="test.doomed").exists()
    assert verify_log(full=True).ok


@pytestmark_sealed
def test_events_of_a_savepoint_rolled_back_are_not_confirmed():
    # A savepoint rolled back inside a committed transaction: its event never existed, so nothing confirms it
    with transaction.atomic():
        audit.record("test.kept")
        with pytest.raises(RuntimeError), transaction.atomic():
            audit.record("test.doomed")
            raise RuntimeError("rollback to savepoint")
    appended(2)
    seal_pending()
    assert not AuditPosition.objects.filter(kind="missing").exists()
    assert verify_log(full=True).ok


@pytestmark_sealed
def test_audit_verify_is_incremental_by_default_and_full_on_request(capsys):
    sealed(4)
    call_command("audit_verify")
    said = capsys.readouterr().out
    assert "audit log OK (full (first run)): 4 position(s)" in said
    sealed(3)  # and the audit.verified event the first run recorded
    call_command("audit_verify")
    assert "incremental from position 5): 4 position(s)" in capsys.readouterr().out
    call_command("audit_verify", "--full")
    assert "audit log OK (full): 8 position(s)" in capsys.readouterr().out
    assert AuditEvent.objects.filter(event_type="audit.verified").count() == 3


@pytestmark_sealed
def test_unsealed_events_are_checked_too():
    sealed(2)
    pending = appended(2)
    report = verify_log(full=True)
    assert report.ok and report.checked == 2 and report.unsealed == 2
    assert not AuditPosition.objects.filter(event_seq=pending[0].seq).exists()


@pytestmark_sealed
def test_rotation_each_checkpoint_names_its_key_and_a_retired_key_still_verifies(settings):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    settings.AUDIT_SIGNING_KEY = old.private_bytes_raw()
    sealed(3)
    # Rotation as docs/operations/audit.md says: list the current key as trusted, then switch to a new one
    settings.AUDIT_TRUSTED_KEYS = [old.public_key().public_bytes_raw().hex()]
    settings.AUDIT_SIGNING_KEY = new.private_bytes_raw()
    sealed(2)
    ids = set(AuditCheckpoint.objects.values_list("key_id", flat=True))
    old_id, new_id = (audit.key_id_of(k.public_key().public_bytes_raw().hex()) for k in (old, new))
    assert ids == {old_id, new_id}
    # The retired key listed in AUDIT_TRUSTED_KEYS: the old checkpoints and events verify
    assert verify_log(full=True).ok
    # Not listed: the first checkpoint it signed is refused, naming the key
    settings.AUDIT_TRUSTED_KEYS = []
    problem = verify_log(full=True, advance=False).problem
    assert problem.kind == "bad-checkpoint" and problem.position == 1 and old_id in problem.detail


@pytestmark_sealed
def test_the_audit_verify_command_fails_naming_the_first_bad_position():
    events = sealed(4)
    from tests.audit.tampering import as_attacker

    as_attacker(("UPDATE audit_auditevent SET payload = '{\"n\": 99}' WHERE seq = %s", [events[2].seq]))
    with pytest.raises(CommandError, match=f"position {position_of(events[2])} \\(event #{events[2].seq}\\): changed"):
        call_command("audit_verify", "--full", verbosity=0)
