"""The relay: stored events reach JetStream in store order, none lost, none twice.

It follows the application's notification log. Each event is published with
``Nats-Msg-Id`` = its event id and the position is saved only after the PubAck, so a crash
or an outage delays events but never loses or reorders them; a publish repeated after a
crash between ack and save is dropped by JetStream's de-duplication. Only the holder of a
PostgreSQL advisory lock relays, so two relays never interleave; the lock goes with the
holder's connection if it dies. The leader LISTENs on the channel the event store NOTIFYs
in every insert's transaction, so it wakes as soon as new events commit; ``poll_s`` is only
the longest it sleeps without a notification (a safety net, and the lag report's period).

Fault points (see ``hearth_servicekit.faults``) mark the crash windows the tests aim at:
``relay.lock_busy`` (another relay leads), ``relay.leader_acquired``,
``relay.before_publish``, ``relay.after_publish_before_position``
(acked by JetStream, position not saved: the restarted relay re-sends),
``relay.after_position`` and ``relay.duplicate_acked`` (JetStream dropped a re-send).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, cast

import psycopg
from eventsourcing.utils import resolve_topic
from psycopg import sql

from hearth_events.envelope import OutgoingMessage, to_message
from hearth_events.jetstream import EVENTS_STREAM
from hearth_eventstore.batches import (
    ATOMIC_DISABLED,
    DUPLICATE_IN_BATCH,
    MAX_EVENTS,
    BatchRefused,
    publish_batch,
    take,
)
from hearth_eventstore.store import HearthAggregate, HearthApplication, to_envelope
from hearth_servicekit import get_logger
from hearth_servicekit.faults import fault_point
from hearth_servicekit.publishing import BUS_ERRORS

log = get_logger("hearth.relay")
#: (notification id, message to publish or None) in store order.
Pending = list[tuple[int, OutgoingMessage | None]]


class Relay:
    def __init__(
        self,
        app: HearthApplication,
        dsn: str,
        nc: Any,
        *,
        source: str,
        poll_s: float = 1.0,
        on_lag: Callable[[int], None] | None = None,
        max_events: int = MAX_EVENTS,
    ) -> None:
        self._app = app
        self._dsn = dsn
        self._nc = nc
        self._js = nc.jetstream()
        #: Whether the events stream takes atomic batches; None until the leader's first
        #: publish (a batch of one) tells.
        self._atomic: bool | None = None
        self._source = source
        self._poll_s = poll_s
        self._max_events = max_events
        self._on_lag = on_lag
        self._schema = app.schema
        self._table_schema = sql.Identifier(app.schema)
        #: Whether a stored topic is a catalogue event's (published) or the library's own
        #: bookkeeping, by topic: the relay decodes only what it publishes.
        self._published: dict[str, bool] = {}
        self.position = 0
        self.leader = asyncio.Event()
        self.published = 0
        self.duplicates = 0

    @property
    def atomic(self) -> bool | None:
        """Whether this leader sends atomic batches (None: not known before its first)."""
        return self._atomic

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True
                ) as conn:
                    if not await self._lead(conn, stop):
                        return
                    await self._relay(conn, stop)
            except psycopg.OperationalError as exc:
                log.warning("relay lost its database connection", error=str(exc))
                self.leader.clear()
                await _sleep_unless(stop, 1.0)

    async def _lead(self, conn: Any, stop: asyncio.Event) -> bool:
        await conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.hearth_relay_position "
                "(name text PRIMARY KEY, position bigint NOT NULL)"
            ).format(self._table_schema)
        )
        while not stop.is_set():
            locked = (
                await (
                    await conn.execute(
                        "SELECT pg_try_advisory_lock(hashtext(%s))",
                        (f"hearth.relay.{self._schema}",),
                    )
                ).fetchone()
            )[0]
            if locked:
                row = await (
                    await conn.execute(
                        sql.SQL(
                            "SELECT position FROM {}.hearth_relay_position WHERE name = 'main'"
                        ).format(self._table_schema)
                    )
                ).fetchone()
                self.position = row[0] if row else 0
                await conn.execute(
                    sql.SQL("LISTEN {}").format(sql.Identifier(self._app.notify_channel))
                )
                self.leader.set()
                log.info("relay leading", schema=self._schema, position=self.position)
                fault_point("relay.leader_acquired")
                return True
            fault_point("relay.lock_busy")
            await _sleep_unless(stop, 1.0)
        return False

    async def _relay(self, conn: Any, stop: asyncio.Event) -> None:
        self._atomic = None  # probed again by each leadership: the server may have changed
        ahead: asyncio.Future[Pending] | None = None
        try:
            while not stop.is_set():
                pending = await (ahead or self._read(self.position + 1))
                ahead = None
                self._report_lag(pending)
                if not pending:
                    await _wait_for_notification(conn, stop, self._poll_s)
                    continue
                # Read and encode what follows while this section's batches are in flight.
                ahead = asyncio.ensure_future(self._read(pending[-1][0] + 1))
                while pending and not stop.is_set():
                    pending = await self._send_some(conn, pending, stop)
        finally:
            if ahead is not None:
                ahead.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await ahead

    async def _read(self, start: int) -> Pending:
        return await asyncio.to_thread(self._encode_from, start)

    def _encode_from(self, start: int) -> Pending:
        """The stored events from notification ``start`` on, each as the message to publish
        (None for the library's own bookkeeping events, which never leave the store)."""
        pending: Pending = []
        for notification in self._app.recorder.select_notifications(
            start, max(self._max_events, MAX_EVENTS)
        ):
            message = None
            if self._is_published(notification.topic):
                event = self._app.mapper.to_domain_event(notification)
                recorded = cast("HearthAggregate.Recorded", event)  # by its topic
                message = to_message(to_envelope(recorded, self._source))
            pending.append((notification.id, message))
        return pending

    def _is_published(self, topic: str) -> bool:
        """A bookkeeping row (a deployment's upload plan with the 400 paths it manages,
        say) is passed over by its topic, never decoded."""
        known = self._published.get(topic)
        if known is None:
            kind = resolve_topic(topic)
            known = isinstance(kind, type) and issubclass(kind, HearthAggregate.Recorded)
            self._published[topic] = known
        return known

    async def _send_some(self, conn: Any, pending: Pending, stop: asyncio.Event) -> Pending:
        """Publish a batch from the front of ``pending`` and save the position after it;
        the rest. The library's own events among them (None: never published) are passed
        over inside the batch, not ended on: a deployment stores its bookkeeping between
        its catalogue events, and ending each batch there sent one event a round trip."""
        at, covered = _front(pending, self._max_events if self._atomic else 1)
        if not at:  # only the library's own events: nothing to publish
            await self._save_position(conn, pending[covered - 1][0])
            return pending[covered:]
        messages = [cast("OutgoingMessage", pending[i][1]) for i in at]
        # A first batch of one tells whether the stream takes atomic batches at all.
        count = take(messages, self._max_events) if self._atomic else 1
        if count < len(messages):
            covered = at[count]  # up to the first message left for the next batch
        fault_point("relay.before_publish")
        sent = await self._publish_until_acked(messages[:count], stop)
        if stop.is_set():
            return []
        self.published += sent
        fault_point("relay.after_publish_before_position")
        await self._save_position(conn, pending[covered - 1][0])
        fault_point("relay.after_position")
        return pending[covered:]

    async def _save_position(self, conn: Any, position: int) -> None:
        await conn.execute(
            sql.SQL(
                "INSERT INTO {}.hearth_relay_position VALUES ('main', %s) "
                "ON CONFLICT (name) DO UPDATE SET position = excluded.position"
            ).format(self._table_schema),
            (position,),
        )
        self.position = position

    async def _publish_until_acked(
        self, messages: list[OutgoingMessage], stop: asyncio.Event
    ) -> int:
        """Publish ``messages`` (one batch, or one message) until JetStream has them all."""
        delay = 0.5
        while not stop.is_set():
            try:
                if self._atomic is False:
                    await self._publish_one(messages[0])
                    return 1
                return await self._publish_batch(messages)
            except BUS_ERRORS as exc:
                log.warning(
                    "bus unavailable, holding events",
                    error=type(exc).__name__,
                    retry_in_s=delay,
                    position=self.position,
                )
                await _sleep_unless(stop, delay)
                delay = min(delay * 2, 10.0)
        return 0

    async def _publish_batch(self, messages: list[OutgoingMessage]) -> int:
        try:
            ack = await publish_batch(self._nc, messages, timeout=5.0)
        except BatchRefused as refused:
            if refused.code == ATOMIC_DISABLED:
                log.warning("the events stream refuses atomic batches; relaying one by one")
                self._atomic = False
            elif refused.code != DUPLICATE_IN_BATCH:
                log.warning("JetStream refused a batch; sending it one by one", error=str(refused))
            # A refused batch stored nothing. Duplicates mean an earlier relay had these
            # events acknowledged but not its position saved: de-duplication drops each
            # copy when they go one by one, in order.
            for message in messages:
                await self._publish_one(message)
            return len(messages)
        if self._atomic is None:
            self._atomic = ack.atomic  # the probe is one message: stored either way
            if not ack.atomic:
                log.warning("JetStream is older than 2.12 (no atomic batches); relaying one by one")
        return len(messages)

    async def _publish_one(self, message: OutgoingMessage) -> None:
        ack = await self._js.publish(
            message.subject,
            message.payload,
            timeout=5.0,
            stream=EVENTS_STREAM,
            headers=message.headers,
        )
        if getattr(ack, "duplicate", False):
            self.duplicates += 1
            log.info("event re-sent; JetStream kept the first copy", position=self.position)
            fault_point("relay.duplicate_acked")

    def _report_lag(self, pending: Pending) -> None:
        """Stored events not yet acknowledged, as far as the last read saw (a read holds at
        most ``max_events``): reported at every read, so an outage shows as a lag that
        stays, with no query of its own (it used to ask PostgreSQL for its newest
        notification each time the relay caught up, when the lag is nought by definition,
        and never while events waited)."""
        if self._on_lag is not None:
            self._on_lag(max(pending[-1][0] - self.position, 0) if pending else 0)


async def _wait_for_notification(conn: Any, stop: asyncio.Event, seconds: float) -> None:
    """Until the store NOTIFYs a commit (or one arrived meanwhile), ``stop``, or ``seconds``."""
    waiting = asyncio.ensure_future(_next_notification(conn, seconds))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((waiting, stopping), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiting, stopping):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        with contextlib.suppress(asyncio.CancelledError):
            await stopping
    if waiting.done() and not waiting.cancelled():
        waiting.result()  # a lost connection raises here, as a query would


async def _next_notification(conn: Any, seconds: float) -> None:
    async for _ in conn.notifies(timeout=seconds, stop_after=1):
        pass


def _front(pending: Pending, limit: int) -> tuple[list[int], int]:
    """Where the first ``limit`` messages of ``pending`` are, and how many entries of it
    they cover: every entry before the message after them (the library's own events in
    between and after them included)."""
    at: list[int] = []
    for index, (_, message) in enumerate(pending):
        if message is None:
            continue
        if len(at) == limit:
            return at, index
        at.append(index)
    return at, len(pending)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
