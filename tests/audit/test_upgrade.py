"""An existing database upgraded to the Merkle log: the hash-chained events become its first segment, and
verification passes before and after new events join them (a real migrate back to audit 0001 and forward)."""

import hashlib
import json
from datetime import UTC

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from apps.audit import services as audit
from apps.audit.errors import AuditSealingError
from apps.audit.models import AuditCheckpoint, AuditPosition
from apps.audit.sealing import seal_pending
from apps.audit.verification import verify_log
from tests.audit.tampering import as_attacker, sealed

pytestmark = pytest.mark.django_db(transaction=True)


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)


def _old_record(cursor, event_type: str, payload: dict) -> tuple[int, str]:
    """Today's locked, chained append before issue 13, as it wrote rows (apps/audit/services.py at 0001)."""
    key_id, public_hex = audit._signing_key_id()
    cursor.execute(
        "INSERT INTO audit_auditsigningkey (key_id, public_key, created_at) VALUES (%s, %s, now()) "
        "ON CONFLICT (key_id) DO NOTHING",
        [key_id, public_hex],
    )
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [0x1A_0D17])
    cursor.execute("SELECT seq, hash FROM audit_auditevent ORDER BY seq DESC LIMIT 1")
    head = cursor.fetchone()
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, audit.GENESIS_HASH)
    created = timezone.now()
    body = {
        "seq": seq,
        "created_at": created.astimezone(UTC).isoformat(timespec="microseconds"),
        "tenant_id": None,
        "actor_id": None,
        "actor_label": "system",
        "event_type": event_type,
        "target_type": "",
        "target_id": "",
        "payload": payload,
        "prev_hash": prev_hash,
        "key_id": key_id,
    }
    digest = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    cursor.execute(
        "INSERT INTO audit_auditevent (seq, created_at, actor_label, event_type, target_type, target_id, payload, "
        "prev_hash, hash, signature, key_id) VALUES (%s, %s, 'system', %s, '', '', %s, %s, %s, %s, %s)",
        [
            seq,
            created,
            event_type,
            json.dumps(payload),
            prev_hash,
            digest,
            audit.signing_key().sign(digest.encode()).hex(),
            key_id,
        ],
    )
    return seq, digest


def _v1_checkpoint_file(path, seq: int, digest: str) -> None:
    document = {
        "format": "intelgraph.audit-checkpoint",
        "version": 1,
        "seq": seq,
        "hash": digest,
        "verified_at": "2026-12-01T03:17:00+00:00",
        "key_id": audit._signing_key_id()[0],
    }
    document["signature"] = audit.signing_key().sign(audit.canonical_json(document)).hex()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))


@pytest.fixture
def upgraded(settings):
    """A database with seven hash-chained events and a version 1 checkpoint file at #6, migrated to the Merkle log."""
    _migrate([("audit", "0001_initial")])
    try:
        with connection.cursor() as cursor:
            chain = [_old_record(cursor, "test.chained", {"n": i, "note": "é ✓"}) for i in range(7)]
        _v1_checkpoint_file(settings.AUDIT_CHECKPOINT_FILE, *chain[5])
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    return chain


def test_the_hash_chain_is_adopted_as_the_first_segment_and_the_log_verifies(upgraded, settings):
    # Before the sealer's first run the old events wait, and verify (their hashes and signatures)
    report = verify_log(full=True, advance=False)
    assert report.ok and report.unsealed == 7
    # The sealer's first run adopts them in chain order, as a segment of its own
    sealed(3)
    adopted = AuditCheckpoint.objects.order_by("size").first()
    assert adopted.size == 7 and adopted.horizon == 0
    assert list(AuditPosition.objects.filter(position__lte=7).values_list("event_seq", flat=True)) == [
        s for s, _ in upgraded
    ]
    # and the whole log, old and new, verifies against the version 1 checkpoint file (event #6 where it was)
    report = verify_log(full=True)
    assert report.ok and report.checked == 10, report.problem
    assert audit.checkpoint_file_load().size == 10  # moved on to the version 2 format


def test_an_old_event_changed_after_the_upgrade_is_found_at_its_position(upgraded):
    seal_pending()
    as_attacker(("UPDATE audit_auditevent SET payload = '{\"n\": 99}' WHERE seq = %s", [upgraded[2][0]]))
    problem = verify_log(full=True, advance=False).problem
    assert (problem.position, problem.kind) == (3, "changed")


def test_a_chain_rewritten_before_the_upgrade_fails_against_the_old_checkpoint_file(upgraded, settings):
    # Given a version 1 file that vouches for another event #6 than the chain holds (the chain was rewritten)
    seq, _ = upgraded[5]
    _v1_checkpoint_file(settings.AUDIT_CHECKPOINT_FILE, seq, "f" * 64)
    # Then the sealer will not adopt it (it would sign the rewritten chain), and verification says why
    with pytest.raises(AuditSealingError, match="event #6 is not the one verified"):
        seal_pending()
    problem = verify_log(full=True, advance=False).problem
    assert (problem.seq, problem.kind) == (6, "forked")
