"""A fetch takes messages already received at once, in order, with nats-py's bookkeeping;
with none received it waits as nats-py does."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from hearth_servicekit.consumer import take_queued_at_once


def pull_subscription(queued: list[bytes]) -> Any:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for data in queued:
        queue.put_nowait(SimpleNamespace(data=data))
    waited: list[float | None] = []

    async def next_msg(timeout: float | None = 1.0) -> Any:
        waited.append(timeout)
        return SimpleNamespace(data=b"waited for")

    sub = SimpleNamespace(
        _pending_queue=queue,
        _pending_size=sum(map(len, queued)),
        _conn=SimpleNamespace(is_closed=False),
        next_msg=next_msg,
        waited=waited,
    )
    return SimpleNamespace(_sub=sub)


async def test_queued_messages_are_taken_in_order_then_it_waits() -> None:
    subscription = pull_subscription([b"one", b"three"])
    take_queued_at_once(subscription)
    sub = subscription._sub
    assert (await sub.next_msg(timeout=2)).data == b"one"
    assert sub._pending_size == 5
    assert (await sub.next_msg(timeout=2)).data == b"three"
    assert sub._pending_size == 0 and sub.waited == []
    assert (await sub.next_msg(timeout=2)).data == b"waited for"
    assert sub.waited == [2]
    await asyncio.wait_for(sub._pending_queue.join(), 1)  # each taken one marked done


async def test_a_closed_connection_goes_to_nats_py() -> None:
    subscription = pull_subscription([b"one"])
    take_queued_at_once(subscription)
    subscription._sub._conn.is_closed = True
    assert (await subscription._sub.next_msg(timeout=3)).data == b"waited for"


def test_a_subscription_of_another_shape_is_left_alone() -> None:
    odd = SimpleNamespace(_sub=SimpleNamespace(next_msg="unchanged"))
    take_queued_at_once(odd)
    assert odd._sub.next_msg == "unchanged"
