"""The stream follower: replays what its subjects hold, says when it has caught up, then
follows live, against a real JetStream."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hearth_events import Envelope
from hearth_events.publish import publish_event
from hearth_servicekit.follower import StreamFollower
from tests.integration.servicekit.test_consumer import failed, fresh_bus

pytestmark = pytest.mark.integration

SUBJECTS = ["hearth.evt.deploy.DeploymentFailed.>"]


class CountingJs:
    """The real JetStream context, counting the fetches of the subscriptions it binds."""

    def __init__(self, js: Any) -> None:
        self.js = js
        self.fetches = 0

    async def add_consumer(self, *args: Any, **kwargs: Any) -> Any:
        return await self.js.add_consumer(*args, **kwargs)

    async def pull_subscribe_bind(self, *args: Any, **kwargs: Any) -> Any:
        subscription = await self.js.pull_subscribe_bind(*args, **kwargs)
        fetch = subscription.fetch

        async def counted(*a: Any, **k: Any) -> Any:
            self.fetches += 1
            return await fetch(*a, **k)

        subscription.fetch = counted
        return subscription


async def test_nothing_to_replay_is_caught_up_without_waiting_out_a_fetch(js: Any) -> None:
    """A service whose events do not exist yet started a second late: the first fetch
    waited out its timeout before catch-up was declared."""
    await fresh_bus(js)
    counting = CountingJs(js)
    seen: list[Envelope] = []
    follower = StreamFollower(counting, SUBJECTS, seen.append)
    await follower.catch_up()
    assert follower.caught_up.is_set()
    assert counting.fetches == 0

    await publish_event(js, failed("ha", 1))
    while not seen:
        await follower.poll_once(timeout=5)
    assert [e.data.reason for e in seen] == ["1"]  # type: ignore[attr-defined]


async def test_what_is_there_is_replayed_before_catch_up_ends(js: Any) -> None:
    await fresh_bus(js)
    for n in range(3):
        await publish_event(js, failed("ha", n))
    seen: list[Envelope] = []
    follower = StreamFollower(js, SUBJECTS, seen.append)
    await follower.catch_up()
    assert [e.data.reason for e in seen] == ["0", "1", "2"]  # type: ignore[attr-defined]


async def test_settle_returns_once_what_the_stream_held_is_applied(js: Any) -> None:
    await fresh_bus(js)
    seen: list[Envelope] = []
    follower = StreamFollower(js, SUBJECTS, seen.append)
    await follower.catch_up()
    stop = asyncio.Event()
    task = asyncio.create_task(follower.run(stop))
    try:
        for n in range(50):
            await publish_event(js, failed("ha", n))
        assert await follower.settle(timeout=10)
        assert len(seen) == 50
    finally:
        stop.set()
        await task


async def test_settle_never_claims_what_was_not_applied(js: Any) -> None:
    await fresh_bus(js)
    seen: list[Envelope] = []
    follower = StreamFollower(js, SUBJECTS, seen.append)
    await follower.catch_up()
    await publish_event(js, failed("ha", 1))
    assert not await follower.settle(timeout=0.5)  # nothing runs the follower
    settled = asyncio.create_task(follower.settle(timeout=10))
    assert await follower.poll_once(timeout=5) == 1  # not yet: what it fetched was news
    assert not settled.done()
    assert await follower.poll_once(timeout=0.3) == 0  # empty: nothing is left
    assert await settled and len(seen) == 1
