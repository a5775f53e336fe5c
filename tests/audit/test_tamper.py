"""Tampering with the audit log directly in SQL, each found by audit_verify with the first bad position named.

Each test plays someone who can write the database (switch the append-only triggers off, insert, update,
delete) but holds neither the signing key nor the checkpoint file outside the database.
"""

import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from apps.audit import services as audit
from apps.audit.errors import AuditSealingError
from apps.audit.models import AuditCheckpoint, AuditEvent, AuditPosition
from apps.audit.sealing import Sealer, seal_pending
from apps.audit.verification import verify_log
from tests.audit.tampering import appended, as_attacker, position_of, sealed

pytestmark = pytest.mark.django_db(transaction=True)


def _problem(**kwargs):
    report = verify_log(advance=False, **kwargs)
    assert not report.ok, "tampering not detected"
    return report.problem


def _key_id(key: Ed25519PrivateKey) -> str:
    return hashlib.sha256(key.public_key().public_bytes_raw()).hexdigest()[:16]


def test_a_changed_payload_is_found_at_its_position():
    events = sealed(5)
    call_command("audit_verify", verbosity=0)  # verified once: an incremental run would start after it
    as_attacker(("UPDATE audit_auditevent SET payload = '{\"n\": 99}' WHERE seq = %s", [events[2].seq]))
    problem = _problem(full=True)
    assert (problem.position, problem.seq, problem.kind) == (position_of(events[2]), events[2].seq, "changed")


def test_a_changed_payload_with_its_hash_recomputed_fails_the_signature():
    events = sealed(3)
    target = AuditEvent.objects.get(seq=events[1].seq)
    target.payload = {"n": 1000}
    forged = audit.event_hash(target)
    as_attacker(
        ("UPDATE audit_auditevent SET payload = %s, hash = %s WHERE seq = %s", ['{"n": 1000}', forged, target.seq])
    )
    problem = _problem(full=True)
    # the sealed leaf still holds the old hash, and the signature covers the old hash too
    assert problem.position == position_of(events[1]) and problem.kind in ("moved", "bad-signature")


def test_a_deleted_sealed_event_is_found_at_its_position():
    events = sealed(4)
    call_command("audit_verify", verbosity=0)
    as_attacker(("DELETE FROM audit_auditevent WHERE seq = %s", [events[1].seq]))
    for full in (False, True):  # the incremental run's cheap checks find it below its start, too
        problem = _problem(full=full)
        assert (problem.position, problem.seq, problem.kind) == (position_of(events[1]), events[1].seq, "missing")


def test_a_deleted_sealed_event_with_its_position_and_the_rest_renumbered_is_found_in_its_batch():
    events = sealed(4)
    seal_pending()
    batch_first = position_of(events[0])
    as_attacker(
        ("DELETE FROM audit_auditevent WHERE seq = %s", [events[1].seq]),
        ("DELETE FROM audit_auditposition WHERE event_seq = %s", [events[1].seq]),
        ("UPDATE audit_auditposition SET position = position - 1 WHERE position > %s", [position_of(events[0])]),
    )
    problem = _problem(full=True)
    assert problem.kind in ("rewritten", "moved", "truncated", "out-of-order") and problem.position >= batch_first


def test_a_deleted_unsealed_event_is_found_because_a_later_event_confirms_it():
    # Given a committed event, deleted before the sealer reaches it
    first = appended(1)[0]
    as_attacker(("DELETE FROM audit_auditevent WHERE seq = %s", [first.seq]))
    # When the same process appends again (its event confirms the first had committed) and the sealer runs
    later = appended(1)[0]
    assert first.seq in AuditEvent.objects.get(seq=later.seq).confirms
    seal_pending()
    # Then the sealer sealed a "missing" position for it, and verification names that position
    missing = AuditPosition.objects.get(event_seq=first.seq)
    assert missing.kind == "missing" and missing.confirmed_by == later.seq
    problem = _problem(full=True)
    assert (problem.position, problem.seq, problem.kind) == (missing.position, first.seq, "missing")
    assert f"event #{later.seq} confirms it had committed" in problem.detail


