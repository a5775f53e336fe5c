"""The audit service: the one way to record that something happened, and the log's signed documents.

``record`` appends an event in the caller's transaction and signs it, with no lock: nothing an append does
waits for another append. The sealer (``apps.audit.sealing``, one process) later gives committed events their
positions in an RFC 6962 Merkle tree and signs a checkpoint at the end of each batch; ``apps.audit.verification``
checks the whole log and ``apps.audit.proofs`` proves one event. Design and the commit-order argument:
docs/adr/0007-audit-merkle-log.md.

Verification trusts only keys from configuration (AUDIT_TRUSTED_KEYS and the installation's own signing key),
never the database it checks, and compares the log with the last checkpoint seen, kept outside the database
(AUDIT_CHECKPOINT_FILE).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from itertools import islice
from pathlib import Path

import psycopg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from apps.audit import catalogue
from apps.audit.errors import AuditCheckpointError, AuditError
from apps.audit.models import AuditEvent, AuditSigningKey

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64  # prev_hash of the first hash-chained (version 1) event


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


@cache
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
    """The bytes an event's hash covers: every field but hash and signature, in a fixed form.

    Version 2 (sealed) events cover their number, transaction and the events they confirm; version 1
    (hash-chained, from before the Merkle log) keep exactly the form they were hashed in, with ``prev_hash``.
    """
    if event.version == 1:
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
    else:
        body = {
            "v": event.version,
            "seq": event.seq,
            "xid": event.xid,
            "created_at": _iso(event.created_at),
            "tenant_id": event.tenant_id,
            "actor_id": event.actor_id,
            "actor_label": event.actor_label,
            "event_type": event.event_type,
            "target_type": event.target_type,
            "target_id": event.target_id,
            "payload": event.payload,
            "confirms": list(event.confirms),
            "key_id": event.key_id,
        }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(canonical_bytes(event)).hexdigest()


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


# --------------------------------------------------------------------------- confirmations
# Each process remembers the events it appended whose transactions it saw commit (transaction.on_commit), until a
# later event of its own that committed names them in ``confirms``. An event deleted before the sealer reached it
# is then still known: the sealer finds a confirmed number with no event and seals a "missing" position for it.
# The lock guards a few dictionary operations, never a database call.

CONFIRMS_PER_EVENT = 32  # the oldest unconfirmed numbers an event names; the rest wait for the next event
_UNCONFIRMED_MAX = 10_000  # a process that only ever commits (never appends again) keeps at most this many
_confirm_lock = threading.Lock()
_unconfirmed: dict[int, None] = {}


def _reset_confirmations() -> None:
    global _confirm_lock, _unconfirmed
    _confirm_lock, _unconfirmed = threading.Lock(), {}


os.register_at_fork(after_in_child=_reset_confirmations)  # a forked worker confirms only its own events


def _to_confirm() -> list[int]:
    with _confirm_lock:
        return sorted(islice(_unconfirmed, CONFIRMS_PER_EVENT))


def _committed(seq: int, confirmed: list[int]) -> None:
    with _confirm_lock:
        for number in confirmed:
            _unconfirmed.pop(number, None)
        _unconfirmed[seq] = None
        while len(_unconfirmed) > _UNCONFIRMED_MAX:
            _unconfirmed.pop(next(iter(_unconfirmed)))


# --------------------------------------------------------------------------- record

_NEXT = "SELECT nextval(pg_get_serial_sequence('audit_auditevent', 'id')), pg_current_xact_id()::text::bigint"
# The event's columns in AuditEvent's field order, so one list of values builds the model (positionally, the fast
# way) and fills the INSERT. tests/audit/test_merkle_log.py checks the order against the model.
EVENT_COLUMNS = (
    "id", "seq", "version", "xid", "created_at", "tenant_id", "actor_id", "actor_label", "event_type",
    "target_type", "target_id", "payload", "confirms", "prev_hash", "hash", "signature", "key_id",
)  # fmt: skip
_PAYLOAD, _HASH, _SIGNATURE = (EVENT_COLUMNS.index(c) for c in ("payload", "hash", "signature"))
# One statement registers the signing key (informational, see AuditSigningKey) and inserts the event.
_INSERT = """
WITH signing_key AS (
  INSERT INTO audit_auditsigningkey (key_id, public_key, created_at) VALUES (%s, %s, now())
  ON CONFLICT (key_id) DO NOTHING
)
INSERT INTO audit_auditevent (id, seq, version, xid, created_at, tenant_id, actor_id, actor_label, event_type,
  target_type, target_id, payload, confirms, prev_hash, hash, signature, key_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::bigint[], %s, %s, %s, %s)
