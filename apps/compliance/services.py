"""The audit service: the one way to record that something happened.

Every event joins one global hash chain. Appends take a transaction-scoped
advisory lock, so two writers never read the same chain head; the lock is held
until the caller's transaction commits, and an event rolled back with its
transaction leaves no gap because ``seq`` is assigned under the lock.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from apps.compliance.models import AuditEvent, AuditSigningKey

GENESIS_HASH = "0" * 64
_LOCK_KEY = 0x1A_0D17  # arbitrary constant naming the audit chain's advisory lock


# --------------------------------------------------------------------------- keys


@cache
def signing_key() -> Ed25519PrivateKey:
    """The Ed25519 key from AUDIT_SIGNING_KEY, or (development) one generated under var/keys/."""
    raw = settings.AUDIT_SIGNING_KEY
    if raw is None:
        path = settings.AUDIT_KEY_FILE
        if path.exists():
            raw = bytes.fromhex(path.read_text().strip())
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            raw = Ed25519PrivateKey.generate().private_bytes_raw()
            path.write_text(raw.hex())
            path.chmod(0o600)
    return Ed25519PrivateKey.from_private_bytes(raw)


def _public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def key_id_of(public_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()[:16]


@cache
def _signing_key_id() -> tuple[str, str]:
    public_hex = _public_hex(signing_key())
    return key_id_of(public_hex), public_hex


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
    seq: int
    kind: str  # missing, changed, relinked, bad-signature, unknown-key
    detail: str

    def __str__(self) -> str:
        return f"event #{self.seq}: {self.kind}: {self.detail}"


@dataclass
class VerifyReport:
    checked: int
    head_seq: int
    head_hash: str
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(*, batch_size: int = 5000, progress=None) -> VerifyReport:
    """Walk the chain from the first event; stop at the first broken or missing link."""
    keys = {
        k.key_id: Ed25519PublicKey.from_public_bytes(bytes.fromhex(k.public_key)) for k in AuditSigningKey.objects.all()
    }
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    events = AuditEvent.objects.order_by("seq").iterator(chunk_size=batch_size)
    for event in events:
        problem = _check_event(event, expected_seq, prev_hash, keys)
        if problem:
            return VerifyReport(checked, expected_seq - 1, prev_hash, problem)
        checked += 1
        expected_seq, prev_hash = event.seq + 1, event.hash
        if progress:
            progress(1)
    return VerifyReport(checked, expected_seq - 1, prev_hash, None)


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
        return ChainProblem(event.seq, "unknown-key", f"signed by unregistered key {event.key_id}")
    try:
        key.verify(bytes.fromhex(event.signature), event.hash.encode())
    except (InvalidSignature, ValueError):
        return ChainProblem(event.seq, "bad-signature", f"signature does not verify with key {event.key_id}")
    return None


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
    """Every registered signing key, the current one included, as ``{key_id: public key hex}``."""
    _registered_key_id()
    return dict(AuditSigningKey.objects.values_list("key_id", "public_key"))


def verify_evidence(item, keys: dict[str, str]) -> str | None:
    """None when one exported event is intact and signed by a known key, else what is wrong with it."""
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
    if body.get("key_id") != key_id or key_id not in keys:
        return f"signed by unregistered key {key_id}"
    return verify_signature(digest.encode(), signature, key_id, keys)


def canonical_json(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(data: bytes) -> dict:
    """``{"key_id", "signature"}`` of ``data`` by this installation's audit key (registered, so exports verify)."""
    return {"key_id": _registered_key_id(), "signature": signing_key().sign(data).hex()}


def verify_signature(data: bytes, signature, key_id, keys: dict[str, str]) -> str | None:
    """None when ``signature`` (hex) over ``data`` verifies with registered key ``key_id``, else why not."""
    if not isinstance(key_id, str) or key_id not in keys:
        return f"signed by unregistered key {key_id}"
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(keys[key_id])).verify(bytes.fromhex(signature), data)
    except (InvalidSignature, ValueError, TypeError):
        return f"signature does not verify with key {key_id}"
    return None
