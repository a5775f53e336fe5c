"""Time-ordered UUIDs (RFC 9562 version 7) for entity and relationship keys.

Random UUIDv4 keys scatter inserts across the whole B-tree; v7 keys grow with
time, so bulk loads append to the index. They are still unguessable enough not
to reveal counts across tenants, unlike sequential integers.
"""

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)