"""


def _append_cursor() -> psycopg.Cursor:
    """A cursor on the caller's connection (so in its transaction) that binds on the server: the two statements
    of an append are prepared once per connection and then only executed. Django's own cursors bind on the
    client, which makes PostgreSQL parse and plan every statement again (docs/benchmarks.md, the audit log).
    One per connection, kept with it."""
    connection.ensure_connection()
    raw = connection.connection
    cursor = _append_cursors.get(raw)
    if cursor is None or cursor.closed:
        cursor = _append_cursors[raw] = psycopg.Cursor(raw)
    return cursor


_append_cursors: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _execute(cursor: psycopg.Cursor, sql: str, params) -> None:
    """Run a statement of the append as a Django cursor would, but prepared: through the connection's execute
    wrappers (the GraphQL request's deadline), with Django's errors, and logged where Django logs statements
    (DEBUG, the tests' query counts)."""

    def execute(sql, params, many, context):
        with connection.wrap_database_errors:
            return cursor.execute(sql, params, prepare=sql in (_NEXT, _INSERT))  # a wrapper's SET is not ours

    for wrapper in reversed(connection.execute_wrappers):
        execute = partial(wrapper, execute)
    started = time.monotonic()
    try:
        execute(sql, params, False, {"connection": connection, "cursor": cursor})
    finally:
        if connection.queries_logged:
            connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})


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

    Two prepared statements and no lock: the event's number and the transaction id, then the insert. It commits
    or rolls back with the caller's work; the sealer gives it a position once it and every older transaction
    finished. ``target`` may be any model instance; its label and primary key become the target fields.
    ``event_type`` must be one of ``apps.audit.catalogue``: an unknown one raises AuditError (or, with
    AUDIT_UNKNOWN_EVENT_TYPES=warn, is logged and kept under the default retention class).
    """
    if event_type not in catalogue.EVENT_TYPES:
        if settings.AUDIT_UNKNOWN_EVENT_TYPES == "error":
            raise AuditError(f"unknown audit event type {event_type!r}: list it in apps/audit/catalogue.py")
        logger.warning("audit event type %r is not in the catalogue (apps/audit/catalogue.py)", event_type)
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    label = actor_label if actor_label is not None else (actor.get_username() if actor else "system")
    key = signing_key()
    key_id, public_hex = _signing_key_id()
    payload_json = json.dumps(payload or {}, cls=DjangoJSONEncoder, sort_keys=True)
    # Outside a transaction the number, the transaction id and the insert still need one: the id signed must be
    # the inserting transaction's. Inside one (the usual case) no savepoint is needed: it is one INSERT.
    with transaction.atomic() if not connection.in_atomic_block else _nothing():
        cursor = _append_cursor()
        _execute(cursor, _NEXT, None)
        seq, xid = cursor.fetchone()
        # What is hashed must equal what PostgreSQL gives back: the payload as JSON reads it.
        values = [
            seq, seq, 2, xid, timezone.now(), getattr(tenant, "pk", tenant), getattr(actor, "pk", None), label[:200],
            event_type, target_type[:100], str(target_id)[:200], json.loads(payload_json), _to_confirm(), "", "", "",
            key_id,
        ]  # fmt: skip
        event = AuditEvent(*values)
        event.hash = values[_HASH] = event_hash(event)
        event.signature = values[_SIGNATURE] = key.sign(event.hash.encode()).hex()
        values[_PAYLOAD] = payload_json
        _execute(cursor, _INSERT, [key_id, public_hex, *values])
        transaction.on_commit(partial(_committed, seq, event.confirms))
    event._state.adding = False
    event._state.db = connection.alias
    if actor is not None:
        event.actor = actor
    return event


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def verify_event_signature(event: AuditEvent, keys: dict) -> tuple[str, str] | None:
    """(kind, why) when the event's signature is not by a trusted key of ``keys`` ({key_id: public key}), else None."""
    key = keys.get(event.key_id)
    if key is None:
        return _untrusted(event.key_id)
    try:
        key.verify(bytes.fromhex(event.signature), event.hash.encode())
    except (InvalidSignature, ValueError):
        detail = f"signature does not verify with trusted key {event.key_id}"
        registered = AuditSigningKey.objects.filter(key_id=event.key_id).values_list("public_key", flat=True).first()
        if registered is not None and registered != trusted_keys().get(event.key_id):
            detail += " (the database's key table holds a different public key under that id)"
        return "bad-signature", detail
    return None


