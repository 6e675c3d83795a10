"""Atomic batches against a real nats-server: the properties the relay's ordering rests on.

A batch is stored whole or not at all; a batch that lost a message on the way (a broken
connection) is refused; a batch holding an event JetStream already has is refused whole,
and the relay then sends those events one by one. On a stream that refuses atomic batches
the relay relays one by one, in order.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace

import nats
import pytest

from hearth.embedded.nats import EmbeddedNats
from hearth_events.envelope import OutgoingMessage
from hearth_events.jetstream import EVENTS_STREAM, STREAMS, ensure
from hearth_eventstore.batches import DUPLICATE_IN_BATCH, BatchRefused, publish_batch
from hearth_eventstore.relay import Relay
from tests.integration.eventstore.test_relay import stored_ids, streamed_ids, wait_streamed
from tests.support.relay_app import journal_app

pytestmark = pytest.mark.integration


def messages(count: int, first: int = 0) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(
            f"hearth.evt.deploy.DeploymentLogged.m{n}",
            json.dumps({"n": n}).encode(),
            {"Nats-Msg-Id": f"id-{n}"},
        )
        for n in range(first, first + count)
    ]


async def stored_subjects(js: object) -> list[str]:
    info = await js.stream_info(EVENTS_STREAM)  # type: ignore[attr-defined]
    return [
        (await js.get_msg(EVENTS_STREAM, seq)).subject  # type: ignore[attr-defined]
        for seq in range(info.state.first_seq, info.state.last_seq + 1)
        if info.state.messages
    ]


async def test_a_batch_is_stored_whole_and_a_repeat_is_refused_whole(
    nats_factory: Callable[..., EmbeddedNats],
) -> None:
    server = nats_factory()
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        await ensure(js, streams=tuple(STREAMS))
        ack = await publish_batch(nc, messages(5))
        assert (ack.count, ack.atomic) == (5, True)
        # The same events again, with one new one behind them: refused whole, none stored.
        with pytest.raises(BatchRefused) as refused:
            await publish_batch(nc, messages(6))
        assert refused.value.code == DUPLICATE_IN_BATCH
        assert await stored_subjects(js) == [m.subject for m in messages(5)]
    finally:
        await nc.close()


async def test_a_batch_missing_a_message_stores_nothing(
    nats_factory: Callable[..., EmbeddedNats],
) -> None:
    """What a broken connection does to a batch: the server sees a gap, and refuses it."""
    server = nats_factory()
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        await ensure(js, streams=tuple(STREAMS))
        batch = messages(4)
        headers = [
            {**m.headers, "Nats-Batch-Id": "b1", "Nats-Batch-Sequence": str(n)}
            for n, m in enumerate(batch, start=1)
        ]
        for n in (0, 1):  # messages 1 and 2 arrive, 3 is lost, 4 commits
            await nc.publish(batch[n].subject, batch[n].payload, headers=headers[n])
        reply = await nc.request(
            batch[3].subject,
            batch[3].payload,
            timeout=5,
            headers={**headers[3], "Nats-Batch-Commit": "1"},
        )
        assert "error" in json.loads(reply.data)
        assert await stored_subjects(js) == []
        # The relay's retry (a new batch id) then stores all four, in order.
        await publish_batch(nc, batch)
        assert await stored_subjects(js) == [m.subject for m in batch]
    finally:
        await nc.close()


async def test_a_stream_without_atomic_batches_still_gets_every_event_in_order(
    database_url: str, nats_factory: Callable[..., EmbeddedNats]
) -> None:
    server = nats_factory()
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        await js.add_stream(config=replace(STREAMS[EVENTS_STREAM], allow_atomic=False))
        app = journal_app(database_url, "deployer")
        journal = app.start("plain")
        await asyncio.to_thread(app.append, journal, 30)
        relay = Relay(app, database_url, nc, source="test", poll_s=0.05, max_events=8)
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        try:
            assert await wait_streamed(server.url, 30) == stored_ids(app)
            await asyncio.to_thread(app.append, journal, 10, 100)
            assert await wait_streamed(server.url, 40) == stored_ids(app)
            assert relay.atomic is False
        finally:
            stop.set()
            await task
        assert await streamed_ids(server.url) == stored_ids(app)
    finally:
        await nc.close()
