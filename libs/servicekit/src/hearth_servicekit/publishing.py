"""Publishing events from a service, with one error for "the bus did not answer"."""

from __future__ import annotations

from typing import Any, Protocol

from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from hearth_events import Envelope, to_message
from hearth_events.publish import publish_message
from hearth_servicekit.redaction import json_may_hold_secret, redact_data

BUS_ERRORS = (NatsTimeoutError, TimeoutError, NoRespondersError, ConnectionClosedError)


class BusUnavailable(Exception):
    """The event bus did not answer in time; nothing is known to be stored."""


class EventSink(Protocol):
    async def publish(self, envelope: Envelope) -> bool:
        """Store ``envelope`` durably; True if it was a duplicate. Raises BusUnavailable."""


class JetStreamSink:
    def __init__(self, js: Any, timeout: float = 5.0) -> None:
        self._js = js
        self._timeout = timeout

    async def publish(self, envelope: Envelope) -> bool:
        """Every secret value this process has decrypted is redacted from the event here,
        the one door the events of services without an event store pass. The event is
        turned into JSON once: the check runs on the bytes that are published, and only an
        event that may hold a known value is taken apart field by field."""
        message = to_message(envelope)
        if json_may_hold_secret(message.payload):
            data = redact_data(envelope.data)
            if data is not envelope.data:
                message = to_message(envelope.model_copy(update={"data": data}))
        try:
            ack = await publish_message(self._js, message, timeout=self._timeout)
        except BUS_ERRORS as exc:
            raise BusUnavailable(type(exc).__name__) from exc
        return bool(ack.duplicate)
