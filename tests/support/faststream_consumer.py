"""The consumer loop's interface on FastStream's NATS broker: the prototype that decides
whether Hearth's services adopt FastStream (docs/design.md, "Our own consumer, not
FastStream").

Everything FastStream offers for a delivery property is used as FastStream means it to be,
configured deliberately rather than by default:

* a pull subscriber bound to the admin's durable consumer (``JStream(declare=False)``, the
  consumer looked up by name: a service may not declare);
* ``AckPolicy.NACK_ON_ERROR`` (its default, ``REJECT_ON_ERROR``, terminates a message on
  any exception); a failing handler raises ``NackMessage(delay=...)`` with our backoff;
* an unparsable message raises ``RejectMessage`` (terminated, never retried);
* ``PullSub(batch_size, timeout)`` for the fetch, ``PullSub(batch=True)`` for batch
  handlers, and the broker's ``graceful_timeout`` for stop.

FastStream has no in-progress keep-alive, and a failing batch handled one by one needs
manual acks: those two are written here, the same way ``EventConsumer`` does them.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from faststream import AckPolicy
from faststream.exceptions import NackMessage, RejectMessage
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub

from hearth_events import BadEvent, Envelope, parse_event
from hearth_events.jetstream import CONSUMERS
from hearth_servicekit.consumer import MAX_NAK_DELAY_S, BatchHandler, Handler, SequencedHandler

#: How long stop waits for the handlers in hand (``EventConsumer`` waits for the one).
GRACEFUL_S = 30.0


class FastStreamConsumer:
    """``EventConsumer``'s constructor and ``run``/``handled``, on FastStream."""

    def __init__(
        self,
        js: Any,
        consumer: str,
        handler: Handler | SequencedHandler,
        *,
        batch: int = 20,
        fetch_timeout_s: float = 2.0,
        with_sequence: bool = False,
        batch_handler: BatchHandler | None = None,
        fetch_one: bool = True,
    ) -> None:
        self._servers = [str(url.geturl()) for url in js._nc.servers]
        self._definition = CONSUMERS[consumer]
        self._handler = handler
        self._batch = batch
        self._fetch_timeout_s = fetch_timeout_s
        self._with_sequence = with_sequence
        self._batch_handler = batch_handler
        #: FastStream hands each message of a fetched batch to its own task at once, so a
        #: batch of more than one is handled concurrently, out of order; fetching one at a
        #: time is the only configuration that keeps stream order.
        self._per_fetch = 1 if fetch_one else batch
        self.handled = 0

    async def run(self, stop: asyncio.Event) -> None:
        broker = NatsBroker(self._servers, graceful_timeout=GRACEFUL_S, logger=None)
        definition = self._definition
        stream = JStream(definition.stream, declare=False)
        subject = definition.filter_subjects[0]
        if self._batch_handler is None:
            broker.subscriber(
                subject,
                stream=stream,
                durable=definition.name,
                pull_sub=PullSub(batch_size=self._per_fetch, timeout=self._fetch_timeout_s),
                ack_policy=AckPolicy.NACK_ON_ERROR,
            )(self._on_message)
        else:
            broker.subscriber(
                subject,
                stream=stream,
                durable=definition.name,
                pull_sub=PullSub(batch_size=self._batch, timeout=self._fetch_timeout_s, batch=True),
                ack_policy=AckPolicy.MANUAL,  # a failing batch goes one by one
            )(self._on_batch)
        await broker.start()
        try:
            await stop.wait()
        finally:
            await broker.stop()

    async def _on_message(self, message: NatsMessage) -> None:
        raw = message.raw_message
        try:
            envelope = parse_event(raw.data)
        except BadEvent as exc:
            raise RejectMessage() from exc
        try:
            with structlog.contextvars.bound_contextvars(
                event_id=str(envelope.event_id), correlation_id=envelope.correlation_id
            ):
                await self._call(envelope, raw)
        except Exception as exc:
            deliveries = raw.metadata.num_delivered or 1
            raise NackMessage(delay=min(2.0 ** min(deliveries, 6), MAX_NAK_DELAY_S)) from exc
        self.handled += 1

    async def _on_batch(self, message: NatsMessage) -> None:
        raws: list[Any] = list(message.raw_message)  # type: ignore[call-overload]
        parsed: list[tuple[Any, Envelope]] = []
        for raw in raws:
            try:
                parsed.append((raw, parse_event(raw.data)))
            except BadEvent:
                await raw.term()
        assert self._batch_handler is not None
        try:
            await self._batch_handler([(e, m.metadata.sequence.stream) for m, e in parsed])
        except Exception:
            for raw, envelope in parsed:
                try:
                    await self._call(envelope, raw)
                except Exception:
                    deliveries = raw.metadata.num_delivered or 1
                    await raw.nak(delay=min(2.0 ** min(deliveries, 6), MAX_NAK_DELAY_S))
                    continue
                await raw.ack()
                self.handled += 1
            return
        for raw, _ in parsed:
            await raw.ack()
            self.handled += 1

    async def _call(self, envelope: Envelope, raw: Any) -> None:
        keepalive = asyncio.create_task(self._keep_alive(raw))
        try:
            if self._with_sequence:
                await self._handler(envelope, raw.metadata.sequence.stream)  # type: ignore[call-arg]
            else:
                await self._handler(envelope)  # type: ignore[call-arg]
        finally:
            keepalive.cancel()

    async def _keep_alive(self, raw: Any) -> None:
        interval = max(self._definition.ack_wait_s / 3, 1.0)
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):
                await raw.in_progress()
