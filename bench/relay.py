"""The event store and the relay, each beside its baseline in the same run:

* store append: aggregate saves beside raw asyncpg inserts (see bench.append);
* relay: events/s from the store to JetStream-acked, beside raw nats-py publishing,
  pipelined, of the same number of messages: :data:`PASSES` passes of each, alternated
  (each relay pass has fresh events to relay), the median of each, so a machine whose
  speed drifts within the run slows both alike.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import nats

from bench.append import run_append, saves
from bench.ingest import Row, raw_publish
from hearth.embedded.nats import EmbeddedNats
from hearth.embedded.postgres import EmbeddedPostgres
from hearth.embedded.process import free_port
from hearth_events.jetstream import STREAMS, ensure
from hearth_eventstore.batches import MAX_EVENTS
from hearth_eventstore.relay import Relay
from tests.support.relay_app import JournalApp, journal_app

#: Relay passes, each followed by a baseline pass.
PASSES = 3


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
        await ensure(nc.jetstream(), streams=tuple(STREAMS))
        await nc.close()
        more = saves(app, 1)  # the next pass's events, written before it (not timed)
        relayed: list[tuple[float, float]] = []
        published: list[Row] = []
        for n in range(PASSES):
            if n:
                await more(count)
            relayed.append(await _relay_pass(app, dsn, server.url))
            published.append(await raw_publish(server.url, [b"x" * 400] * count, f"raw{n}"))
        rate, leading_ms = sorted(relayed)[PASSES // 2]
        baseline = sorted(published, key=lambda row: row.rate)[PASSES // 2]
        return [
            *append_rows,
            Row(
                "relay",
                "baseline: "
                + baseline.what.removeprefix("baseline: ")
                + f" (the median of {PASSES}: {_rates(r.rate for r in published)})",
                baseline.rate,
                baseline.p50_ms,
                baseline.p99_ms,
            ),
            Row(
                "relay",
                f"store -> JetStream acked, atomic batches of <= {MAX_EVENTS}, position per "
                f"batch (timed from leading, {leading_ms:.0f} ms after its start; the median "
                f"of {PASSES}, each before a baseline's: {_rates(r for r, _ in relayed)})",
                rate,
                0,
                0,
            ),
        ]
    finally:
        server.stop()
        postgres.stop(mode="immediate")
        shutil.rmtree(workdir, ignore_errors=True)


async def _relay_pass(app: JournalApp, dsn: str, url: str) -> tuple[float, float]:
    """Relay every event the store holds past the relay's position; events/s, and how
    long the relay took to lead (its PostgreSQL connection, advisory lock and LISTEN)."""
    nc = await nats.connect(url)
    try:
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
        rate = relay.published / (time.perf_counter() - started)
        stop.set()
        await task
        return rate, (started - began) * 1000
    finally:
        await nc.close()


def _rates(rates: Iterable[float]) -> str:
    return ", ".join(f"{rate:,.0f}" for rate in rates)
