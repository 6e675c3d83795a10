"""Rebuild in-memory state from the event stream, then keep it current.

For small state that a service derives from a few event types (e.g. which repositories
exist): an ephemeral consumer replays those subjects from the start, then follows live.
If the consumer is lost (server restart), it is recreated after the last sequence seen.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from hearth_events import BadEvent, Envelope, parse_event
from hearth_events.jetstream import EVENTS_STREAM, unavailable
from hearth_servicekit.bus import JETSTREAM_PATIENCE_S
from hearth_servicekit.consumer import unless_stopped
from hearth_servicekit.logging import get_logger

log = get_logger("hearth.follower")


class StreamFollower:
    def __init__(
        self, js: Any, filter_subjects: list[str], apply: Callable[[Envelope], None]
    ) -> None:
        self._js = js
        self._filters = filter_subjects
        self._apply = apply
        self._last_seq = 0
        self._subscription: Any = None
        self.caught_up = asyncio.Event()
        #: Fetches that came back empty, and who waits for the next one (``settle``).
        self._empty_fetches = 0
        self._fetched = asyncio.Condition()

    async def _subscribe(self) -> Any:
        start = (
            {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": self._last_seq + 1}
            if self._last_seq
            else {"deliver_policy": DeliverPolicy.ALL}
        )
        config = ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            filter_subjects=self._filters if len(self._filters) > 1 else None,
            filter_subject=self._filters[0] if len(self._filters) == 1 else None,
            inactive_threshold=300.0,
            mem_storage=True,
            **start,
        )
        info = await self._js.add_consumer(EVENTS_STREAM, config=config)
        if info.num_pending == 0:
            # Nothing to replay: caught up now, not after a fetch has waited out its
            # timeout (a second of every start-up, for a service with no such events yet).
            self.caught_up.set()
        return await self._js.pull_subscribe_bind(durable=info.name, stream=EVENTS_STREAM)

    async def poll_once(self, timeout: float = 1.0) -> int:
        """Fetch and apply what is there; marks ``caught_up`` when nothing is pending."""
        if self._subscription is None:
            self._subscription = await self._subscribe()
            if self.caught_up.is_set() and not self._last_seq:
                return 0
        try:
            messages = await self._subscription.fetch(256, timeout=timeout)
        except TimeoutError:
            self.caught_up.set()
            async with self._fetched:
                self._empty_fetches += 1
                self._fetched.notify_all()
            return 0
        for message in messages:
            self._last_seq = message.metadata.sequence.stream
            try:
                self._apply(parse_event(message.data))
            except BadEvent as exc:
                log.error("skipping an invalid event", subject=message.subject, reason=str(exc))
        if messages and messages[-1].metadata.num_pending == 0:
            self.caught_up.set()
        return len(messages)

    async def catch_up(self, timeout: float = JETSTREAM_PATIENCE_S) -> None:
        """Replay what the stream holds; waits out a JetStream that is briefly unavailable
        (a cluster forming or electing), so a service can start beside a cluster that does."""
        async with asyncio.timeout(timeout):
            while not self.caught_up.is_set():
                try:
                    await self.poll_once()
                except Exception as exc:
                    if not unavailable(exc):
                        raise
                    log.warning(
                        "jetstream unavailable, retrying",
                        what="catch up",
                        error=str(exc) or type(exc).__name__,
                    )
                    await self._drop()
                    await asyncio.sleep(0.5)

    async def settle(self, timeout: float = 3.0) -> bool:
        """Wait until every event the stream held when this was called has been applied:
        until a fetch of the running follower comes back empty after this call (a pull
        waiting at the server gets every message stored meanwhile, so an empty one means
        nothing was left). Up to one fetch timeout (1 s) on a quiet stream. False if that
        took longer than ``timeout`` (nothing runs the follower, JetStream unavailable)."""
        start = self._empty_fetches
        try:
            async with asyncio.timeout(timeout), self._fetched:
                await self._fetched.wait_for(lambda: self._empty_fetches > start)
        except TimeoutError:
            return False
        return True

    async def run(self, stop: asyncio.Event) -> None:
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await self._follow(stop, stopped)
        finally:
            stopped.cancel()
        await self._drop()

    async def _follow(self, stop: asyncio.Event, stopped: asyncio.Future[Any]) -> None:
        while not stop.is_set():
            try:
                await unless_stopped(self.poll_once(), stopped, 0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "following the stream failed, resubscribing",
                    error=str(exc) or type(exc).__name__,
                )
                await self._drop()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)

    async def _drop(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