def test_an_inserted_forged_event_is_found_at_the_position_it_was_sealed_at():
    sealed(2)
    head = AuditEvent.objects.order_by("-seq").first()
    with connection.cursor() as cursor:  # INSERT is all it takes: no trigger to switch off
        cursor.execute(
            "INSERT INTO audit_auditevent (id, seq, version, created_at, actor_label, event_type, target_type, target_id, "
            "payload, confirms, prev_hash, hash, signature, key_id) VALUES (%s, %s, 2, now(), 'admin', 'er.pair_approved', "
            "'', '', '{}', '{}', '', %s, %s, %s)",
            [head.seq + 50, head.seq + 50, "a" * 64, "b" * 128, head.key_id],
        )
    seal_pending()
    problem = _problem(full=True)
    assert problem.seq == head.seq + 50 and problem.position == 3 and problem.kind == "changed"


def test_a_copy_of_a_genuine_event_under_a_new_number_fails_its_hash():
    events = sealed(2)
    as_attacker(
        (
            "INSERT INTO audit_auditevent (id, seq, version, xid, created_at, tenant_id, actor_id, actor_label, "
            "event_type, target_type, target_id, payload, confirms, prev_hash, hash, signature, key_id) "
            "SELECT seq + 100, seq + 100, version, xid, created_at, tenant_id, actor_id, actor_label, event_type, "
            "target_type, target_id, payload, confirms, prev_hash, md5(hash) || md5(hash), signature, key_id "
            "FROM audit_auditevent WHERE seq = %s",
            [events[0].seq],
        ),
        keep_xid=True,
    )
    problem = _problem(full=True)  # its transaction was sealed long ago: it cannot have come from record()
    assert problem.seq == events[0].seq + 100 and problem.position is None and problem.kind == "inserted"


def test_a_copy_inserted_with_a_current_transaction_fails_its_hash_before_it_is_sealed():
    events = sealed(2)
    as_attacker(
        (
            "INSERT INTO audit_auditevent (id, seq, version, created_at, tenant_id, actor_id, actor_label, "
            "event_type, target_type, target_id, payload, confirms, prev_hash, hash, signature, key_id) "
            "SELECT seq + 100, seq + 100, version, created_at, tenant_id, actor_id, actor_label, event_type, "
            "target_type, target_id, payload, confirms, prev_hash, md5(hash) || md5(signature), signature, key_id "
            "FROM audit_auditevent WHERE seq = %s",
            [events[0].seq],
        )
    )
    problem = _problem(full=True)  # the copy's number and transaction are not what was signed
    assert (problem.position, problem.seq, problem.kind) == (None, events[0].seq + 100, "changed")
    seal_pending()
    problem = _problem(full=True)
    assert (problem.position, problem.seq, problem.kind) == (3, events[0].seq + 100, "changed")


def test_two_sealed_events_swapped_are_found_at_the_first():
    events = sealed(4)
    a, b = position_of(events[1]), position_of(events[2])
    as_attacker(
        ("UPDATE audit_auditposition SET event_seq = -1 WHERE position = %s", [a]),
        ("UPDATE audit_auditposition SET event_seq = %s WHERE position = %s", [events[1].seq, b]),
        ("UPDATE audit_auditposition SET event_seq = %s WHERE position = %s", [events[2].seq, a]),
    )
    problem = _problem(full=True)
    assert (problem.position, problem.kind) == (a, "moved")
    # even with the leaves swapped too, the order within the batch, or the root, gives it away at the first
    as_attacker(
        (
            "UPDATE audit_auditposition p SET leaf_hash = sha256('\\x00'::bytea || decode(e.hash, 'hex')) "
            "FROM audit_auditevent e WHERE e.seq = p.event_seq AND p.position IN (%s, %s)",
            [a, b],
        )
    )
    problem = _problem(full=True)
    assert (problem.position, problem.kind) == (a, "out-of-order")


def test_a_forged_checkpoint_is_refused():
    sealed(3)
    checkpoint = AuditCheckpoint.objects.order_by("-size").first()
    before = AuditCheckpoint.objects.filter(size__lt=checkpoint.size).order_by("-size").first()
    as_attacker(("UPDATE audit_auditcheckpoint SET root_hash = %s WHERE size = %s", ["0" * 64, checkpoint.size]))
    problem = _problem(full=True)
    assert problem.kind == "bad-checkpoint" and problem.position == (before.size if before else 0) + 1
    assert "signature does not verify" in problem.detail


