"""Search's keyset cursors: the last hit's (score, id), in a signed, expiring ``intelgraph.cursors`` cursor.

The wire format is the one search has always issued (same key, same body), so cursors handed out
before this module used the platform one still decode.
"""

from __future__ import annotations

from dataclasses import dataclass

from intelgraph import cursors
from intelgraph.cursors import CursorError, fingerprint

__all__ = ["CURSOR_TTL_SECONDS", "CursorError", "Position", "decode", "encode", "fingerprint"]

PURPOSE = "intelgraph.search.cursor"
CURSOR_TTL_SECONDS = cursors.TTL_SECONDS


@dataclass(frozen=True)
class Position:
    score: float
    entity_id: str


def encode(position: Position, *, query_fingerprint: str, now: float | None = None) -> str:
    return cursors.encode(
        {"s": position.score, "i": position.entity_id},
        purpose=PURPOSE,
        query_fingerprint=query_fingerprint,
        ttl_seconds=CURSOR_TTL_SECONDS,
        now=now,
    )


def decode(cursor: str, *, query_fingerprint: str, now: float | None = None) -> Position:
    data = cursors.decode(cursor, purpose=PURPOSE, query_fingerprint=query_fingerprint, now=now)
    return Position(float(data["s"]), str(data["i"]))
