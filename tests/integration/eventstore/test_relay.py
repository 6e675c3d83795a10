"""The relay's promises, against real PostgreSQL and NATS: after kill -9 at any point, a NATS
outage, or two relays at once, the stream holds every stored event once, in store order."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import nats
import pytest

from hearth.embedded.nats import EmbeddedNats
from hearth_events import parse_event
from hearth_events.jetstream import STREAMS, ensure
from hearth_eventstore.relay import Relay
from hearth_eventstore.store import HearthAggregate
from tests.support.relay_app import JournalApp, journal_app

pytestmark = pytest.mark.integration


def stored_ids(app: JournalApp) -> list[str]:
    """Event ids in store order (the application sequence)."""
    ids: list[str] = []
    start = 1
    while True:
        section = app.recorder.select_notifications(start, 10)
        if not section:
            return ids
        for notification in section:
            event = app.mapper.to_domain_event(notification)
            if isinstance(event, HearthAggregate.Recorded):
                ids.append(event.event_id)
        start = section[-1].id + 1


async def streamed_ids(url: str) -> list[str]:
    nc = await nats.connect(url)
    sub = await nc.jetstream().subscribe("hearth.evt.>", ordered_consumer=True)
    ids = []
    try:
        while True:
            message = await sub.next_msg(timeout=1)
            assert message.headers is not None
            envelope = parse_event(message.data)
            assert message.headers["Nats-Msg-Id"] == str(envelope.event_id)
            ids.append(str(envelope.event_id))
    except nats.errors.TimeoutError:
        pass
    await nc.close()
    return ids


async def prepare(url: str) -> None:
    nc = await nats.connect(url)
    await ensure(nc.jetstream(), streams=tuple(STREAMS))
    await nc.close()


async def wait_streamed(url: str, count: int, timeout: float = 60) -> list[str]:
    async with asyncio.timeout(timeout):
        while len(ids := await streamed_ids(url)) < count:
            await asyncio.sleep(0.3)
    return ids


def start_relay(database_url: str, schema: str, url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.relay_app", database_url, schema, url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_kill_9_at_any_point_loses_and_duplicates_nothing(
    database_url: str, nats_factory: Callable[..., EmbeddedNats]
) -> None:
    server = nats_factory()
    await prepare(server.url)
    app = journal_app(database_url, "deployer")
    journal = app.start("dep-1")
    app.append(journal, 300)
    rng = random.Random(7)
    for _ in range(4):
        relay = start_relay(database_url, "deployer", server.url)
        await asyncio.sleep(rng.uniform(0.3, 1.2))
        relay.send_signal(signal.SIGKILL)
        relay.wait()
        app.append(journal, 20, first=1000)  # the store keeps growing meanwhile
    relay = start_relay(database_url, "deployer", server.url)
    try:
        expected = stored_ids(app)
        assert await wait_streamed(server.url, len(expected)) == expected
        await asyncio.sleep(1)
        assert await streamed_ids(server.url) == expected
    finally:
        relay.send_signal(signal.SIGTERM)
        relay.wait(20)


async def test_a_nats_outage_delays_events_but_never_loses_them(
    database_url: str, nats_factory: Callable[..., EmbeddedNats]
) -> None:
    server = nats_factory()
    await prepare(server.url)
    app = journal_app(database_url, "device_manager")
    journal = app.start("dev-1")
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.3)
    relay = Relay(app, database_url, nc.jetstream(), source="test", poll_s=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.05)

    ticking = asyncio.create_task(ticker())
    try:
        await asyncio.to_thread(app.append, journal, 10)
        await wait_streamed(server.url, 10)
        server.stop()
        before = ticks
        await asyncio.to_thread(app.append, journal, 50, 100)  # appending never waits on NATS
        await asyncio.sleep(3)
        assert ticks - before >= 30, "the event loop was blocked during the outage"
        server.start()
        expected = stored_ids(app)
        assert await wait_streamed(server.url, len(expected)) == expected
    finally:
        stop.set()
        await task
        await ticking
        await nc.close()


async def test_two_relays_never_double_publish_or_reorder(
    database_url: str, nats_factory: Callable[..., EmbeddedNats]
) -> None:
    server = nats_factory()
    await prepare(server.url)
    app = journal_app(database_url, "deployer")
    journal = app.start("dep-2")
    relays = [start_relay(database_url, "deployer", server.url) for _ in range(2)]
    try:
        for batch in range(10):
            await asyncio.to_thread(app.append, journal, 20, batch * 100)
            if batch == 5:  # the leader (whichever it is) dies; the other takes over
                leader = relays[0]
                leader.send_signal(signal.SIGKILL)
                leader.wait()
                relays.append(start_relay(database_url, "deployer", server.url))
        expected = stored_ids(app)
        assert await wait_streamed(server.url, len(expected)) == expected
        await asyncio.sleep(1)
        assert await streamed_ids(server.url) == expected
    finally:
        for relay in relays:
            if relay.poll() is None:
                relay.send_signal(signal.SIGTERM)
                relay.wait(20)


def test_every_stored_event_maps_to_its_catalogue_envelope(database_url: str) -> None:
    from hearth_eventstore.store import to_envelope

    app = journal_app(database_url, "deployer")
    journal = app.start("dep-3")
    app.append(journal, 2)
    events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 10)]
    envelopes = [to_envelope(e, "test") for e in events if isinstance(e, HearthAggregate.Recorded)]
    assert [e.type for e in envelopes] == ["DeploymentLogged", "DeploymentLogged"]
    assert [e.aggregate_version for e in envelopes] == [2, 3]
    assert envelopes[0].aggregate_id == str(journal)
    assert envelopes[0].key == "relay-test"
    restored: Any = app.repository.get(journal)
    assert restored.lines == 2
