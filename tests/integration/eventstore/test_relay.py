"""The relay's promises, against real PostgreSQL and NATS: after kill -9 in each crash window,
a NATS outage, or the leader of two relays dying, the stream holds every stored event once,
in store order. HEARTH_FAULT makes each kill land at a named point, and the fault markers
prove it did (and that the path the test is about ran)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats
import psycopg
import pytest

from hearth.embedded.nats import EmbeddedNats
from hearth_events import parse_event
from hearth_events.jetstream import STREAMS, ensure
from hearth_eventstore import batches as batches_module
from hearth_eventstore import relay as relay_module
from hearth_eventstore.relay import Relay
from hearth_eventstore.store import HearthAggregate
from hearth_servicekit.faults import FAULT_ENV, READY_ENV
from tests.support.relay_app import JournalApp, journal_app

pytestmark = pytest.mark.integration


def stored(app: JournalApp) -> list[tuple[int, str]]:
    """(notification id, event id) of every recorded event, in store order."""
    events: list[tuple[int, str]] = []
    start = 1
    while True:
        section = app.recorder.select_notifications(start, 10)
        if not section:
            return events
        for notification in section:
            event = app.mapper.to_domain_event(notification)
            if isinstance(event, HearthAggregate.Recorded):
                events.append((notification.id, event.event_id))
        start = section[-1].id + 1


def stored_ids(app: JournalApp) -> list[str]:
    """Event ids in store order (the application sequence)."""
    return [event_id for _, event_id in stored(app)]


def saved_position(database_url: str, schema: str) -> int | None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            f"SELECT position FROM {schema}.hearth_relay_position WHERE name = 'main'"
        ).fetchone()
    return None if row is None else int(row[0])


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


async def wait_relayed(app: JournalApp, database_url: str, schema: str) -> list[str]:
    """Wait until the relay saved the store's last position: nothing is left to send."""
    events = stored(app)
    async with asyncio.timeout(60):
        while saved_position(database_url, schema) != events[-1][0]:
            await asyncio.sleep(0.1)
    return [event_id for _, event_id in events]


async def wait_marker(path: Path, line: str, relay: subprocess.Popen[bytes]) -> None:
    """Wait for the fault marker ``line`` (``<point> <action>``) from ``relay``."""
    expected = f"{line} {relay.pid}"
    async with asyncio.timeout(60):
        while expected not in markers(path):
            assert relay.poll() is None, f"relay exited with {relay.returncode} before {line}"
            await asyncio.sleep(0.05)


def markers(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def start_relay(
    database_url: str, schema: str, url: str, *, fault: str = "", ready: Path | None = None
) -> subprocess.Popen[bytes]:
    env = {**os.environ, FAULT_ENV: fault}
    if ready is not None:
        env[READY_ENV] = str(ready)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.relay_app", database_url, schema, url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )


def stop_relay(relay: subprocess.Popen[bytes]) -> None:
    if relay.poll() is None:
        relay.send_signal(signal.SIGTERM)
        relay.wait(20)


# point -> (events in the stream when the relay dies at its 3rd pass, events whose
# position was saved by then). The test relay sends batches of 5 (tests/support/relay_app),
# after a first batch of one that tells whether the stream takes atomic batches: pass 1 is
# event 1, pass 2 events 2-6, pass 3 events 7-11.
CRASH_WINDOWS = {
    "relay.before_publish": (6, 6),
    "relay.after_publish_before_position": (11, 6),
    "relay.after_position": (11, 11),
}


@pytest.mark.parametrize("point", list(CRASH_WINDOWS))
async def test_kill_9_at_each_crash_window_loses_and_duplicates_nothing(
    point: str, database_url: str, nats_factory: Callable[..., EmbeddedNats], tmp_path: Path
) -> None:
    server = nats_factory()
    await prepare(server.url)
    app = journal_app(database_url, "deployer")
    journal = app.start("dep-1")
    app.append(journal, 60)
    before = stored(app)
    fault = tmp_path / "fault"
    relay = start_relay(database_url, "deployer", server.url, fault=f"{point}@3:kill", ready=fault)
    assert await asyncio.to_thread(relay.wait, 120) == -signal.SIGKILL
    assert markers(fault) == [f"{point} kill {relay.pid}"]
    in_stream, saved = CRASH_WINDOWS[point]
    assert await streamed_ids(server.url) == [event_id for _, event_id in before[:in_stream]]
    assert saved_position(database_url, "deployer") == before[saved - 1][0]

    app.append(journal, 20, first=1000)  # the store keeps growing while no relay runs
    resend = tmp_path / "resend"
    relay = start_relay(
        database_url, "deployer", server.url, fault="relay.duplicate_acked:mark", ready=resend
    )
    try:
        expected = await wait_relayed(app, database_url, "deployer")
        assert await streamed_ids(server.url) == expected
        # Only an ack without a saved position makes the restarted relay send again, and
        # JetStream's de-duplication is what keeps that second copy out of the stream.
        resent = [f"relay.duplicate_acked mark {relay.pid}"]
        assert markers(resend) == (resent if point == "relay.after_publish_before_position" else [])
    finally:
        stop_relay(relay)


async def test_a_nats_outage_delays_events_but_never_loses_them(
    database_url: str, nats_factory: Callable[..., EmbeddedNats]
) -> None:
    server = nats_factory()
    await prepare(server.url)
    app = journal_app(database_url, "device_manager")
    journal = app.start("dev-1")
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.3)
    relay = Relay(app, database_url, nc, source="test", poll_s=0.05)
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


