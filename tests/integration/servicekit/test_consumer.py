"""The consumer loop's delivery promises, against a real JetStream.

Each test runs on ``EventConsumer`` (ours, what the services use) and on the same interface
built on FastStream's NATS broker (``tests/support/faststream_consumer.py``), the prototype
that decided we keep ours: fetching one message at a time, FastStream holds every promise
(at a ninth of the speed: ``python -m bench bus``, "consume"); fetching more, it breaks
two, and those runs are strict xfails naming the promise, which fail the suite if
FastStream starts to hold them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from dataclasses import replace
from typing import Any

import pytest
import structlog
from nats.js.errors import NotFoundError

from hearth_events import Envelope, new_event
from hearth_events.catalogue import DeploymentFailed
from hearth_events.jetstream import CONSUMERS, EVENTS_STREAM, ensure
from hearth_events.publish import publish_event
from hearth_servicekit.consumer import EventConsumer
from tests.support.faststream_consumer import FastStreamConsumer

pytestmark = pytest.mark.integration

#: The promises FastStream breaks when it fetches more than one message at a time: it hands
#: each message of a fetch to its own task at once (docs/design.md has the table).
BATCHED_FAILS = {
    "test_events_are_handled_one_at_a_time_in_stream_order": "a fetched batch runs at once",
    "test_stop_finishes_the_message_in_hand_and_hands_back_the_rest": (
        "stop waits for the whole fetched batch, which was all in hand"
    ),
}


#: The promises FastStream breaks however it fetches.
FASTSTREAM_FAILS = {
    "test_a_batch_handler_does_not_wait_for_a_full_batch": (
        "a batch subscriber keeps fetching until the batch is full or its timeout ends"
    ),
}


@pytest.fixture(params=["ours", "faststream"])
def consumer_class(request: pytest.FixtureRequest) -> Any:
    """Ours, and FastStream fetching one message at a time."""
    if request.param == "ours":
        return EventConsumer
    reason = FASTSTREAM_FAILS.get(request.function.__name__)
    if reason:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
    return FastStreamConsumer


@pytest.fixture(params=["ours", "faststream", "faststream-batched"])
def ordered_consumer_class(request: pytest.FixtureRequest) -> Any:
    """Also FastStream fetching a batch, for the promises about order and stop it breaks."""
    if request.param != "faststream-batched":
        return EventConsumer if request.param == "ours" else FastStreamConsumer
    request.applymarker(
        pytest.mark.xfail(strict=True, reason=BATCHED_FAILS[request.function.__name__])
    )
    return functools.partial(FastStreamConsumer, fetch_one=False)


def failed(target: str, n: int) -> Envelope:
    return new_event(
        DeploymentFailed(deployment_id=f"d{n}", target=target, step="upload", reason=str(n)),
        source="test",
        actor="test",
    )


async def fresh_bus(js: Any) -> None:
    """Each test starts with an empty stream and a fresh notifier consumer."""
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(EVENTS_STREAM)
    await ensure(js, streams=(EVENTS_STREAM,), consumers=("notifier",))


def batch_recorder(
    consumer_class: Any,
    js: Any,
    batches: list[list[int]],
    *,
    batch: int,
    fetch_timeout_s: float,
    on_batch: Any = None,
    **options: Any,
) -> Any:
    """A batch consumer that records the stream sequences of each call it gets (and then
    awaits ``on_batch``, if given)."""

    async def handle_batch(events: list[tuple[Envelope, int]]) -> None:
        batches.append([seq for _, seq in events])
        if on_batch is not None:
            await on_batch()

    async def handle_one(envelope: Envelope, seq: int) -> None:
        batches.append([seq])

    return consumer_class(
        js,
        "notifier",
        handle_one,
        with_sequence=True,
        batch=batch,
        batch_handler=handle_batch,
        fetch_timeout_s=fetch_timeout_s,
        **options,
    )


async def run_until(consumer: Any, condition: Any, timeout: float = 15.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task


async def settled_info(js: Any) -> Any:
    """The consumer's info once the acks sent have been counted. An ack is a plain publish
    and the server files it on the consumer's own queue, so a consumer-info request right
    after it can still count the message as pending; a message never acked stays pending
    and the assertion after this fails."""
    deadline = asyncio.get_running_loop().time() + 5.0
    while True:
        info = await js.consumer_info(EVENTS_STREAM, CONSUMERS["notifier"].name)
        if info.num_ack_pending == 0 or asyncio.get_running_loop().time() > deadline:
            return info
        await asyncio.sleep(0.02)


async def test_acks_only_after_the_handler_returns(js: Any, consumer_class: Any) -> None:
    await fresh_bus(js)
    for n in range(5):
        await publish_event(js, failed("ha", n))
    seen: list[str] = []

    async def handle(envelope: Envelope) -> None:
        seen.append(envelope.data.reason)  # type: ignore[attr-defined]

    consumer = consumer_class(js, "notifier", handle, fetch_timeout_s=0.2)
    await run_until(consumer, lambda: len(seen) == 5)
    assert seen == ["0", "1", "2", "3", "4"]
    info = await settled_info(js)
    assert info.num_ack_pending == 0
    assert info.num_pending == 0


async def test_a_batch_handler_takes_what_arrived_together_and_acks_it_all(
    js: Any, consumer_class: Any
) -> None:
    await fresh_bus(js)
    for n in range(10):
        await publish_event(js, failed("ha", n))
    batches: list[list[int]] = []
    consumer = batch_recorder(consumer_class, js, batches, batch=4, fetch_timeout_s=0.2)
    # FastStream, on a busy machine, may hand over a batch it fetched as the fetch's
    # timeout ended only once JetStream delivers it again, an ack wait later (seen in 3 of
    # 20 runs beside two busy loops: 8 handled, 2 delivered and never handed over). Ours
    # is held to the first 15 s.
    patience = 15.0 if consumer_class is EventConsumer else CONSUMERS["notifier"].ack_wait_s + 15
    await run_until(consumer, lambda: consumer.handled == 10, timeout=patience)
    assert [seq for batch in batches for seq in batch] == list(range(1, 11))
    assert max(len(b) for b in batches) == 4
    info = await settled_info(js)
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_a_batch_handler_does_not_wait_for_a_full_batch(js: Any, consumer_class: Any) -> None:
    await fresh_bus(js)
    for n in range(3):
        await publish_event(js, failed("ha", n))
    batches: list[list[int]] = []
    consumer = batch_recorder(consumer_class, js, batches, batch=10, fetch_timeout_s=600)
    # Far below the fetch's timeout (ours takes milliseconds).
    await run_until(consumer, lambda: consumer.handled == 3, timeout=5)
    assert batches == [[1, 2, 3]]


async def test_a_failing_batch_goes_one_by_one_and_only_the_bad_event_waits(
    js: Any, consumer_class: Any
) -> None:
    await fresh_bus(js)
    for n in range(4):
        await publish_event(js, failed("ha", n))
    singles: list[str] = []

    async def handle_batch(batch: list[tuple[Envelope, int]]) -> None:
        raise RuntimeError("one of these is bad")

    async def handle_one(envelope: Envelope, seq: int) -> None:
        reason = envelope.data.reason  # type: ignore[attr-defined]
        if reason == "2" and singles.count("2") == 0:
            singles.append("2")
            raise RuntimeError("bad, once")
        singles.append(reason)

    consumer = consumer_class(
        js,
        "notifier",
        handle_one,
        with_sequence=True,
        batch=4,
        batch_handler=handle_batch,
        fetch_timeout_s=0.2,
    )
    await run_until(consumer, lambda: consumer.handled == 4, timeout=20)
    # The others went through at once; the bad one came back (alone) and then succeeded.
    assert singles == ["0", "1", "2", "3", "2"]


async def test_a_failing_handler_gets_the_message_again(js: Any, consumer_class: Any) -> None:
    await fresh_bus(js)
    await publish_event(js, failed("ha", 1))
    attempts: list[int] = []

    async def flaky(envelope: Envelope) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("transient")

    consumer = consumer_class(js, "notifier", flaky, fetch_timeout_s=0.2)
    # nak delays grow as 2, 4, ... seconds; two failures then success.
    await run_until(consumer, lambda: consumer.handled == 1, timeout=20)
    assert len(attempts) == 3


async def test_a_handler_slower_than_ack_wait_keeps_its_message(
    js: Any, consumer_class: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-progress keep-alive: a second instance fetches all along and never gets a copy."""
    monkeypatch.setitem(CONSUMERS, "notifier", replace(CONSUMERS["notifier"], ack_wait_s=3.0))
    await fresh_bus(js)
    await publish_event(js, failed("ha", 1))
    attempts: list[str] = []

    async def slow(envelope: Envelope) -> None:
        attempts.append(envelope.data.reason)  # type: ignore[attr-defined]
        await asyncio.sleep(5.0)  # longer than ack_wait: the server would redeliver

    instances = [consumer_class(js, "notifier", slow, fetch_timeout_s=0.2) for _ in range(2)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(instance.run(stop)) for instance in instances]
    try:
        async with asyncio.timeout(30):
            while not any(instance.handled for instance in instances):
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert attempts == ["1"]


