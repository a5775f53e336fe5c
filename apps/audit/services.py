"""The audit service: the one way to record that something happened.

Every event joins one global hash chain. Appends take a transaction-scoped
advisory lock, so two writers never read the same chain head; the lock is held
until the caller's transaction commits, and an event rolled back with its
transaction leaves no gap because ``seq`` is assigned under the lock.

Verification trusts only keys from configuration (AUDIT_TRUSTED_KEYS and the
installation's own signing key), never the database it checks, and compares the
chain with a signed checkpoint kept outside the database (AUDIT_CHECKPOINT_FILE).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from apps.audit.errors import AuditCheckpointError
from apps.audit.models import AuditEvent, AuditSigningKey

GENESIS_HASH = "0" * 64
_LOCK_KEY = 0x1A_0D17  # arbitrary constant naming the audit chain's advisory lock


# --------------------------------------------------------------------------- keys
# Trust comes from configuration and the filesystem only. The AuditSigningKey table lists the keys that have
# signed (shown in the admin), but anyone who can write the log can write that table too.


def signing_key() -> Ed25519PrivateKey:
    """The Ed25519 key from AUDIT_SIGNING_KEY, or (development) one generated under var/keys/."""
    return _private_key(settings.AUDIT_SIGNING_KEY, settings.AUDIT_KEY_FILE)


@cache
def _private_key(raw: bytes | None, path: Path) -> Ed25519PrivateKey:
    # Cached per setting value, so overridden settings (tests, rotation) take effect at once.
    if raw is None:
        if path.exists():
            try:
                raw = bytes.fromhex(path.read_text().strip())
                return Ed25519PrivateKey.from_private_bytes(raw)
            except (ValueError, OSError) as exc:
                raise ImproperlyConfigured(
                    f"{path}: not a readable Ed25519 private key in hex ({exc}); set AUDIT_SIGNING_KEY or remove it"
                ) from None
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = Ed25519PrivateKey.generate().private_bytes_raw()
        path.write_text(raw.hex())
        path.chmod(0o600)
    return Ed25519PrivateKey.from_private_bytes(raw)


def _public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def key_id_of(public_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()[:16]


def _signing_key_id() -> tuple[str, str]:
    return _key_ids(_public_hex(signing_key()))


@cache
def _key_ids(public_hex: str) -> tuple[str, str]:
    return key_id_of(public_hex), public_hex


def trusted_keys() -> dict[str, str]:
    """The keys verification accepts, ``{key_id: public key hex}``: AUDIT_TRUSTED_KEYS and this installation's own.

    Never the AuditSigningKey table: it lives in the database being verified.
    """
    return dict(_trusted(tuple(settings.AUDIT_TRUSTED_KEYS), _signing_key_id()[1]))


@cache
def _trusted(configured: tuple[str, ...], own: str) -> tuple[tuple[str, str], ...]:
    return tuple(_key_ids(public_hex.lower()) for public_hex in (*configured, own))


@cache
def _public_key(public_hex: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))


def _untrusted(key_id) -> tuple[str, str]:
    """(kind, why) for a signature by a key that is not trusted here."""
    if isinstance(key_id, str) and AuditSigningKey.objects.filter(key_id=key_id).exists():
        return "untrusted-key", (
            f"signed by key {key_id}, which is only registered in the database, not configured in "
            "AUDIT_TRUSTED_KEYS / AUDIT_TRUSTED_KEYS_FILE (trust never comes from the database)"
        )
    return "unknown-key", f"signed by key {key_id}, which is not configured in AUDIT_TRUSTED_KEYS"


def _registered_key_id() -> str:
    # Not cached: the registration must be in this database (restores and test rollbacks undo it).
    key_id, public_hex = _signing_key_id()
    AuditSigningKey.objects.get_or_create(key_id=key_id, defaults={"public_key": public_hex})
    return key_id


# --------------------------------------------------------------------------- hashing


def canonical_bytes(event: AuditEvent) -> bytes:
    """The bytes an event's hash covers: every field but hash and signature, in a fixed form."""
    body = {
        "seq": event.seq,
        "created_at": _iso(event.created_at),
        "tenant_id": event.tenant_id,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "event_type": event.event_type,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "payload": event.payload,
        "prev_hash": event.prev_hash,
        "key_id": event.key_id,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _normalise_payload(payload: dict | None) -> dict:
    # Round-trip through JSON now, so what is hashed equals what PostgreSQL gives back.
    return json.loads(json.dumps(payload or {}, cls=DjangoJSONEncoder, sort_keys=True))


# --------------------------------------------------------------------------- record


def record(
    event_type: str,
    *,
    actor=None,
    tenant=None,
    target=None,
    target_type: str = "",
    target_id: str = "",
    payload: dict | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Append an audit event in the caller's transaction (or a new one) and return it.

    ``target`` may be any model instance; its label and primary key become the target fields.
    """
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    label = actor_label if actor_label is not None else (actor.get_username() if actor else "system")
    with transaction.atomic():
        key_id = _registered_key_id()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        head = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
        event = AuditEvent(
            seq=(head["seq"] + 1) if head else 1,
            created_at=timezone.now(),
            tenant_id=getattr(tenant, "pk", tenant),
            actor=actor,
            actor_label=label[:200],
            event_type=event_type,
            target_type=target_type[:100],
            target_id=str(target_id)[:200],
            payload=_normalise_payload(payload),
            prev_hash=head["hash"] if head else GENESIS_HASH,
            key_id=key_id,
        )
        digest = hashlib.sha256(canonical_bytes(event)).hexdigest()
        event.hash = digest
        event.signature = signing_key().sign(digest.encode()).hex()
        event.save(force_insert=True)
    return event


# --------------------------------------------------------------------------- verify


@dataclass
class ChainProblem:
    """The first thing wrong with the log; ``seq`` is None when it is the checkpoint file, not an event.

    ``kind``: missing, changed, relinked, bad-signature, untrusted-key, unknown-key, truncated, forked or
    bad-checkpoint.
    """

    seq: int | None
    kind: str
    detail: str

    def __str__(self) -> str:
        where = f"event #{self.seq}: " if self.seq is not None else ""
        return f"{where}{self.kind}: {self.detail}"


@dataclass
class VerifyReport:
    checked: int
    head_seq: int
    head_hash: str
    problem: ChainProblem | None
    checkpoint: Checkpoint | None = None  # the earlier checkpoint the chain was checked against
    checkpoint_after: Checkpoint | None = None  # the checkpoint on file after this run (advance_checkpoint=True)

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(*, batch_size: int = 5000, progress=None, advance_checkpoint: bool = False) -> VerifyReport:
    """Walk the chain from the first event; stop at the first broken or missing link.

    Signatures are checked against ``trusted_keys()`` only. The chain must reach the last checkpoint
    (AUDIT_CHECKPOINT_FILE) and hold the same event there. With ``advance_checkpoint`` a chain that verifies
    moves the checkpoint to its head (``manage.py audit_verify`` and the daily task do this).
    """
    try:
        earlier = checkpoint_load()
    except AuditCheckpointError as exc:
        return VerifyReport(0, 0, GENESIS_HASH, ChainProblem(None, "bad-checkpoint", str(exc)))
    keys = {key_id: _public_key(public_hex) for key_id, public_hex in trusted_keys().items()}
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    events = AuditEvent.objects.order_by("seq").iterator(chunk_size=batch_size)
    for event in events:
        problem = _check_event(event, expected_seq, prev_hash, keys)
        if problem is None and earlier is not None and event.seq == earlier.seq and event.hash != earlier.hash:
            problem = ChainProblem(
                event.seq,
                "forked",
                f"hash {event.hash[:16]}… differs from {earlier.hash[:16]}… verified on {earlier.verified_at}: "
                "history up to the checkpoint was rewritten",
            )
        if problem:
            return VerifyReport(checked, expected_seq - 1, prev_hash, problem, earlier)
        checked += 1
        expected_seq, prev_hash = event.seq + 1, event.hash
        if progress:
            progress(1)
    head_seq = expected_seq - 1
    if earlier is not None and head_seq < earlier.seq:
        held = f"the log ends at #{head_seq}" if head_seq else "the log is empty"
        removed = f"#{head_seq + 1}" if head_seq + 1 == earlier.seq else f"#{head_seq + 1}..#{earlier.seq}"
        problem = ChainProblem(
            head_seq + 1,
            "truncated",
            f"{held}, but #{earlier.seq} was verified on {earlier.verified_at}: events {removed} were removed",
        )
        return VerifyReport(checked, head_seq, prev_hash, problem, earlier)
    report = VerifyReport(checked, head_seq, prev_hash, None, earlier)
    if advance_checkpoint:
        report.checkpoint_after = checkpoint_advance(seq=head_seq, hash=prev_hash)
    return report


def _check_event(event: AuditEvent, expected_seq: int, prev_hash: str, keys: dict) -> ChainProblem | None:
    if event.seq != expected_seq:
        missing = f"#{expected_seq}" if event.seq == expected_seq + 1 else f"#{expected_seq}..#{event.seq - 1}"
        return ChainProblem(expected_seq, "missing", f"event {missing} is not in the log (found #{event.seq} next)")
    recomputed = hashlib.sha256(canonical_bytes(event)).hexdigest()
    if recomputed != event.hash:
        return ChainProblem(event.seq, "changed", f"content does not match its hash {event.hash[:16]}…")
    if event.prev_hash != prev_hash:
        return ChainProblem(
            event.seq, "relinked", f"prev_hash {event.prev_hash[:16]}… is not the hash of event #{event.seq - 1}"
        )
    key = keys.get(event.key_id)
    if key is None:
        return ChainProblem(event.seq, *_untrusted(event.key_id))
    try:
        key.verify(bytes.fromhex(event.signature), event.hash.encode())
    except (InvalidSignature, ValueError):
        detail = f"signature does not verify with trusted key {event.key_id}"
        registered = AuditSigningKey.objects.filter(key_id=event.key_id).values_list("public_key", flat=True).first()
        if registered is not None and registered != trusted_keys().get(event.key_id):
            detail += " (the database's key table holds a different public key under that id)"
        return ChainProblem(event.seq, "bad-signature", detail)
    return None


# --------------------------------------------------------------------------- checkpoint
# The last verified head, signed, in a file outside the database: a chain that is internally consistent but
# shorter than what was once verified (tail deleted, table truncated) or different at that point (rewritten with
# the signing key) fails against it. Format: docs/operations/audit.md.

CHECKPOINT_FORMAT = "intelgraph.audit-checkpoint"
CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    verified_at: str
    key_id: str


def checkpoint_load() -> Checkpoint | None:
    """The checkpoint in AUDIT_CHECKPOINT_FILE, None when there is none; AuditCheckpointError if it is not genuine."""
    path = Path(settings.AUDIT_CHECKPOINT_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditCheckpointError(
            f"checkpoint {path} cannot be read ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = None
    if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
        raise AuditCheckpointError(f"checkpoint {path} is not an {CHECKPOINT_FORMAT} JSON document")
    if document.get("version") != CHECKPOINT_VERSION:
        raise AuditCheckpointError(
            f"checkpoint {path} has version {document.get('version')!r}; this release reads {CHECKPOINT_VERSION}"
        )
    seq, digest, verified_at, key_id, signature = (
        document.get(k) for k in ("seq", "hash", "verified_at", "key_id", "signature")
    )
    if not (
        isinstance(seq, int)
        and seq >= 0
        and isinstance(digest, str)
        and len(digest) == 64
        and isinstance(verified_at, str)
        and isinstance(key_id, str)
        and isinstance(signature, str)
    ):
        raise AuditCheckpointError(f"checkpoint {path} lacks seq, hash, verified_at, key_id or signature")
    signed = {k: v for k, v in document.items() if k != "signature"}
    problem = verify_signature(canonical_json(signed), signature, key_id)
    if problem:
        raise AuditCheckpointError(f"checkpoint {path}: {problem} (the file was changed, or not written here)")
    return Checkpoint(seq=seq, hash=digest, verified_at=verified_at, key_id=key_id)


def checkpoint_advance(*, seq: int, hash: str) -> Checkpoint:
    """Sign ``seq``/``hash`` (a head just verified) into AUDIT_CHECKPOINT_FILE, atomically; never move it back.

    Returns the checkpoint now on file: the earlier one when it is already at or past ``seq``.
    """
    path = Path(settings.AUDIT_CHECKPOINT_FILE)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with (path.parent / f".{path.name}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two verifiers at once: the later write still never goes back
            current = checkpoint_load()
            if current is not None and current.seq >= seq:
                return current
            document = {
                "format": CHECKPOINT_FORMAT,
                "version": CHECKPOINT_VERSION,
                "seq": seq,
                "hash": hash,
                "verified_at": timezone.now().astimezone(UTC).isoformat(timespec="seconds"),
            }
            document["key_id"] = _signing_key_id()[0]
            document["signature"] = signing_key().sign(canonical_json(document)).hex()
            _write_atomically(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        raise AuditCheckpointError(f"checkpoint {path} cannot be written ({exc.strerror or exc})") from None
    return Checkpoint(seq=seq, hash=hash, verified_at=document["verified_at"], key_id=document["key_id"])


def _write_atomically(path: Path, text: str) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)


# --------------------------------------------------------------------------- evidence


def event_evidence(event: AuditEvent) -> dict:
    """One event as evidence anyone can check offline: the exact body its hash covers, the hash, the signature.

    ``sha256(canonical JSON of body) == hash`` and ``Ed25519(public key of key_id).verify(signature, hash)``;
    ``verify_evidence`` does both against the registered keys.
    """
    return {
        "body": json.loads(canonical_bytes(event)),
        "hash": event.hash,
        "signature": event.signature,
        "key_id": event.key_id,
    }


def evidence_keys() -> dict[str, str]:
    """The keys evidence is checked against, ``{key_id: public key hex}``: ``trusted_keys()``, never the database's."""
    return trusted_keys()


def verify_evidence(item) -> str | None:
    """None when one exported event is intact and signed by a trusted key, else what is wrong with it."""
    if not isinstance(item, dict):
        return "not an evidence item (not a JSON object)"
    body, digest, signature, key_id = (item.get(k) for k in ("body", "hash", "signature", "key_id"))
    if not isinstance(body, dict) or not all(isinstance(v, str) for v in (digest, signature, key_id)):
        return "not an evidence item (body, hash, signature and key_id are needed)"
    recomputed = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    if recomputed != digest:
        return f"content does not match its hash {digest[:16]}…"
    if body.get("key_id") != key_id:
        return f"the body names key {body.get('key_id')}, the signature key {key_id}"
    return verify_signature(digest.encode(), signature, key_id)


def canonical_json(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(data: bytes) -> dict:
    """``{"key_id", "signature"}`` of ``data`` by this installation's audit key (always trusted here)."""
    return {"key_id": _registered_key_id(), "signature": signing_key().sign(data).hex()}


def verify_signature(data: bytes, signature, key_id) -> str | None:
    """None when ``signature`` (hex) over ``data`` verifies with trusted key ``key_id``, else why not."""
    public_hex = trusted_keys().get(key_id) if isinstance(key_id, str) else None
    if public_hex is None:
        kind, why = _untrusted(key_id)
        return f"{kind}: {why}"
    try:
        _public_key(public_hex).verify(bytes.fromhex(signature), data)
    except (InvalidSignature, ValueError, TypeError):
        return f"signature does not verify with trusted key {key_id}"
    return None
