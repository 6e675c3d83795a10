"""Atomic batches: many events in one round trip, stored all together, in order, or not at all.

JetStream (nats-server ≥ 2.12, a stream with ``allow_atomic``) stages the messages of one
batch (``Nats-Batch-Id``, ``Nats-Batch-Sequence`` 1..n, ``Nats-Batch-Commit`` on the last)
and stores them only when the commit arrives with no gap; only the commit is acknowledged.
That is what lets the relay have many events in flight without risking their order: with
single publishes in flight, a broken connection can lose some of them while nats-py
re-sends the ones still in its buffer after reconnecting, and those would be stored first.
A batch that lost a message is incomplete and refused whole.

A batch in which any message's ``Nats-Msg-Id`` is already stored is refused whole too
(error 10201), which happens exactly when an earlier relay had the same events acknowledged
but died before saving its position; the relay then sends those events one by one, and
de-duplication keeps the copies out.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hearth_events.envelope import OutgoingMessage
from hearth_events.jetstream import EVENTS_STREAM

#: At most this many events per batch (the server allows 1,000).
MAX_EVENTS = 256
#: ... and about this many bytes, so one batch stays a modest burst for the server.
MAX_BYTES = 4 * 1024 * 1024

DUPLICATE_IN_BATCH = 10201
ATOMIC_DISABLED = 10174


class BatchRefused(Exception):
    """JetStream answered the commit with an error: nothing of the batch was stored."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"{description} ({code})")
        self.code = code


@dataclass(frozen=True)
class BatchAck:
    seq: int
    count: int
    #: False when the server ignored the batch headers (older than 2.12): then only the
    #: commit was acknowledged, each message was stored on its own.
    atomic: bool


def take(messages: Sequence[OutgoingMessage], max_events: int = MAX_EVENTS) -> int:
    """How many of ``messages`` (from the front) go into one batch."""
    size = 0
    for count, message in enumerate(messages[:max_events], start=1):
        size += len(message.payload) + sum(len(k) + len(v) for k, v in message.headers.items())
        if size > MAX_BYTES and count > 1:
            return count - 1
    return min(len(messages), max_events)


async def publish_batch(
    nc: Any, messages: Sequence[OutgoingMessage], *, timeout: float = 5.0
) -> BatchAck:
    """Send ``messages`` as one atomic batch and wait for the commit's acknowledgement."""
    assert messages, "an empty batch commits nothing"
    batch_id = uuid.uuid4().hex  # a new id per attempt: a retry never joins a stale batch
    last = len(messages)
    for sequence, message in enumerate(messages, start=1):
        headers = {
            **message.headers,
            "Nats-Expected-Stream": EVENTS_STREAM,
            "Nats-Batch-Id": batch_id,
            "Nats-Batch-Sequence": str(sequence),
        }
        if sequence < last:
            await nc.publish(message.subject, message.payload, headers=headers)
            continue
        headers["Nats-Batch-Commit"] = "1"
        reply = await nc.request(message.subject, message.payload, timeout=timeout, headers=headers)
    answer = json.loads(reply.data)
    error = answer.get("error")
    if error:
        raise BatchRefused(int(error.get("err_code", 0)), str(error.get("description", "")))
    return BatchAck(
        seq=int(answer.get("seq", 0)),
        count=int(answer.get("count", 1)),
        atomic=answer.get("batch") == batch_id,
    )