async def test_the_lag_shows_events_held_during_an_outage_and_nought_after(
    database_url: str, nats_factory: Callable[..., EmbeddedNats]
) -> None:
    """``hearth_relay_lag_events`` is set at every read: while NATS is down it shows the
    events waiting (it was only ever set once the relay had caught up), and back to 0
    once JetStream has them."""
    server = nats_factory()
    await prepare(server.url)
    app = journal_app(database_url, "query_api")
    journal = app.start("dev-1")
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.3)
    lags: list[int] = []
    relay = Relay(app, database_url, nc, source="test", poll_s=0.05, on_lag=lags.append)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.to_thread(app.append, journal, 10)
        await wait_streamed(server.url, 10)
        server.stop()
        await asyncio.to_thread(app.append, journal, 20)
        async with asyncio.timeout(30):
            while not lags or lags[-1] < 20:
                await asyncio.sleep(0.05)
        server.start()
        expected = stored_ids(app)
        assert await wait_streamed(server.url, len(expected)) == expected
        async with asyncio.timeout(30):
            while lags[-1] != 0:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
        await nc.close()


async def test_a_commit_wakes_the_relay_without_waiting_for_a_poll(
    database_url: str, nats_factory: Callable[..., EmbeddedNats]
) -> None:
    """The relay LISTENs for the store's NOTIFY: with polling set to an hour, each of
    several appends made while it is idle still reaches JetStream."""
    server = nats_factory()
    await prepare(server.url)
    app = journal_app(database_url, "notifier")
    journal = app.start("dev-1")
    nc = await nats.connect(server.url)
    relay = Relay(app, database_url, nc, source="test", poll_s=3600)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.wait_for(relay.leader.wait(), 30)
        for round_ in range(1, 4):
            await asyncio.to_thread(app.append, journal, 2)
            assert await wait_streamed(server.url, 2 * round_, timeout=30) == stored_ids(app)
        assert relay.atomic is True  # nats-server 2.12+ with allow_atomic: batches
    finally:
        stop.set()
        await task
        await nc.close()


async def noted_journal(url: str, database_url: str, name: str) -> JournalApp:
    """Streams declared on ``url``; a journal of forty events, each followed by a row of
    bookkeeping (stored, never published), as a deployment stores them."""
    await prepare(url)
    app = journal_app(database_url, "deployer")
    app.append(app.start(name), 40, notes=True)
    return app


