"""UUIDv7 event ids: time-ordered, so ids sort the way events happened."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """A UUIDv7 (RFC 9562) that is monotonic within this process.

    The 12-bit ``rand_a`` field holds a counter seeded randomly each millisecond, so ids
    made in the same millisecond still sort in creation order.
    """
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms = now_ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x7FF
        else:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
        ms, seq = _last_ms, _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | seq << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)


def derived_event_id(*parts: str) -> uuid.UUID:
    """A stable id for a fact observed from outside (a push, a webhook delivery).

    Everyone who observes the same fact (a webhook, a redelivery, a poll) derives the same
    id, so JetStream's de-duplication stores it once. It has the UUIDv7 layout, but its
    time bits are a hash, not a clock: order such events by stream sequence, not by id.
    """
    digest = bytearray(hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x70
    digest[8] = (digest[8] & 0x3F) | 0x80
    return uuid.UUID(bytes=bytes(digest))
