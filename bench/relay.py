"""The event store and the relay, each beside its baseline in the same run:

* store append: aggregate saves/s (one event each) beside a raw psycopg insert loop;
* relay: events/s from the store to JetStream-acked, beside raw nats-py publishing,
  pipelined, of the same number of messages.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import nats
import psycopg

from bench.ingest import Row, raw_publish
from hearth.embedded.nats import EmbeddedNats
from hearth.embedded.postgres import EmbeddedPostgres
from hearth.embedded.process import free_port
from hearth_events.jetstream import STREAMS, ensure
from hearth_eventstore.batches import MAX_EVENTS
from hearth_eventstore.relay import Relay
from tests.support.relay_app import Journal, JournalApp, journal_app


def _append(app: JournalApp, count: int) -> float:
    """One save per event, the aggregate kept in memory (as a command handler would)."""
    journal = Journal("bench")
    app.save(journal)
    started = time.perf_counter()
    for n in range(count):
        journal.write(n)
        app.save(journal)
    return count / (time.perf_counter() - started)


def _raw_inserts(dsn: str, count: int) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, body bytea NOT NULL)"
        )
        body = b"x" * 400
        started = time.perf_counter()
        for _ in range(count):
            conn.execute("INSERT INTO bench_raw (body) VALUES (%s)", (body,))
        return count / (time.perf_counter() - started)


async def run_relay(count: int) -> list[Row]:
    workdir = Path(tempfile.mkdtemp(prefix="hearth-bench-"))
    server = EmbeddedNats(workdir / "nats", port=free_port())
    postgres = EmbeddedPostgres(workdir / "pg", port=free_port())
    server.start()
    postgres.start()
    try:
        dsn = postgres.dsn()
        app = await asyncio.to_thread(journal_app, dsn, "bench")
        append_rate = await asyncio.to_thread(_append, app, count)
        insert_rate = await asyncio.to_thread(_raw_inserts, dsn, count)

        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await ensure(js, streams=tuple(STREAMS))
        relay = Relay(app, dsn, nc, source="bench", poll_s=0.01)
        stop = asyncio.Event()
        head = await asyncio.to_thread(app.recorder.max_notification_id) or 0
        started = time.perf_counter()
        task = asyncio.create_task(relay.run(stop))
        while relay.position < head:
            await asyncio.sleep(0.005)
        relay_rate = relay.published / (time.perf_counter() - started)
        stop.set()
        await task
        await nc.close()
        baseline = await raw_publish(server.url, [b"x" * 400] * count)
        return [
            Row("store append", "baseline: raw psycopg INSERT loop", insert_rate, 0, 0),
            Row(
                "store append", "aggregate save, one event each (eventsourcing)", append_rate, 0, 0
            ),
            Row(
                "relay",
                "baseline: " + baseline.what.removeprefix("baseline: "),
                baseline.rate,
                baseline.p50_ms,
                baseline.p99_ms,
            ),
            Row(
                "relay",
                f"store -> JetStream acked, atomic batches of <= {MAX_EVENTS}, position per batch",
                relay_rate,
                0,
                0,
            ),
        ]
    finally:
        server.stop()
        postgres.stop(mode="immediate")
