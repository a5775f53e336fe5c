"""An audit event as a database row: its canonical hash and its signature checked without a model.

Verification reads events by the million; building a model and a dict per event was most of its time. ``EVENT_SQL`` selects the columns in
the order ``hash_row`` takes them, with ``created_at`` already in the canonical form (ISO 8601, UTC,
microseconds) and the payload as text. ``hash_row`` spells ``services.canonical_bytes`` out for a row: the
top-level keys in sorted order, each value through json (the payload with sorted keys);
tests/audit/test_walk.py holds the two equal.
"""

from __future__ import annotations

import hashlib
import json
from json.encoder import encode_basestring

from cryptography.exceptions import InvalidSignature

EVENT_SQL = (
    "e.seq, e.version, e.xid, to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), "
    "e.tenant_id, e.actor_id, e.actor_label, e.event_type, e.target_type, e.target_id, e.payload::text, "
    "e.confirms, e.prev_hash, e.hash, e.signature, e.key_id"
)
SEQ, VERSION, XID, CONFIRMS, PREV_HASH, HASH, SIGNATURE, KEY_ID = 0, 1, 2, 11, 12, 13, 14, 15

_string = encode_basestring  # json's own (C) string encoder, as json.dumps(..., ensure_ascii=False) uses
_dumps_sorted = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode
_sha256 = hashlib.sha256


def _number(value) -> str:
    return "null" if value is None else str(value)


def hash_row(row) -> str:
    """The SHA-256 (hex) of the canonical form of an event read with EVENT_SQL."""
    (seq, version, xid, created_at, tenant_id, actor_id, actor_label, event_type, target_type, target_id, payload,
     confirms, prev_hash, _, _, key_id) = row  # fmt: skip
    payload = _dumps_sorted(json.loads(payload))
    if version == 1:
        text = (
            f'{{"actor_id":{_number(actor_id)},"actor_label":{_string(actor_label)},"created_at":"{created_at}",'
            f'"event_type":{_string(event_type)},"key_id":{_string(key_id)},"payload":{payload},'
            f'"prev_hash":{_string(prev_hash)},"seq":{seq},"target_id":{_string(target_id)},'
            f'"target_type":{_string(target_type)},"tenant_id":{_number(tenant_id)}}}'
        )
    else:
        text = (
            f'{{"actor_id":{_number(actor_id)},"actor_label":{_string(actor_label)},'
            f'"confirms":[{",".join(map(str, confirms))}],"created_at":"{created_at}",'
            f'"event_type":{_string(event_type)},"key_id":{_string(key_id)},"payload":{payload},'
            f'"seq":{seq},"target_id":{_string(target_id)},"target_type":{_string(target_type)},'
            f'"tenant_id":{_number(tenant_id)},"v":{version},"xid":{_number(xid)}}}'
        )
    return _sha256(text.encode()).hexdigest()


def signed(keys: dict, row) -> bool:
    """Whether the row's signature is by one of ``keys`` ({key_id: Ed25519PublicKey}) over its stored hash."""
    key = keys.get(row[KEY_ID])
    if key is None:
        return False
    try:
        key.verify(bytes.fromhex(row[SIGNATURE]), row[HASH].encode())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