async def test_an_invalid_message_is_terminated_not_retried(js: Any, consumer_class: Any) -> None:
    await fresh_bus(js)
    await js.publish("hearth.evt.deploy.DeploymentFailed.ha", b"{not json", stream=EVENTS_STREAM)
    await publish_event(js, failed("ha", 2))
    seen: list[str] = []

    async def handle(envelope: Envelope) -> None:
        seen.append(envelope.data.reason)  # type: ignore[attr-defined]

    consumer = consumer_class(js, "notifier", handle, fetch_timeout_s=0.2)
    await run_until(consumer, lambda: seen == ["2"])
    info = await settled_info(js)
    assert info.num_ack_pending == 0


async def test_stop_finishes_the_message_in_hand_and_hands_back_the_rest(
    js: Any, ordered_consumer_class: Any
) -> None:
    await fresh_bus(js)
    for n in range(10):
        await publish_event(js, failed("ha", n))
    stop = asyncio.Event()
    first_started = asyncio.Event()
    finished: list[str] = []

    async def slow(envelope: Envelope) -> None:
        first_started.set()
        await asyncio.sleep(0.3)
        finished.append(envelope.data.reason)  # type: ignore[attr-defined]

    consumer = ordered_consumer_class(js, "notifier", slow, batch=10, fetch_timeout_s=0.2)
    task = asyncio.create_task(consumer.run(stop))
    await first_started.wait()
    stop.set()
    await task
    assert finished == ["0"]

    # The rest were handed back: a new consumer instance gets exactly those, in order.
    rest: list[str] = []

    async def collect(envelope: Envelope) -> None:
        rest.append(envelope.data.reason)  # type: ignore[attr-defined]

    await run_until(
        ordered_consumer_class(js, "notifier", collect, fetch_timeout_s=0.2), lambda: len(rest) == 9
    )
    assert rest == [str(n) for n in range(1, 10)]


