"""The relay on a 3-node NATS cluster: kill -9 the node that leads the events stream (and
that the relay is connected to) while events flow; every event still arrives exactly once,
in store order, from the nodes that are left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import nats
import pytest

from hearth.embedded.nats import EmbeddedNats, cluster_of
from hearth_events import parse_event
from hearth_events.jetstream import EVENTS_STREAM, STREAMS, unavailable
from hearth_eventstore.relay import Relay
from tests.integration.eventstore.test_relay import stored_ids
from tests.support.ports import quiet_ports
from tests.support.relay_app import journal_app

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[EmbeddedNats]]:
    nodes = cluster_of(tmp_path / "nats", quiet_ports(3), quiet_ports(3))
    for node in nodes:
        node.start()
    yield nodes
    for node in nodes:
        node.kill()


async def declare_replicated(urls: list[str]) -> None:
    """HEARTH_EVENTS with three replicas, once the cluster has elected its meta leader."""
    nc = await nats.connect(servers=urls)
    try:
        async with asyncio.timeout(60):
            while True:
                try:
                    await nc.jetstream().add_stream(
                        config=replace(STREAMS[EVENTS_STREAM], num_replicas=3)
                    )
                    return
                except nats.errors.Error as exc:
                    # A node not yet in the cluster ("no suitable peers for placement,
                    # peer offline") is a cluster still forming, as a 503 is.
                    if not unavailable(exc):
                        raise
                    await asyncio.sleep(0.2)
    finally:
        await nc.close()


async def stream_leader(urls: list[str]) -> str:
    nc = await nats.connect(servers=urls)
    try:
        async with asyncio.timeout(60):
            while True:
                info = await nc.jetstream().stream_info(EVENTS_STREAM)
                if info.cluster and info.cluster.leader:
                    return str(info.cluster.leader)
                await asyncio.sleep(0.2)
    finally:
        await nc.close()


async def streamed(urls: list[str], count: int, timeout: float = 90) -> list[str]:
    """Event ids in stream order once ``count`` are there (read from any live node).

    The stream may still be electing or catching up a replica after the kill: a read
    that meets "JetStream temporarily unavailable" is asked again, never skipped.
    """
    nc = await nats.connect(servers=urls)
    js = nc.jetstream()

    async def read() -> list[str] | None:
        info = await js.stream_info(EVENTS_STREAM)
        if info.state.messages < count:
            return None
        ids: list[str] = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            message = await js.get_msg(EVENTS_STREAM, seq)
            assert message.data is not None
            ids.append(str(parse_event(message.data).event_id))
        return ids

    try:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    if (ids := await read()) is not None:
                        return ids
                except nats.errors.Error as exc:
                    if not unavailable(exc):
                        raise
                await asyncio.sleep(0.2)
    finally:
        await nc.close()


async def test_killing_the_stream_leader_loses_doubles_and_reorders_nothing(
    cluster: list[EmbeddedNats], database_url: str
) -> None:
    urls = [node.url for node in cluster]
    await declare_replicated(urls)
    leader_name = await stream_leader(urls)
    leader = next(node for node in cluster if node.server_name == leader_name)
    others = [node.url for node in cluster if node is not leader]
    # The relay starts on the leader and knows the other nodes to reconnect to.
    nc: Any = await nats.connect(
        servers=[leader.url, *others],
        dont_randomize=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
    )
    app = journal_app(database_url, "deployer")
    journal = app.start("cluster")
    for round_ in range(10):  # stored before the relay starts: it has 200 to send at once
        await asyncio.to_thread(app.append, journal, 20, round_ * 100)
    relay = Relay(app, database_url, nc, source="test", poll_s=0.05, max_events=20)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        async with asyncio.timeout(60):
            while relay.published < 20:  # the first batches are in, the rest on their way
                await asyncio.sleep(0)
        leader.kill()  # kill -9 the node the relay talks to, which leads the stream
        assert relay.published < 200, "the kill must land while events are in flight"
        for round_ in range(10, 15):
            await asyncio.to_thread(app.append, journal, 20, round_ * 100)
        expected = stored_ids(app)
        assert len(expected) == 300
        assert await streamed(others, len(expected)) == expected
        assert await stream_leader(others) != leader_name
    finally:
        stop.set()
        await task
        await nc.close()