def test_a_checkpoint_replaced_and_signed_with_another_key_is_refused():
    sealed(3)
    checkpoint = AuditCheckpoint.objects.order_by("-size").first()
    attacker = Ed25519PrivateKey.generate()
    checkpoint.key_id = _key_id(attacker)
    checkpoint.signature = attacker.sign(audit.canonical_json(audit.checkpoint_document(checkpoint))).hex()
    as_attacker(
        (
            "UPDATE audit_auditcheckpoint SET key_id = %s, signature = %s WHERE size = %s",
            [checkpoint.key_id, checkpoint.signature, checkpoint.size],
        )
    )
    problem = _problem(full=True)
    assert problem.kind == "bad-checkpoint" and f"signed by key {_key_id(attacker)}" in problem.detail


def test_a_truncated_tail_is_reported_against_the_checkpoint_seen_outside():
    events = sealed(4) + sealed(2)  # two batches: checkpoints at 4 and 6
    keep = position_of(events[3])
    as_attacker(
        ("DELETE FROM audit_auditcheckpoint WHERE size > %s", [keep]),
        ("DELETE FROM audit_audittreenode", []),
        ("DELETE FROM audit_auditposition WHERE position > %s", [keep]),
        ("DELETE FROM audit_auditevent WHERE seq > %s", [events[3].seq]),
    )
    problem = _problem(full=True)
    assert (problem.position, problem.kind) == (keep + 1, "truncated")
    assert "was seen outside the database" in problem.detail
    with pytest.raises(CommandError, match=f"position {keep + 1}: truncated"):
        call_command("audit_verify", verbosity=0)
    # and the sealer refuses to seal on it (it would fork the log)
    appended(1)
    with pytest.raises(AuditSealingError, match="restored or truncated"):
        Sealer().seal()


def test_a_database_restored_to_an_earlier_time_is_shorter_than_the_last_checkpoint_seen(settings):
    # Given a log sealed to 3, then to 5 (the file outside holds 5)
    sealed(3)
    first = AuditCheckpoint.objects.order_by("-size").first().size
    sealed(2)
    assert audit.checkpoint_file_load().size == 5
    # When the database comes back as it was at checkpoint 3 (everything after it gone)
    as_attacker(
        ("DELETE FROM audit_auditcheckpoint WHERE size > %s", [first]),
        ("DELETE FROM audit_auditposition WHERE position > %s", [first]),
        (
            "DELETE FROM audit_auditevent WHERE seq > (SELECT event_seq FROM audit_auditposition WHERE position = %s)",
            [first],
        ),
    )
    # Then the log verifies internally, but is reported shorter than what was seen
    problem = _problem(full=True)
    assert problem.kind == "truncated" and "but checkpoint 5 of" in problem.detail and problem.position == first + 1


def test_a_rewritten_checkpoint_file_is_one_clear_failure(settings):
    sealed(3)
    path = settings.AUDIT_CHECKPOINT_FILE
    document = json.loads(path.read_text())
    path.write_text(json.dumps({**document, "size": 1}))
    problem = _problem()
    assert (
        problem.kind == "bad-checkpoint" and problem.position is None and "signature does not verify" in problem.detail
    )
    path.write_text("not json")
    assert "is not an intelgraph.audit-checkpoint JSON document" in _problem().detail


def test_history_rewritten_below_the_verified_state_is_forked_for_an_incremental_run():
    events = sealed(3)
    call_command("audit_verify", verbosity=0)
    as_attacker(("UPDATE audit_auditposition SET leaf_hash = '\\x00' WHERE event_seq = %s", [events[0].seq]))
    problem = _problem()
    assert problem.kind == "forked"
    problem = _problem(full=True)
    assert (problem.position, problem.kind) == (position_of(events[0]), "moved")


def test_a_tampered_event_not_sealed_yet_is_found_by_its_number():
    sealed(1)
    pending = appended(1)[0]
    with transaction.atomic(), connection.cursor():
        as_attacker(("UPDATE audit_auditevent SET actor_label = 'someone else' WHERE seq = %s", [pending.seq]))
    problem = _problem(full=True)
    assert (problem.position, problem.seq, problem.kind) == (None, pending.seq, "changed")


