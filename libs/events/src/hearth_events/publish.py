"""Publishing an event on JetStream: the helper takes a client, so the catalogue stays pure."""

from __future__ import annotations

from typing import Any

from hearth_events.envelope import Envelope, OutgoingMessage, to_message
from hearth_events.jetstream import EVENTS_STREAM


async def publish_event(js: Any, envelope: Envelope, *, timeout: float = 5.0) -> Any:
    """Publish ``envelope`` and wait for the stream's ack (a ``PubAck``).

    ``Nats-Msg-Id`` is the event id, so a retry inside the duplicate window is stored once;
    ``PubAck.duplicate`` tells when that happened.
    """
    return await publish_message(js, to_message(envelope), timeout=timeout)


async def publish_message(js: Any, message: OutgoingMessage, *, timeout: float = 5.0) -> Any:
    """``publish_event`` for an envelope already turned into its message (``to_message``)."""
    return await js.publish(
        message.subject,
        message.payload,
        timeout=timeout,
        stream=EVENTS_STREAM,
        headers=message.headers,
    )