def trusted_public_keys() -> dict[str, Ed25519PublicKey]:
    return {key_id: _public_key(public_hex) for key_id, public_hex in trusted_keys().items()}


# --------------------------------------------------------------------------- checkpoints
# A checkpoint is one signed JSON document, the same in the database (AuditCheckpoint), in the checkpoint file
# outside it, and in every proof: {format, version, origin, size, root, time, horizon, key_id} plus an Ed25519
# signature over their canonical JSON. Format: docs/operations/audit.md.

CHECKPOINT_FORMAT = "intelgraph.audit-checkpoint"
CHECKPOINT_VERSION = 2


def checkpoint_document(checkpoint) -> dict:
    """The signed document of an AuditCheckpoint (without its signature)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "root": checkpoint.root_hash,
        "time": _iso(checkpoint.created_at),
        "horizon": checkpoint.horizon,
        "key_id": checkpoint.key_id,
    }


def checkpoint_signed(checkpoint) -> dict:
    """The checkpoint as it is published: its document and signature."""
    return {**checkpoint_document(checkpoint), "signature": checkpoint.signature}


def checkpoint_sign(checkpoint) -> None:
    """Sign ``checkpoint`` (size, root_hash, horizon, created_at set) with this installation's key and origin."""
    checkpoint.origin = settings.AUDIT_LOG_ORIGIN
    checkpoint.key_id = _registered_key_id()
    checkpoint.signature = signing_key().sign(canonical_json(checkpoint_document(checkpoint))).hex()


def checkpoint_problem(checkpoint) -> str | None:
    """None when an AuditCheckpoint's signature verifies with a trusted key, else why not."""
    return verify_signature(canonical_json(checkpoint_document(checkpoint)), checkpoint.signature, checkpoint.key_id)


TOMBSTONE_FORMAT = "intelgraph.audit-tombstone"


def tombstone_document(tombstone) -> dict:
    """The signed document of an AuditTombstone (without its signature)."""
    return {
        "format": TOMBSTONE_FORMAT,
        "version": 1,
        "origin": tombstone.origin,
        "first": tombstone.first,
        "last": tombstone.last,
        "count": tombstone.count,
        "leaves_root": tombstone.leaves_root,
        "events_from": _iso(tombstone.events_from),
        "events_until": _iso(tombstone.events_until),
        "purged_at": _iso(tombstone.purged_at),
        "key_id": tombstone.key_id,
    }


def tombstone_signed(tombstone) -> dict:
    return {**tombstone_document(tombstone), "signature": tombstone.signature}


def tombstone_sign(tombstone) -> None:
    tombstone.origin = settings.AUDIT_LOG_ORIGIN
    tombstone.key_id = _registered_key_id()
    tombstone.signature = signing_key().sign(canonical_json(tombstone_document(tombstone))).hex()


def tombstone_problem(tombstone) -> str | None:
    """None when an AuditTombstone's signature verifies with a trusted key, else why not."""
    return verify_signature(canonical_json(tombstone_document(tombstone)), tombstone.signature, tombstone.key_id)


@dataclass(frozen=True)
class SeenCheckpoint:
    """The last checkpoint seen outside the database: ``size`` positions with root ``root`` (hex).

    Read from AUDIT_CHECKPOINT_FILE. A file of version 1 (written before the Merkle log) names the head of the
    hash chain instead: ``seq``/``hash`` of the last event, which is position ``seq`` of the adopted segment.
    """

    size: int
    root: str | None
    time: str
    key_id: str
    head_hash: str | None = None  # version 1 only


