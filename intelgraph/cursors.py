"""Opaque, tamper-evident page cursors for every paged read (search hits, graph neighbourhoods).

A cursor is a small JSON payload (where the next page starts), bound to a fingerprint of the query
it belongs to and an expiry, HMAC-SHA256 signed with a key derived from ``SECRET_KEY`` and a
purpose string, so a cursor issued for one kind of read never decodes as another's. The format is
``<base64url body>.<base64url first 16 bytes of the HMAC>``; the body is compact JSON with the
payload's keys followed by ``q`` (fingerprint) and ``e`` (expiry, Unix seconds).

Failures are one ``CursorError`` whose ``code`` is the API error code, the same for every caller:
``INVALID_CURSOR`` for a cursor this server did not issue, or issued for another query;
``CURSOR_EXPIRED`` for one past its expiry (start again without ``after``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from django.conf import settings

TTL_SECONDS = 3600
INVALID_CURSOR = "INVALID_CURSOR"
CURSOR_EXPIRED = "CURSOR_EXPIRED"
RESERVED_KEYS = frozenset({"q", "e"})  # the fingerprint and the expiry, written after the payload
_SIGNATURE_BYTES = 16


class CursorError(ValueError):
    """A cursor that cannot be used: ``code`` is ``INVALID_CURSOR`` or ``CURSOR_EXPIRED``."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def _key(purpose: str) -> bytes:
    return hashlib.sha256(f"{purpose}:".encode() + settings.SECRET_KEY.encode()).digest()


def _sign(purpose: str, body: bytes) -> bytes:
    return hmac.new(_key(purpose), body, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(*parts) -> str:
    """A short digest of what a query is (its text, filters, scope, caller…), to bind its cursors to it."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def encode(
    payload: dict, *, purpose: str, query_fingerprint: str, ttl_seconds: int = TTL_SECONDS, now: float | None = None
) -> str:
    """A signed cursor carrying ``payload`` (JSON-serialisable, without the keys ``q`` and ``e``)."""
    if RESERVED_KEYS & payload.keys():
        raise ValueError(f"cursor payload keys {sorted(RESERVED_KEYS)} are reserved")
    expires = int((now or time.time()) + ttl_seconds)
    body = json.dumps({**payload, "q": query_fingerprint, "e": expires}, separators=(",", ":")).encode()
    return f"{_b64(body)}.{_b64(_sign(purpose, body))}"


def decode(cursor: str, *, purpose: str, query_fingerprint: str, now: float | None = None) -> dict:
    """The payload of a cursor issued by ``encode`` with this purpose and fingerprint, not yet expired."""
    try:
        body_text, signature_text = cursor.split(".", 1)
        body, signature = _unb64(body_text), _unb64(signature_text)
    except (ValueError, TypeError, AttributeError):
        raise CursorError("The cursor is not one this server issued.", INVALID_CURSOR) from None
    if not hmac.compare_digest(signature, _sign(purpose, body)):
        raise CursorError("The cursor is not one this server issued.", INVALID_CURSOR)
    data = json.loads(body)
    if not isinstance(data, dict) or data.get("q") != query_fingerprint:
        raise CursorError("The cursor belongs to a different query; pass the same arguments.", INVALID_CURSOR)
    if not isinstance(data.get("e"), int) or data["e"] < (now or time.time()):
        raise CursorError("The cursor has expired; start again without `after`.", CURSOR_EXPIRED)
    return {key: value for key, value in data.items() if key not in RESERVED_KEYS}