async def relay_everything(
    url: str, app: JournalApp, database_url: str, expected: list[str]
) -> None:
    """Run a relay until the stream holds ``expected`` and its position is the store's
    last row (bookkeeping included), then stop it."""
    last_row = app.recorder.max_notification_id()
    nc = await nats.connect(url)
    relay = Relay(app, database_url, nc, source="test", poll_s=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        assert await wait_streamed(url, len(expected)) == expected
        async with asyncio.timeout(30):
            while relay.position != last_row:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
        await nc.close()


async def test_bookkeeping_between_events_does_not_split_their_batches(
    database_url: str, nats_factory: Callable[..., EmbeddedNats], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment stores its own bookkeeping between its catalogue events. The relay
    passes over those rows inside a batch, without decoding them: of forty events
    waiting, each followed by such a row, the first goes out alone (the batch that tells
    whether the stream takes atomic batches) and the other thirty-nine in one batch (the
    relay ended a batch at every bookkeeping row, and sent them one round trip each), in
    store order, and the position saved is the store's last row, bookkeeping included."""
    server = nats_factory()
    app = await noted_journal(server.url, database_url, "dep-1")
    expected = stored_ids(app)
    last_row = app.recorder.max_notification_id()
    batches: list[int] = []
    real = batches_module.publish_batch

    async def counted(nc: Any, messages: Any, **options: Any) -> Any:
        batches.append(len(messages))
        return await real(nc, messages, **options)

    monkeypatch.setattr(relay_module, "publish_batch", counted)
    decoded: list[str] = []
    decode = app.mapper.to_domain_event

    def counted_decode(notification: Any) -> Any:
        decoded.append(notification.topic)
        return decode(notification)

    monkeypatch.setattr(app.mapper, "to_domain_event", counted_decode)
    await relay_everything(server.url, app, database_url, expected)
    assert batches == [1, 39]
    # The bookkeeping rows are passed over by their topic, never decoded (a
    # deployment's carry the hundreds of paths it manages).
    assert len(decoded) == len(expected)
    assert saved_position(database_url, "deployer") == last_row


async def test_a_batch_cut_by_its_bytes_saves_the_position_before_the_first_event_it_left(
    database_url: str, nats_factory: Callable[..., EmbeddedNats], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that reaches the byte limit ends before the message that would cross it. With
    bookkeeping rows between the events, the position saved after such a batch is the row
    just before the first event it left, never past it: a position past it would skip that
    event when the relay reads on (or restarts) from there. Here the limit holds about
    three of the journal's events, so forty events each followed by a bookkeeping row go
    out in many cut batches; every event reaches the stream once, in store order."""
    server = nats_factory()
    app = await noted_journal(server.url, database_url, "dep-cut")
    rows = stored(app)
    row_of = {event_id: row for row, event_id in rows}
    last_row = app.recorder.max_notification_id()
    happened: list[tuple[str, list[int]]] = []
    real_take, real_publish = batches_module.take, batches_module.publish_batch
    real_save = Relay._save_position

    def three_a_batch(messages: Any, max_events: int = batches_module.MAX_EVENTS) -> int:
        if len(messages) > 1:  # a limit a little over three of these events' sizes
            sizes = [
                len(m.payload) + sum(len(k) + len(v) for k, v in m.headers.items())
                for m in messages[:3]
            ]
            monkeypatch.setattr(batches_module, "MAX_BYTES", sum(sizes) + 1)
        return real_take(messages, max_events)

    async def recorded(nc: Any, messages: Any, **options: Any) -> Any:
        ack = await real_publish(nc, messages, **options)
        happened.append(("batch", [row_of[m.headers["Nats-Msg-Id"]] for m in messages]))
        return ack

    async def saving(self: Relay, conn: Any, position: int) -> None:
        await real_save(self, conn, position)
        happened.append(("position", [position]))

    monkeypatch.setattr(relay_module, "take", three_a_batch)
    monkeypatch.setattr(relay_module, "publish_batch", recorded)
    monkeypatch.setattr(Relay, "_save_position", saving)
    await relay_everything(server.url, app, database_url, [e for _, e in rows])
    batches = [ids for kind, ids in happened if kind == "batch"]
    assert [len(b) for b in batches[1:]] == [3] * 13, batches  # after the probe of one
    for index, (kind, ids) in enumerate(happened):
        if kind != "batch":
            continue
        position = happened[index + 1]
        assert position[0] == "position", happened[index : index + 2]
        later = [b[0] for b in batches if b[0] > ids[-1]]
        # Past the batch's last event, and before the first event it left.
        assert ids[-1] < position[1][0] == (later[0] - 1 if later else last_row)
    assert saved_position(database_url, "deployer") == last_row


async def test_two_relays_the_killed_leader_is_replaced_and_nothing_doubles(
    database_url: str, nats_factory: Callable[..., EmbeddedNats], tmp_path: Path
) -> None:
    server = nats_factory()
    await prepare(server.url)
    app = journal_app(database_url, "deployer")
    journal = app.start("dep-2")
    await asyncio.to_thread(app.append, journal, 20)
    a_log, b_log = tmp_path / "a", tmp_path / "b"
    marks = "relay.leader_acquired:mark,relay.lock_busy:mark,relay.duplicate_acked:mark"
    a = start_relay(
        database_url,
        "deployer",
        server.url,
        fault=f"{marks},relay.after_publish_before_position@8:pause",
        ready=a_log,
    )
    relays = [a]
    try:
        await wait_marker(a_log, "relay.leader_acquired mark", a)
        b = start_relay(database_url, "deployer", server.url, fault=marks, ready=b_log)
        relays.append(b)
        await wait_marker(b_log, "relay.lock_busy mark", b)  # both run; b waits for the lock
        for batch in range(1, 4):
            await asyncio.to_thread(app.append, journal, 10, batch * 100)
        # a, the proven leader, stops with its 8th batch acked but its position not saved
        await wait_marker(a_log, "relay.after_publish_before_position pause", a)
        assert f"relay.leader_acquired mark {b.pid}" not in markers(b_log)
        a.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(a.wait, 20) == -signal.SIGKILL
        await asyncio.to_thread(app.append, journal, 20, 1000)
        await wait_marker(b_log, "relay.leader_acquired mark", b)  # b took over
        expected = await wait_relayed(app, database_url, "deployer")
        assert await streamed_ids(server.url) == expected
        assert f"relay.duplicate_acked mark {b.pid}" in markers(b_log)  # b re-sent that batch
    finally:
        for relay in relays:
            stop_relay(relay)


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