async def test_stop_does_not_wait_out_an_idle_fetch_and_loses_nothing(
    js: Any, consumer_class: Any
) -> None:
    await fresh_bus(js)
    seen: list[str] = []

    async def handle(envelope: Envelope) -> None:
        seen.append(envelope.data.reason)  # type: ignore[attr-defined]

    stop = asyncio.Event()
    idle = consumer_class(js, "notifier", handle, fetch_timeout_s=600)
    task = asyncio.create_task(idle.run(stop))
    await asyncio.sleep(0.3)  # the fetch is waiting for messages that do not come
    stop.set()
    async with asyncio.timeout(30):  # far below the fetch's own timeout
        await task
    assert seen == []

    await publish_event(js, failed("ha", 1))
    await run_until(consumer_class(js, "notifier", handle, fetch_timeout_s=0.2), lambda: seen)
    assert seen == ["1"]


async def test_log_lines_inside_a_handler_carry_the_event_ids(js: Any, consumer_class: Any) -> None:
    await fresh_bus(js)
    envelope = failed("ha", 7)
    await publish_event(js, envelope)
    bound: list[dict[str, Any]] = []

    async def handle(_: Envelope) -> None:
        bound.append(structlog.contextvars.get_contextvars())

    consumer = consumer_class(js, "notifier", handle, fetch_timeout_s=0.2)
    await run_until(consumer, lambda: consumer.handled == 1)
    assert bound[0]["event_id"] == str(envelope.event_id)
    assert bound[0]["correlation_id"] == envelope.correlation_id
    assert "event_id" not in structlog.contextvars.get_contextvars()


