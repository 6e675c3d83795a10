"""No floods: the same key at most once per window, and a burst becomes one message.

Handlers submit events and wait; the first event of a group opens a short window, and
when it closes the whole group is sent as one message. Every waiting handler then learns
the outcome, so each message is acked only after its notification is settled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from hearth_events import Envelope

Flush = Callable[[str, list[Envelope]], Awaitable[None]]


class Gate:
    """Remembers when each key was last let through."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._last: dict[str, float] = {}
        self._clock = clock

    def allow(self, key: str, window_s: float) -> bool:
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < window_s:
            return False
        self._last[key] = now
        return True


@dataclass
class _Group:
    envelopes: list[Envelope] = field(default_factory=list)
    done: asyncio.Future[None] | None = None


class BurstCollector:
    def __init__(self, flush: Flush) -> None:
        self._flush = flush
        self._open: dict[str, _Group] = {}

    async def submit(self, group_key: str, envelope: Envelope, window_s: float) -> None:
        group = self._open.get(group_key)
        if group is None:
            group = _Group(done=asyncio.get_running_loop().create_future())
            self._open[group_key] = group
            asyncio.get_running_loop().call_later(
                window_s, lambda: asyncio.ensure_future(self._close(group_key))
            )
        group.envelopes.append(envelope)
        assert group.done is not None
        await asyncio.shield(group.done)

    async def _close(self, group_key: str) -> None:
        group = self._open.pop(group_key)
        assert group.done is not None
        try:
            await self._flush(group_key, group.envelopes)
        except Exception as exc:
            group.done.set_exception(exc)
        else:
            group.done.set_result(None)