def _forged_insert(seq: int, *, signature: str, key_id: str) -> None:
    """An event written behind the service's back whose hash is right (anyone can hash) but whose signature is not
    by a trusted key."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (id, seq, version, created_at, actor_label, event_type, target_type, "
            "target_id, payload, confirms, prev_hash, hash, signature, key_id) VALUES (%s, %s, 2, now(), 'admin', "
            "'er.pair_approved', '', '', '{\"forged\": true}', '{}', '', %s, %s, %s)",
            [seq, seq, "0" * 64, signature, key_id],
        )
    forged = AuditEvent.objects.get(seq=seq)
    as_attacker(("UPDATE audit_auditevent SET hash = %s WHERE seq = %s", [audit.event_hash(forged), seq]))


@pytest.mark.parametrize("verified_before", [False, True])
def test_a_forged_event_with_a_right_hash_is_found_by_its_signature_in_every_run(verified_before):
    # Given a log verified (or not) up to a point, then an event inserted in SQL, hashed right, signed by an attacker
    head = sealed(2)[-1]
    if verified_before:
        call_command("audit_verify", verbosity=0)
    attacker = Ed25519PrivateKey.generate()
    _forged_insert(head.seq + 10, signature="ab" * 64, key_id=_key_id(attacker))
    # Before and after the sealer seals it, an incremental and a full run both name it
    for seal in (False, True):
        if seal:
            seal_pending()
        for full in (False, True):
            problem = _problem(full=full)
            assert (problem.seq, problem.kind) == (head.seq + 10, "unknown-key"), (seal, full, problem)
            assert problem.position == (AuditPosition.objects.get(event_seq=head.seq + 10).position if seal else None)


def test_a_signature_overwritten_after_it_was_verified_is_vouched_for_unless_every_signature_is_checked(settings):
    # Given sealed genuine events, verified (each signature checked), then one signature column overwritten
    events = sealed(4)
    call_command("audit_verify", verbosity=0)
    as_attacker(("UPDATE audit_auditevent SET signature = %s WHERE seq = %s", ["cd" * 64, events[2].seq]))
    # A full run re-checks every event's content, leaf and root: the event is still the one verified before
    report = verify_log(full=True, advance=False)
    assert report.ok and report.signatures == 0 and report.signatures_before == 4
    # Checking every signature again names it
    problem = _problem(full=True, signatures=True)
    assert (problem.position, problem.seq, problem.kind) == (position_of(events[2]), events[2].seq, "bad-signature")
    # and without the verified state (a fresh machine), a full run checks every signature anyway
    settings.AUDIT_VERIFIED_FILE.unlink()
    assert _problem(full=True).kind == "bad-signature"


def test_a_full_run_after_a_verified_state_checks_the_new_signatures_and_the_old_root():
    events = sealed(3)
    call_command("audit_verify", verbosity=0)
    sealed(2)
    report = verify_log(full=True, advance=False)
    # 3 verified, then the run's own audit.verified event and 2 more: their 3 signatures are checked
    assert report.ok and (report.checked, report.signatures, report.signatures_before) == (6, 3, 3)
    # positions the verified state covers rewritten consistently by the database alone cannot keep its root
    as_attacker(("UPDATE audit_auditevent SET payload = '{\"n\": 5}' WHERE seq = %s", [events[0].seq]))
    assert _problem(full=True).kind == "changed"


def test_audit_verify_says_which_signatures_it_checked_and_refuses_signatures_without_full(capsys):
    sealed(3)
    call_command("audit_verify")
    assert "3 signature(s) checked" in capsys.readouterr().out
    sealed(1)  # and the run's audit.verified event: 5 positions
    call_command("audit_verify", "--full")
    said = capsys.readouterr().out
    assert "2 signature(s) checked (those of positions 1..3 by an earlier run" in said
    call_command("audit_verify", "--full", "--signatures")
    assert "5 signature(s) checked;" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--signatures goes with --full"):
        call_command("audit_verify", "--signatures")