async def test_events_are_handled_one_at_a_time_in_stream_order(
    js: Any, ordered_consumer_class: Any
) -> None:
    await fresh_bus(js)
    for n in range(6):
        await publish_event(js, failed("ha", n))
    running: list[str] = []
    order: list[str] = []

    async def uneven(envelope: Envelope) -> None:
        reason = envelope.data.reason  # type: ignore[attr-defined]
        running.append(reason)
        assert running == [reason], f"{running} at once"
        await asyncio.sleep(0.05 * (6 - int(reason)))  # the first is the slowest
        order.append(reason)
        running.remove(reason)

    consumer = ordered_consumer_class(js, "notifier", uneven, batch=6, fetch_timeout_s=0.2)
    await run_until(consumer, lambda: len(order) == 6 or len(running) > 1)
    assert order == ["0", "1", "2", "3", "4", "5"]


def read_ahead_recorder(js: Any, batches: list[list[int]], on_batch: Any, *, batch: int) -> Any:
    """Ours with ``read_ahead`` (the projections'): the next batch is fetched and parsed
    while this one is handled."""
    return batch_recorder(
        EventConsumer,
        js,
        batches,
        batch=batch,
        fetch_timeout_s=0.2,
        on_batch=on_batch,
        read_ahead=True,
    )


async def test_a_read_ahead_batch_consumer_handles_every_event_once_in_order(js: Any) -> None:
    await fresh_bus(js)
    for n in range(20):
        await publish_event(js, failed("ha", n))
    batches: list[list[int]] = []
    in_hand: list[int] = []

    async def slow() -> None:
        await asyncio.sleep(0.1)  # the next batch arrives meanwhile
        info = await js.consumer_info(EVENTS_STREAM, CONSUMERS["notifier"].name)
        in_hand.append(info.num_ack_pending)

    consumer = read_ahead_recorder(js, batches, slow, batch=4)
    await run_until(consumer, lambda: consumer.handled == 20)
    assert [seq for b in batches for seq in b] == list(range(1, 21))
    assert max(len(b) for b in batches) == 4
    assert in_hand[0] == 8  # this batch and the one read ahead of it
    info = await settled_info(js)
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_stop_hands_back_the_batch_read_ahead(js: Any) -> None:
    await fresh_bus(js)
    for n in range(12):
        await publish_event(js, failed("ha", n))
    batches: list[list[int]] = []
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(0.5)

    stop = asyncio.Event()
    consumer = read_ahead_recorder(js, batches, slow, batch=4)
    task = asyncio.create_task(consumer.run(stop))
    await started.wait()
    await asyncio.sleep(0.2)  # the next batch has been read ahead
    stop.set()
    await task
    assert batches == [[1, 2, 3, 4]] and consumer.handled == 4

    # The batch read ahead went back at once (not after the ack wait), and the rest stayed:
    # each comes exactly once (the server may send the newer ones first).
    rest: list[int] = []

    async def collect(envelope: Envelope, seq: int) -> None:
        rest.append(seq)

    later = EventConsumer(js, "notifier", collect, with_sequence=True, fetch_timeout_s=0.2)
    await run_until(later, lambda: len(rest) == 8, timeout=5)
    assert sorted(rest) == list(range(5, 13))
