"""A durable pull consumer loop with explicit acks.

A message is acked only after its handler returned, i.e. after the work is durable. A
handler that raises gets the message back later (nak with backoff); a message that is not a
valid Hearth event is terminated and logged, since no retry can make it valid. On stop, the
message in hand is finished and the rest of the batch is handed back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog

from hearth_events import BadEvent, Envelope, parse_event
from hearth_events.jetstream import CONSUMERS
from hearth_servicekit.logging import get_logger
from hearth_servicekit.metrics import ServiceMetrics

log = get_logger("hearth.consumer")

Handler = Callable[[Envelope], Awaitable[object]]
SequencedHandler = Callable[[Envelope, int], Awaitable[object]]
#: Takes a whole fetched batch as (event, stream sequence) pairs, all or nothing.
BatchHandler = Callable[[list[tuple[Envelope, int]]], Awaitable[object]]
MAX_NAK_DELAY_S = 60.0
#: A fetched batch: its messages, and their events if they were parsed when fetched.
Fetched = tuple[list[Any], list[tuple[Any, Envelope]] | None]
T = TypeVar("T")


class RetryLater(Exception):
    """Raised by a handler that wants the message again after ``delay_s`` (not a failure)."""

    def __init__(self, delay_s: float, reason: str = "") -> None:
        super().__init__(reason or f"retry in {delay_s:.0f}s")
        self.delay_s = delay_s


class EventConsumer:
    def __init__(
        self,
        js: Any,
        consumer: str,
        handler: Handler | SequencedHandler,
        *,
        metrics: ServiceMetrics | None = None,
        batch: int = 20,
        fetch_timeout_s: float = 2.0,
        concurrent: bool = False,
        with_sequence: bool = False,
        batch_handler: BatchHandler | None = None,
        read_ahead: bool = False,
    ) -> None:
        self._js = js
        self._definition = CONSUMERS[consumer]
        self._handler = handler
        self._metrics = metrics
        self._batch = batch
        self._fetch_timeout_s = fetch_timeout_s
        self._concurrent = concurrent
        self._with_sequence = with_sequence
        self._batch_handler = batch_handler
        self._read_ahead = read_ahead and batch_handler is not None and not concurrent
        self.handled = 0
        self._subscription: Any = None

    async def run(self, stop: asyncio.Event) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await self._consume(stop, stopped, in_flight)
        finally:
            stopped.cancel()
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
        await _unsubscribe_quietly(self._subscription)
        self._subscription = None

    async def _consume(
        self, stop: asyncio.Event, stopped: asyncio.Future[Any], in_flight: set[asyncio.Task[None]]
    ) -> None:
        ahead: asyncio.Task[Fetched] | None = None
        try:
            while not stop.is_set():
                if self._concurrent and len(in_flight) >= self._definition.max_ack_pending:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    continue
                if ahead is not None:
                    messages, parsed = await ahead
                    ahead = None
                else:
                    messages, parsed = await self._fetch(stop, stopped), None
                if self._concurrent:
                    # Keep fetching while handlers wait (e.g. for a burst to close); each
                    # message is still acked on its own, once its own handler returns.
                    for message in messages:
                        task = asyncio.create_task(self._handle(message))
                        in_flight.add(task)
                        task.add_done_callback(in_flight.discard)
                elif self._batch_handler is not None and len(messages) > 1 and not stop.is_set():
                    if parsed is None:
                        parsed = await self._parse_batch(messages)
                    if self._read_ahead:
                        # The next batch is fetched and parsed while this one is handled
                        # (its database round trips leave the CPU idle); it is handled
                        # only after this one, and handed back untouched on stop.
                        ahead = asyncio.create_task(self._fetch_ahead(stop, stopped))
                    await self._handle_batch(parsed, ahead)
                else:
                    await self._handle_in_order(messages, stop)
        finally:
            if ahead is not None:
                await _hand_back_ahead(ahead, stop)

    async def _fetch_ahead(self, stop: asyncio.Event, stopped: asyncio.Future[Any]) -> Fetched:
        messages = await self._fetch(stop, stopped)
        if len(messages) > 1 and not stop.is_set():
            return messages, await self._parse_batch(messages)
        return messages, None

    async def _fetch(self, stop: asyncio.Event, stopped: asyncio.Future[Any]) -> list[Any]:
        """The next batch; none when the fetch timed out, failed or ``stop`` was set."""
        try:
            if self._subscription is None:
                self._subscription = await self._js.pull_subscribe_bind(
                    durable=self._definition.name, stream=self._definition.stream
                )
                take_queued_at_once(self._subscription)
            fetch = self._subscription.fetch(self._batch, timeout=self._fetch_timeout_s)
            messages: list[Any] = await unless_stopped(fetch, stopped, [])
        except TimeoutError:
            return []
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Pull subscriptions can go stale across a server restart: start afresh.
            log.warning(
                "fetch failed, resubscribing",
                consumer=self._definition.name,
                error=str(exc) or type(exc).__name__,
            )
            await _unsubscribe_quietly(self._subscription)
            self._subscription = None
            await _sleep_unless(stop, 1.0)
            return []
        return messages

    async def _handle_in_order(self, messages: list[Any], stop: asyncio.Event) -> None:
        """One after the other; once ``stop`` is set, the rest go back unhandled."""
        for index, message in enumerate(messages):
            if stop.is_set():
                await _hand_back(messages[index:])
                return
            await self._handle(message)

    async def _handle(self, message: Any) -> None:
        consumer = self._definition.name
        started = time.perf_counter()
        try:
            envelope = parse_event(message.data)
        except BadEvent as exc:
            log.error(
                "dropping a message that is not a valid event",
                consumer=consumer,
                subject=message.subject,
                reason=str(exc),
            )
            await message.term()
            self._count("invalid")
            return
        try:
            with structlog.contextvars.bound_contextvars(
                event_id=str(envelope.event_id), correlation_id=envelope.correlation_id
            ):
                keepalive = asyncio.create_task(self._keep_alive(message))
                try:
                    if self._with_sequence:  # e.g. projections record their stream position
                        await self._handler(envelope, stream_sequence(message))  # type: ignore[call-arg]
                    else:
                        await self._handler(envelope)  # type: ignore[call-arg]
                finally:
                    keepalive.cancel()
        except asyncio.CancelledError:
            await _hand_back([message])
            raise
        except RetryLater as later:
            await message.nak(delay=later.delay_s)
            self._count("later")
            return
        except Exception as exc:
            deliveries = message.metadata.num_delivered or 1
            delay = min(2.0 ** min(deliveries, 6), MAX_NAK_DELAY_S)
            log.exception(
                "handler failed; the message will be redelivered",
                consumer=consumer,
                event_id=str(envelope.event_id),
                correlation_id=envelope.correlation_id,
                type=envelope.type,
                deliveries=deliveries,
                retry_in_s=delay,
                error=str(exc),
            )
            await message.nak(delay=delay)
            self._count("retry")
            return
        await message.ack()
        self.handled += 1
        self._count("ok")
        if self._metrics:
            self._metrics.handle_seconds.labels(consumer).observe(time.perf_counter() - started)

    async def _parse_batch(self, messages: list[Any]) -> list[tuple[Any, Envelope]]:
        """Each valid event with its message; an invalid one is terminated at once."""
        parsed: list[tuple[Any, Envelope]] = []
        for message in messages:
            try:
                parsed.append((message, parse_event(message.data)))
            except BadEvent:
                await self._handle(message)  # logs and terminates it
        return parsed

    async def _handle_batch(
        self, parsed: list[tuple[Any, Envelope]], ahead: asyncio.Task[Fetched] | None = None
    ) -> None:
        """The whole batch in one call (one transaction, say); acked together after it.

        If the batch handler fails, each message goes through the single handler instead:
        the good ones get through and the bad one is retried on its own.
        """
        started = time.perf_counter()
        if not parsed:
            return
        assert self._batch_handler is not None
        try:
            in_hand = [m for m, _ in parsed]
            heartbeat = asyncio.create_task(self._keep_alive(*in_hand, ahead=ahead))
            try:
                await self._batch_handler([(e, stream_sequence(m)) for m, e in parsed])
            finally:
                heartbeat.cancel()
        except asyncio.CancelledError:
            await _hand_back([m for m, _ in parsed])
            raise
        except Exception as exc:
            log.warning(
                "batch failed; handling its events one by one",
                consumer=self._definition.name,
                events=len(parsed),
                error=str(exc) or type(exc).__name__,
            )
            for message, _ in parsed:
                await self._handle(message)
            return
        each = (time.perf_counter() - started) / len(parsed)
        # The metrics' children are looked up once a batch, not once a message.
        ok = handle_seconds = None
        if self._metrics:
            ok = self._metrics.messages_handled.labels(self._definition.name, "ok")
            handle_seconds = self._metrics.handle_seconds.labels(self._definition.name)
        for message, _ in parsed:
            await message.ack()
            self.handled += 1
            if ok is not None and handle_seconds is not None:
                ok.inc()
                handle_seconds.observe(each)

    async def _keep_alive(self, *messages: Any, ahead: asyncio.Task[Fetched] | None = None) -> None:
        """Tell the server a slow handler is still working, so it does not redeliver (nor
        the batch read ahead of it, which waits for the handler)."""
        interval = max(self._definition.ack_wait_s / 3, 1.0)
        while True:
            await asyncio.sleep(interval)
            waiting = _fetched(ahead)
            for message in (*messages, *waiting):
                with contextlib.suppress(Exception):
                    await message.in_progress()

    def _count(self, outcome: str) -> None:
        if self._metrics:
            self._metrics.messages_handled.labels(self._definition.name, outcome).inc()


def take_queued_at_once(pull_subscription: Any) -> None:
    """Let a fetch take each message already received without a task and a timer.

    nats-py's fetch reads every message of a batch with ``next_msg``, which makes a
    uuid, a task and a ``wait_for`` even when the message is already in the queue: 19 µs
    a message, a fifth of the query API's CPU at catch-up. The messages of a batch arrive
    together, so most are queued; those are taken at once, in the same order and with the
    same bookkeeping as ``next_msg``, and only an empty queue waits as before. Left alone
    if nats-py's subscription has changed shape.
    """
    sub = getattr(pull_subscription, "_sub", None)
    queue = getattr(sub, "_pending_queue", None)
    if sub is None or not isinstance(queue, asyncio.Queue) or not hasattr(sub, "_pending_size"):
        return
    waiting = sub.next_msg

    async def next_msg(timeout: float | None = 1.0) -> Any:
        if queue.empty() or sub._conn.is_closed:
            return await waiting(timeout)
        message = queue.get_nowait()
        sub._pending_size -= len(message.data)
        queue.task_done()
        return message

    sub.next_msg = next_msg


def stream_sequence(message: Any) -> int:
    """The message's stream sequence. nats-py's ``metadata`` builds every field of the ack
    subject (3 µs an event at catch-up); the plain form is read here (``_plain_ack``), and
    any other (with a domain and an account) by nats-py."""
    tokens = _plain_ack(message)
    if tokens is not None:
        return int(tokens[5])
    sequence: int = message.metadata.sequence.stream
    return sequence


def stream_pending(message: Any) -> int:
    """How many messages the consumer has yet to deliver after this one (the last field of
    the same ack subject)."""
    tokens = _plain_ack(message)
    if tokens is not None:
        return int(tokens[8])
    pending: int = message.metadata.num_pending
    return pending


_PLAIN_ACK_TOKENS = 9


def _plain_ack(message: Any) -> list[str] | None:
    """The fields of a plain ack subject,
    ``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>``;
    None for any other form."""
    tokens = (message.reply or "").split(".")
    if len(tokens) == _PLAIN_ACK_TOKENS and tokens[0] == "$JS" and tokens[1] == "ACK":
        return tokens
    return None


async def unless_stopped(work: Awaitable[T], stopped: asyncio.Future[Any], default: T) -> T:
    """``work``'s result, or ``default`` as soon as the service stops: waiting out a fetch's
    timeout would only delay every shutdown. A batch delivered as its fetch is cancelled is
    never acked, so the server delivers it again."""
    working = asyncio.ensure_future(work)
    await asyncio.wait({working, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if working.done():
        return working.result()
    working.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await working
    return default


def _fetched(ahead: asyncio.Task[Fetched] | None) -> list[Any]:
    """The messages a read-ahead holds (none while it is still fetching)."""
    if ahead is None or not ahead.done() or ahead.cancelled() or ahead.exception() is not None:
        return []
    return ahead.result()[0]


async def _hand_back_ahead(ahead: asyncio.Task[Fetched], stop: asyncio.Event) -> None:
    """A batch read ahead and never handled goes back to the server. On stop its fetch
    ends at once by itself (see ``unless_stopped``); after a failure it is cancelled."""
    if not stop.is_set():
        ahead.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await ahead
    await _hand_back(_fetched(ahead))


async def _hand_back(messages: list[Any]) -> None:
    for message in messages:
        try:
            await message.nak()
        except Exception:  # the server redelivers after ack_wait anyway
            log.debug("could not nak on shutdown")


async def _unsubscribe_quietly(subscription: Any) -> None:
    if subscription is not None:
        try:
            await subscription.unsubscribe()
        except Exception:  # already gone with the old connection
            log.debug("unsubscribe failed")


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
