"""The event store and the relay, each beside its baseline in the same run:

* store append: aggregate saves beside raw asyncpg inserts (see bench.append);
* relay: events/s from the store to JetStream-acked, beside raw nats-py publishing,
  pipelined, of the same number of messages.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import nats

from bench.append import run_append
from bench.ingest import Row, raw_publish
from hearth.embedded.nats import EmbeddedNats
from hearth.embedded.postgres import EmbeddedPostgres
from hearth.embedded.process import free_port
from hearth_events.jetstream import STREAMS, ensure
from hearth_eventstore.batches import MAX_EVENTS
from hearth_eventstore.relay import Relay
from tests.support.relay_app import journal_app


async def run_relay(count: int) -> list[Row]:
    workdir = Path(tempfile.mkdtemp(prefix="hearth-bench-relay-"))
    server = EmbeddedNats(workdir / "nats", port=free_port())
    postgres = EmbeddedPostgres(workdir / "pg", port=free_port())
    server.start()
    postgres.start()
    try:
        dsn = postgres.dsn()
        app = await asyncio.to_thread(journal_app, dsn, "bench")
        batch_app = await asyncio.to_thread(journal_app, dsn, "bench_batch")
        append_rows = await run_append(dsn, app, batch_app, count)

        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await ensure(js, streams=tuple(STREAMS))
        relay = Relay(app, dsn, nc, source="bench", poll_s=0.01)
        stop = asyncio.Event()
        head = await asyncio.to_thread(app.recorder.max_notification_id) or 0
        began = time.perf_counter()
        task = asyncio.create_task(relay.run(stop))
        # Timed from when it leads, as the baseline from its first publish: connecting to
        # PostgreSQL, the advisory lock and LISTEN are not relaying (nor is nats.connect).
        await relay.leader.wait()
        started = time.perf_counter()
        while relay.position < head:
            await asyncio.sleep(0.005)
        relay_rate = relay.published / (time.perf_counter() - started)
        leading_ms = (started - began) * 1000
        stop.set()
        await task
        await nc.close()
        baseline = await raw_publish(server.url, [b"x" * 400] * count)
        return [
            *append_rows,
            Row(
                "relay",
                "baseline: " + baseline.what.removeprefix("baseline: "),
                baseline.rate,
                baseline.p50_ms,
                baseline.p99_ms,
            ),
            Row(
                "relay",
                f"store -> JetStream acked, atomic batches of <= {MAX_EVENTS}, position per "
                f"batch (timed from leading, {leading_ms:.0f} ms after its start)",
                relay_rate,
                0,
                0,
            ),
        ]
    finally:
        server.stop()
        postgres.stop(mode="immediate")
        shutil.rmtree(workdir, ignore_errors=True)
