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
from django.db import connection, transaction
from django.utils import timezone

from apps.audit import services as audit
from apps.audit.models import AuditCheckpoint, AuditEvent, AuditSigningKey
from apps.audit.sealing import seal_pending
from apps.audit.verification import verify_log
from tests import factories
from tests.audit.tampering import appended, as_attacker, position_of, sealed

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


def _resign(events, key: Ed25519PrivateKey, *, key_id: str, edit=None):
    """Re-hash and re-sign ``events`` with ``key`` under ``key_id`` (after ``edit``), directly in SQL."""
    statements = []
    for event in events:
        event.refresh_from_db()
        if edit:
            edit(event)
        event.key_id = key_id
        event.hash = audit.event_hash(event)
        event.signature = key.sign(event.hash.encode()).hex()
        statements.append(
            (
                "UPDATE audit_auditevent SET payload = %s, key_id = %s, hash = %s, signature = %s WHERE seq = %s",
                [json.dumps(event.payload), event.key_id, event.hash, event.signature, event.seq],
            )
        )
    as_attacker(*statements)


def _verify_command(*args):
    out = io.StringIO()
    call_command("audit_verify", *args, stdout=out)
    return out.getvalue()


def _problem():
    report = verify_log(full=True, advance=False)
    assert not report.ok
    return report.problem


# --------------------------------------------------------------------------- keys from the database

committed = pytest.mark.django_db(transaction=True)


@committed
def test_a_forged_event_signed_by_a_key_inserted_in_the_table_is_untrusted():
    # Given a sealed log, and an attacker who registers a key of their own in the key table
    sealed(3)
    attacker = Ed25519PrivateKey.generate()
    _register(attacker)
    # When they append an event signed by it (INSERT is all it takes) and the sealer seals it
    with connection.cursor() as cursor:  # a number from the log's own sequence, as record() takes one
        cursor.execute("SELECT nextval(pg_get_serial_sequence('audit_auditevent', 'id'))")
        number = cursor.fetchone()[0]
    forged = AuditEvent(
        seq=number,
        id=number,
        created_at=timezone.now(),
        actor_label="admin",
        event_type="er.pair_approved",
        payload={"reason": "approved by the board"},
        key_id=_key_id(attacker),
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        forged.xid = cursor.fetchone()[0]
        forged.hash = audit.event_hash(forged)
        forged.signature = attacker.sign(forged.hash.encode()).hex()
        forged.save(force_insert=True)
    # Then verification refuses the key, naming it, before the event is sealed and after
    problem = _problem()
    assert (problem.position, problem.seq, problem.kind) == (None, forged.seq, "untrusted-key")
    seal_pending()
    problem = _problem()
    assert (problem.position, problem.seq, problem.kind) == (4, forged.seq, "untrusted-key")
    assert _key_id(attacker) in problem.detail
    with pytest.raises(CommandError, match=f"position 4 \\(event #{forged.seq}\\): untrusted-key: signed by key"):
        _verify_command()


@committed
def test_an_unsealed_event_edited_and_resigned_by_a_registered_attacker_key_fails():
    sealed(2)
    pending = appended(2)
    attacker = Ed25519PrivateKey.generate()
    _register(attacker)

    def edit(event):
        event.payload = {"n": 1000}

    _resign(pending[:1], attacker, key_id=_key_id(attacker), edit=edit)
    problem = _problem()
    assert (problem.position, problem.seq, problem.kind) == (None, pending[0].seq, "untrusted-key")


@committed
def test_a_sealed_event_edited_and_resigned_no_longer_matches_its_leaf():
    events = sealed(3)
    attacker = Ed25519PrivateKey.generate()
    _register(attacker)
    _resign(events[1:2], attacker, key_id=_key_id(attacker), edit=lambda e: setattr(e, "payload", {"n": 7}))
    problem = _problem()
    assert (problem.position, problem.kind) == (position_of(events[1]), "moved")


@committed
def test_replacing_the_registered_public_key_and_resigning_everything_fails():
    # Given pending events signed by the installation's key
    sealed(1)
    events = appended(3)
    own_id = events[0].key_id
    attacker = Ed25519PrivateKey.generate()
    # When the attacker swaps the registered public key for theirs and re-signs the events under the same id
    as_attacker(("UPDATE audit_auditsigningkey SET public_key = %s WHERE key_id = %s", [_public_hex(attacker), own_id]))
    _resign(events, attacker, key_id=own_id)
    # Then the first fails: the key id is trusted only with the configured public key
    problem = _problem()
    assert (problem.seq, problem.kind) == (events[0].seq, "bad-signature")
    assert "different public key" in problem.detail
    with pytest.raises(CommandError, match="bad-signature"):
        _verify_command()


# --------------------------------------------------------------------------- the checkpoint outside the database


@committed
def test_the_sealer_and_audit_verify_write_and_move_the_checkpoint_file(settings):
    path = settings.AUDIT_CHECKPOINT_FILE
    assert not path.exists()
    sealed(3)
    document = json.loads(path.read_text())
    assert document["format"] == "intelgraph.audit-checkpoint" and document["version"] == 2
    assert set(document) == {"format", "version", "origin", "size", "root", "time", "horizon", "key_id", "signature"}
    assert document["size"] == 3 and document["root"] == AuditCheckpoint.objects.get(size=3).root_hash
    assert "audit log OK (full (first run)): 3 position(s)" in _verify_command()
    sealed(2)  # and the run's audit.verified event
    assert json.loads(path.read_text())["size"] == 6
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]  # written by rename


@committed
def test_the_checkpoint_file_never_moves_back():
    sealed(2)
    sealed(2)
    audit.checkpoint_file_advance(AuditCheckpoint.objects.get(size=2))
    assert audit.checkpoint_file_load().size == 4


@committed
@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda d: {**d, "size": 1}, "signature does not verify"),  # moved back to hide later deletions
        (lambda d: {k: v for k, v in d.items() if k != "signature"}, "lacks size, root"),
        (lambda d: {**d, "version": 99}, "has version 99"),
        (lambda d: "not json", "is not an intelgraph.audit-checkpoint JSON document"),
    ],
)
def test_a_tampered_checkpoint_file_is_one_clear_failure(settings, tamper, message):
    sealed(3)
    path = settings.AUDIT_CHECKPOINT_FILE
    changed = tamper(json.loads(path.read_text()))
    path.write_text(changed if isinstance(changed, str) else json.dumps(changed))
    problem = _problem()
    assert problem.kind == "bad-checkpoint" and message in problem.detail
    with pytest.raises(CommandError, match=f"bad-checkpoint: checkpoint {path}.*{message}"):
        _verify_command()


@committed
def test_a_checkpoint_file_signed_by_an_untrusted_key_is_refused(settings):
    sealed(3)
    attacker = Ed25519PrivateKey.generate()
    path = settings.AUDIT_CHECKPOINT_FILE
    document = {**json.loads(path.read_text()), "size": 1}
    document["key_id"] = _key_id(attacker)
    del document["signature"]
    document["signature"] = attacker.sign(audit.canonical_json(document)).hex()
    path.write_text(json.dumps(document))
    problem = _problem()
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
