"""Opaque, tamper-evident keyset cursors: the last hit's (score, id), bound to the query, signed, expiring."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from django.conf import settings

CURSOR_TTL_SECONDS = 3600


class CursorError(ValueError):
    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Position:
    score: float
    entity_id: str


def _key() -> bytes:
    return hashlib.sha256(b"intelgraph.search.cursor:" + settings.SECRET_KEY.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(position: Position, *, query_fingerprint: str, now: float | None = None) -> str:
    body = json.dumps(
        {"s": position.score, "i": position.entity_id, "q": query_fingerprint,
         "e": int((now or time.time()) + CURSOR_TTL_SECONDS)},
        separators=(",", ":"),
    ).encode()  # fmt: skip
    signature = hmac.new(_key(), body, hashlib.sha256).digest()[:16]
    return f"{_b64(body)}.{_b64(signature)}"


def decode(cursor: str, *, query_fingerprint: str, now: float | None = None) -> Position:
    try:
        body_text, signature_text = cursor.split(".", 1)
        body, signature = _unb64(body_text), _unb64(signature_text)
    except (ValueError, TypeError):
        raise CursorError("The cursor is not one this server issued.", "INVALID_CURSOR") from None
    expected = hmac.new(_key(), body, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(signature, expected):
        raise CursorError("The cursor is not one this server issued.", "INVALID_CURSOR")
    data = json.loads(body)
    if data["q"] != query_fingerprint:
        raise CursorError("The cursor belongs to a different query or filters.", "INVALID_CURSOR")
    if data["e"] < (now or time.time()):
        raise CursorError("The cursor has expired; start the search again.", "CURSOR_EXPIRED")
    return Position(float(data["s"]), str(data["i"]))


def fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]