def checkpoint_file_load() -> SeenCheckpoint | None:
    """The checkpoint in AUDIT_CHECKPOINT_FILE, None when there is none; AuditCheckpointError if it is not genuine."""
    path = Path(settings.AUDIT_CHECKPOINT_FILE)
    document = _read_document(path, CHECKPOINT_FORMAT)
    if document is None:
        return None
    version = document.get("version")
    if version == 1:
        seq, digest, at, key_id, signature = (
            document.get(k) for k in ("seq", "hash", "verified_at", "key_id", "signature")
        )
        if not (
            _count(seq)
            and _hex64(digest)
            and isinstance(at, str)
            and isinstance(key_id, str)
            and isinstance(signature, str)
        ):
            raise AuditCheckpointError(f"checkpoint {path} lacks seq, hash, verified_at, key_id or signature")
        _check_file_signature(path, document)
        return SeenCheckpoint(size=seq, root=None, time=at, key_id=key_id, head_hash=digest)
    if version != CHECKPOINT_VERSION:
        raise AuditCheckpointError(
            f"checkpoint {path} has version {version!r}; this release reads 1 and {CHECKPOINT_VERSION}"
        )
    size, root, at, key_id = (document.get(k) for k in ("size", "root", "time", "key_id"))
    if not (
        _count(size)
        and _hex64(root)
        and isinstance(at, str)
        and isinstance(key_id, str)
        and isinstance(document.get("signature"), str)
    ):
        raise AuditCheckpointError(f"checkpoint {path} lacks size, root, time, key_id or signature")
    _check_file_signature(path, document)
    return SeenCheckpoint(size=size, root=root, time=at, key_id=key_id)


def checkpoint_file_advance(checkpoint) -> SeenCheckpoint | None:
    """Write AuditCheckpoint ``checkpoint`` to AUDIT_CHECKPOINT_FILE, atomically, unless the file is already at or
    past its size (it never moves back). Returns what is on file afterwards."""
    path = Path(settings.AUDIT_CHECKPOINT_FILE)

    def newer(current: SeenCheckpoint | None) -> dict | None:
        if current is not None and current.size >= checkpoint.size:
            return None
        return checkpoint_signed(checkpoint)

    _advance(path, checkpoint_file_load, newer)
    return checkpoint_file_load()


# The last verified state, for incremental verification: written by the verifier only, signed by this
# installation's key, outside the database (AUDIT_VERIFIED_FILE).
VERIFIED_FORMAT = "intelgraph.audit-verified"


@dataclass(frozen=True)
class VerifiedState:
    size: int
    root: str
    verified_at: str
    full: bool


def verified_load() -> VerifiedState | None:
    path = Path(settings.AUDIT_VERIFIED_FILE)
    document = _read_document(path, VERIFIED_FORMAT)
    if document is None:
        return None
    size, root, at = (document.get(k) for k in ("size", "root", "verified_at"))
    if document.get("version") != 1 or not (_count(size) and _hex64(root) and isinstance(at, str)):
        raise AuditCheckpointError(f"verification state {path} is not version 1 with size, root and verified_at")
    _check_file_signature(path, document)
    return VerifiedState(size=size, root=root, verified_at=at, full=bool(document.get("full")))


def verified_advance(*, size: int, root: str, full: bool) -> None:
    """Record that the log verified up to ``size`` positions (root ``root``); never moves back."""
    path = Path(settings.AUDIT_VERIFIED_FILE)

    def newer(current: VerifiedState | None) -> dict | None:
        if current is not None and current.size > size:
            return None
        return {
            "format": VERIFIED_FORMAT,
            "version": 1,
            "size": size,
            "root": root,
            "full": full,
            "verified_at": timezone.now().astimezone(UTC).isoformat(timespec="seconds"),
        }

    _advance(path, verified_load, newer, sign_it=True)


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _hex64(value) -> bool:
    return isinstance(value, str) and len(value) == 64


def _read_document(path: Path, format_name: str) -> dict | None:
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
    if not isinstance(document, dict) or document.get("format") != format_name:
        raise AuditCheckpointError(f"checkpoint {path} is not an {format_name} JSON document")
    return document


def _check_file_signature(path: Path, document: dict) -> None:
    signed = {k: v for k, v in document.items() if k != "signature"}
    problem = verify_signature(canonical_json(signed), document.get("signature"), document.get("key_id"))
    if problem:
        raise AuditCheckpointError(f"checkpoint {path}: {problem} (the file was changed, or not written here)")


def _advance(path: Path, load, newer, *, sign_it: bool = False) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with (path.parent / f".{path.name}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # the sealer and a verifier at once: the later write never goes back
            try:
                current = load()
            except AuditCheckpointError:
                current = None  # a damaged file is replaced by a genuine one; verification reported it already
            document = newer(current)
            if document is None:
                return
            if sign_it:
                document["key_id"] = _signing_key_id()[0]
                document["signature"] = signing_key().sign(canonical_json(document)).hex()
            _write_atomically(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        raise AuditCheckpointError(f"checkpoint {path} cannot be written ({exc.strerror or exc})") from None


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
