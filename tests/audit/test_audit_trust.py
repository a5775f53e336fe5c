"""Security finding 6 of issue 11: verification must not trust what the database it checks says.

Each test plays an attacker who can write the database (insert rows, switch the append-only trigger off,
truncate) but holds neither the deployed signing key nor the checkpoint file outside the database.
"""

import hashlib
import io
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from apps.audit import services as audit
from apps.audit.models import AuditEvent, AuditSigningKey
from tests import factories

pytestmark = pytest.mark.django_db


def _events(n, tenant=None):
    return [audit.record("test.event", tenant=tenant, payload={"n": i}) for i in range(n)]


def _public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes_raw().hex()


def _key_id(key: Ed25519PrivateKey) -> str:
    return hashlib.sha256(key.public_key().public_bytes_raw()).hexdigest()[:16]


def _register(key: Ed25519PrivateKey) -> None:
    """The attacker's key, written into the key table as if it had always signed."""
    AuditSigningKey.objects.create(key_id=_key_id(key), public_key=_public_hex(key))


def _seal(event: AuditEvent, key: Ed25519PrivateKey) -> None:
    event.hash = hashlib.sha256(audit.canonical_bytes(event)).hexdigest()
    event.signature = key.sign(event.hash.encode()).hex()


def _as_attacker(*statements):
    """Switch the append-only trigger off, run the SQL, switch it back on (DDL rights are enough)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush deferred FK checks so ALTER TABLE may run
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_no_update")
        for sql, params in statements:
            cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_no_update")


def _resign(events, key: Ed25519PrivateKey, *, key_id: str, edit=None):
    """Re-hash and re-sign ``events`` (oldest first) with ``key`` under ``key_id``, relinking the chain."""
    first = events[0]
    previous = AuditEvent.objects.filter(seq=first.seq - 1).values_list("hash", flat=True).first()
    prev_hash = previous or audit.GENESIS_HASH
    statements = []
    for event in events:
        event.refresh_from_db()
        if edit:
            edit(event)
        event.prev_hash, event.key_id = prev_hash, key_id
        _seal(event, key)
        statements.append(
            (
                "UPDATE audit_auditevent SET payload = %s, prev_hash = %s, key_id = %s, hash = %s, signature = %s "
                "WHERE id = %s",
                [json.dumps(event.payload), event.prev_hash, event.key_id, event.hash, event.signature, event.pk],
            )
        )
        prev_hash = event.hash
    _as_attacker(*statements)


def _verify_command():
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


# --------------------------------------------------------------------------- keys from the database


def test_a_forged_event_signed_by_a_key_inserted_in_the_table_is_untrusted():
    # Given a valid chain, and an attacker who registers a key of their own in the key table
    _events(3)
    attacker = Ed25519PrivateKey.generate()
    _register(attacker)
    # When they append an event signed by it (INSERT is all it takes)
    head = AuditEvent.objects.order_by("-seq").first()
    forged = AuditEvent(
        seq=head.seq + 1,
        created_at=timezone.now(),
        actor_label="admin",
        event_type="er.pair_approved",
        payload={"reason": "approved by the board"},
        prev_hash=head.hash,
        key_id=_key_id(attacker),
    )
    _seal(forged, attacker)
    forged.save(force_insert=True)
    # Then verification refuses the key, naming it
    problem = audit.verify_chain().problem
    assert problem is not None and problem.kind == "untrusted-key" and problem.seq == forged.seq
    assert _key_id(attacker) in problem.detail
    with pytest.raises(CommandError, match=f"#{forged.seq}: untrusted-key: signed by key {_key_id(attacker)}"):
        _verify_command()


def test_an_edited_event_with_its_tail_resigned_by_a_registered_attacker_key_fails():
    # Given a valid chain
    events = _events(5)
    attacker = Ed25519PrivateKey.generate()
    _register(attacker)

    def edit(event):
        if event.pk == events[2].pk:
            event.payload = {"n": 1000}

    # When the attacker edits event 3 and re-signs it and every later event with their registered key
    _resign(events[2:], attacker, key_id=_key_id(attacker), edit=edit)
    # Then the chain breaks at the first re-signed event
    problem = audit.verify_chain().problem
    assert problem is not None and problem.kind == "untrusted-key" and problem.seq == events[2].seq
    with pytest.raises(CommandError, match="untrusted-key"):
        _verify_command()


def test_replacing_the_registered_public_key_and_resigning_everything_fails():
    # Given a valid chain signed by the installation's key
    events = _events(4)
    own_id = events[0].key_id
    attacker = Ed25519PrivateKey.generate()
    # When the attacker swaps the registered public key for theirs and re-signs every event under the same id
    AuditSigningKey.objects.filter(key_id=own_id).update(public_key=_public_hex(attacker))
    _resign(events, attacker, key_id=own_id)
    # Then the very first event fails: the key id is trusted only with the configured public key
    problem = audit.verify_chain().problem
    assert problem is not None and problem.kind == "bad-signature" and problem.seq == events[0].seq
    assert "different public key" in problem.detail
    with pytest.raises(CommandError, match="bad-signature"):
        _verify_command()


def test_rotation_old_events_verify_while_the_old_key_is_configured(settings):
    # Given events signed by an old key, then the signing key rotated to a new one
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    settings.AUDIT_SIGNING_KEY = old.private_bytes_raw()
    _events(3)
    settings.AUDIT_SIGNING_KEY = new.private_bytes_raw()
    _events(2)
    assert set(AuditEvent.objects.values_list("key_id", flat=True)) == {_key_id(old), _key_id(new)}
    # When the old public key is listed in AUDIT_TRUSTED_KEYS, the whole chain verifies
    settings.AUDIT_TRUSTED_KEYS = [_public_hex(old)]
    report = audit.verify_chain()
    assert report.ok and report.checked == 5
    # Without it, the old events are signed by a key only the database vouches for
    settings.AUDIT_TRUSTED_KEYS = []
    problem = audit.verify_chain().problem
    assert problem is not None and problem.kind == "untrusted-key" and problem.seq == 1


# --------------------------------------------------------------------------- the checkpoint outside the database


def test_deleting_the_tail_after_a_checkpoint_fails_truncated():
    # Given a chain verified by audit_verify (which writes the checkpoint)
    events = _events(6)
    _verify_command()
    # When the attacker deletes the last two events: what remains is a valid chain
    _as_attacker(("DELETE FROM audit_auditevent WHERE seq > %s", [events[3].seq]))
    # Then verification fails against the checkpoint
    problem = audit.verify_chain().problem
    assert problem is not None and problem.kind == "truncated" and problem.seq == events[4].seq
    assert f"#{events[4].seq}..#{events[5].seq} were removed" in problem.detail
    with pytest.raises(CommandError, match="truncated"):
        _verify_command()


def test_truncating_the_table_after_a_checkpoint_fails():
    _events(3)
    _verify_command()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE audit_auditevent")
    problem = audit.verify_chain().problem
    assert problem is not None and problem.kind == "truncated" and "the log is empty" in problem.detail
    with pytest.raises(CommandError, match="truncated: the log is empty"):
        _verify_command()


def test_a_tail_deleted_and_written_again_past_the_checkpoint_fails_forked():
    # Given a checkpoint at event 4
    events = _events(4)
    _verify_command()
    # When the last two events are deleted and new ones appended by the application (valid signatures)
    _as_attacker(("DELETE FROM audit_auditevent WHERE seq > %s", [events[1].seq]))
    _events(3)
    # Then the chain is consistent and longer, but holds a different event where the checkpoint is
    problem = audit.verify_chain().problem
    assert problem is not None and problem.kind == "forked" and problem.seq == events[3].seq


def test_audit_verify_writes_and_moves_the_checkpoint(settings):
    # Given no checkpoint yet
    _events(3)
    path = settings.AUDIT_CHECKPOINT_FILE
    assert not path.exists()
    # When audit_verify runs the first time, it says so and writes one at the head
    said = _verify_command()
    assert (
        "audit chain OK: 3 events checked, head #3" in said and "no earlier checkpoint; wrote the first at #3" in said
    )
    document = json.loads(path.read_text())
    assert document["format"] == "intelgraph.audit-checkpoint" and document["version"] == 1
    assert document["seq"] == 3 and document["hash"] == AuditEvent.objects.get(seq=3).hash
    assert set(document) == {"format", "version", "seq", "hash", "verified_at", "key_id", "signature"}
    # Then the next run moves it on, and one with nothing new keeps it
    _events(2)
    assert "checkpoint moved from #3 to #5" in _verify_command()
    assert "checkpoint stays at #5" in _verify_command()
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]  # written by rename


def test_the_checkpoint_never_moves_back():
    _events(4)
    _verify_command()
    again = audit.checkpoint_advance(seq=2, hash=AuditEvent.objects.get(seq=2).hash)
    assert again.seq == 4 and audit.checkpoint_load().seq == 4


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda d: {**d, "seq": 1}, "signature does not verify"),  # moved back to hide later deletions
        (lambda d: {k: v for k, v in d.items() if k != "signature"}, "lacks seq, hash"),
        (lambda d: {**d, "version": 99}, "has version 99"),
        (lambda d: "not json", "is not an intelgraph.audit-checkpoint JSON document"),
    ],
)
def test_a_tampered_checkpoint_is_one_clear_failure(settings, tamper, message):
    _events(3)
    _verify_command()
    path = settings.AUDIT_CHECKPOINT_FILE
    changed = tamper(json.loads(path.read_text()))
    path.write_text(changed if isinstance(changed, str) else json.dumps(changed))
    problem = audit.verify_chain().problem
    assert problem is not None and problem.kind == "bad-checkpoint" and message in problem.detail
    with pytest.raises(CommandError, match=f"bad-checkpoint: checkpoint {path}.*{message}"):
        _verify_command()


def test_a_checkpoint_signed_by_an_untrusted_key_is_refused(settings):
    # An attacker who rewrites the checkpoint must sign it, and their key is not configured
    _events(3)
    _verify_command()
    attacker = Ed25519PrivateKey.generate()
    path = settings.AUDIT_CHECKPOINT_FILE
    document = {**json.loads(path.read_text()), "seq": 1, "hash": AuditEvent.objects.get(seq=1).hash}
    document["key_id"] = _key_id(attacker)
    del document["signature"]
    document["signature"] = attacker.sign(audit.canonical_json(document)).hex()
    path.write_text(json.dumps(document))
    problem = audit.verify_chain().problem
    assert problem.kind == "bad-checkpoint" and f"signed by key {_key_id(attacker)}" in problem.detail


# --------------------------------------------------------------------------- evidence exports


def test_er_evidence_verify_refuses_an_export_signed_by_a_key_only_in_the_table(tenant_a, tmp_path):
    # Given a genuine export of one ER decision
    audit.record("er.pair_rejected", tenant=tenant_a, payload={"reason": "different people"})
    out = tmp_path / "evidence.jsonl"
    call_command("er_evidence", "--tenant", tenant_a.slug, "--out", str(out), stdout=io.StringIO())
    header, item = (json.loads(line) for line in out.read_text().splitlines())
    # When an attacker registers their key in the table and re-signs an edited event and the header with it
    attacker = Ed25519PrivateKey.generate()
    _register(attacker)
    item["body"]["payload"]["reason"] = "same person"
    item["body"]["key_id"] = item["key_id"] = _key_id(attacker)
    item["hash"] = hashlib.sha256(audit.canonical_json(item["body"])).hexdigest()
    item["signature"] = attacker.sign(item["hash"].encode()).hex()
    header["digest"] = hashlib.sha256(item["hash"].encode()).hexdigest()
    header["keys"] = {**header["keys"], _key_id(attacker): _public_hex(attacker)}
    del header["header_signature"]
    header["header_signature"] = {
        "key_id": _key_id(attacker),
        "signature": attacker.sign(audit.canonical_json(header)).hex(),
    }
    out.write_text(json.dumps(header) + "\n" + json.dumps(item) + "\n")
    # Then the check refuses both signatures, naming the key
    with pytest.raises(CommandError, match=f"header: untrusted-key: signed by key {_key_id(attacker)}") as raised:
        call_command("er_evidence", "--verify", str(out))
    assert "line 2: untrusted-key" in str(raised.value)


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"AUDIT_TRUSTED_KEYS": "abc123"}, "AUDIT_TRUSTED_KEYS"),
        ({"AUDIT_TRUSTED_KEYS": "ab" * 32 + ",not-hex"}, "AUDIT_TRUSTED_KEYS"),
        ({"AUDIT_TRUSTED_KEYS_FILE": "/nonexistent/trusted_keys"}, "AUDIT_TRUSTED_KEYS_FILE"),
        ({"AUDIT_TRUSTED_KEYS_FILE": "BAD_FILE"}, "AUDIT_TRUSTED_KEYS_FILE (BAD_FILE line 3)"),
    ],
)
def test_a_malformed_trusted_key_stops_start_up_in_one_line(tmp_path, env, variable):
    bad = tmp_path / "trusted_keys"
    bad.write_text(f"# production, rotated 2026-01\n{'cd' * 32}  # old key\nnot a key\n")
    env = {name: value.replace("BAD_FILE", str(bad)) for name, value in env.items()}
    result = _manage("check", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"configuration error: {variable.replace('BAD_FILE', str(bad))}:")


def test_trusted_keys_come_from_the_variable_and_the_file(tmp_path):
    listed = tmp_path / "trusted_keys"
    listed.write_text(f"# production keys\n{'CD' * 32}  # rotated 2026-01\n\n{'ef' * 32}\n")
    code = "from django.conf import settings; print(','.join(settings.AUDIT_TRUSTED_KEYS))"
    result = _manage(
        "shell",
        "--no-imports",
        "-c",
        code,
        env={"AUDIT_TRUSTED_KEYS": "ab" * 32, "AUDIT_TRUSTED_KEYS_FILE": str(listed)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ",".join(["ab" * 32, "cd" * 32, "ef" * 32])


def _manage(*args, env):
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "AUDIT_"))}
    full_env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ig-metrics-")
    full_env.update(env)
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=root, env=full_env, capture_output=True, text=True, timeout=120
    )


def test_the_admin_shows_which_registered_keys_are_trusted(client, tenant_a):
    _events(1)
    attacker = Ed25519PrivateKey.generate()
    _register(attacker)
    admin = factories.user(tenant=tenant_a, staff=True)
    admin.is_superuser = True
    admin.save(update_fields=["is_superuser"])
    client.force_login(admin)
    page = client.get("/admin/audit/auditsigningkey/").content.decode()
    assert _key_id(attacker) in page and 'alt="False"' in page and 'alt="True"' in page
