"""The read side against the real query API process, each beside its baseline in one run:

* catch-up: a history of ``events`` deployment events published and projected into
  PostgreSQL at once, then a backlog of half as many projected by a query API started
  after it came in, each beside a raw JetStream consumer reading the same stream;
* live lag at ``rate`` events/s sustained: publish → projected → on the SSE feed, beside
  publish → delivered to a raw JetStream subscriber, for the same events at the same time;
* API under ``concurrency`` concurrent clients on loopback: the targets list (the
  overview), the deployments list and the dashboard's overview page, beside the asyncpg
  query behind each list run with the same concurrency;
* rebuild: ``hearth projections rebuild`` of the whole stream, beside the raw consume.

The history is realistic (tests/support/history.py): 20 targets, deployments of about a
dozen events each with plan, diff, backup and log lines.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import nats
from nats.js.api import DeliverPolicy

from bench.ingest import Row, _percentile, _wait_ready
from hearth.embedded.nats import EmbeddedNats
from hearth.embedded.postgres import EmbeddedPostgres
from hearth.embedded.process import free_port
from hearth_events import Envelope, EventData, new_event
from hearth_events.catalogue import TargetRegistered
from hearth_events.jetstream import BUCKETS, EVENTS_STREAM, STREAMS, ensure
from hearth_events.publish import publish_event
from hearth_query_api.adapters.schema import SCHEMA
from hearth_query_api.entrypoints.api.deployments import LIST_COLUMNS
from tests.support.github import sha
from tests.support.history import deployment, spec

TARGETS = 20
PIPELINE = 256


def history(count: int, first_deployment: int = 0) -> list[Envelope]:
    """About ``count`` events: deployments round-robin over the targets, mostly good."""
    found: list[Envelope] = []
    n = first_deployment
    while len(found) < count:
        target = f"target-{n % TARGETS:02}"
        outcome = "failed" if n % 17 == 0 else "ok"
        for data in deployment(n, target, sha(f"c{n}"), outcome):
            found.append(new_event(data, source="bench", actor="github:alice"))
        n += 1
    return found[:count]


async def publish_all(js: Any, envelopes: list[Envelope]) -> None:
    for start in range(0, len(envelopes), PIPELINE):
        await asyncio.gather(*(publish_event(js, e) for e in envelopes[start : start + PIPELINE]))


async def raw_consume(js: Any, count: int) -> float:
    """Seconds for an ordered consumer to read the first ``count`` messages of the stream."""
    started = time.perf_counter()
    subscription = await js.subscribe("hearth.evt.>", ordered_consumer=True)
    for _ in range(count):
        await subscription.next_msg(timeout=10)
    elapsed = time.perf_counter() - started
    await subscription.unsubscribe()
    return elapsed


async def projected(pool: Any) -> int:
    position: int = await pool.fetchval("SELECT position FROM projection_position")
    return position


async def wait_projected(pool: Any, seq: int, timeout: float = 900) -> None:
    async with asyncio.timeout(timeout):
        while await projected(pool) < seq:
            await asyncio.sleep(0.02)


async def load(
    one: Callable[[], Awaitable[None]], requests: int, concurrency: int
) -> tuple[float, list[float]]:
    """requests/s and latencies of ``requests`` calls, ``concurrency`` at a time."""
    latencies: list[float] = []
    remaining = iter(range(requests))

    async def worker() -> None:
        for _ in remaining:
            started = time.perf_counter()
            await one()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return requests / (time.perf_counter() - started), latencies


def row(benchmark: str, what: str, rate: float, latencies: list[float]) -> Row:
    return Row(benchmark, what, rate, _percentile(latencies, 50), _percentile(latencies, 99))


async def api_rows(url: str, token: str, pool: Any, requests: int, concurrency: int) -> list[Row]:
    found = []
    headers = {"Authorization": f"Bearer {token}"}
    jar = aiohttp.CookieJar(unsafe=True)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(headers=headers, cookie_jar=jar, connector=connector) as http:
        async with http.post(f"{url}/login", data={"token": token}) as reply:
            assert reply.status == 200, await reply.text()

        def getter(path: str) -> Callable[[], Awaitable[None]]:
            async def one() -> None:
                async with http.get(url + path) as reply:
                    assert reply.status == 200, await reply.text()
                    await reply.read()

            return one

        def query(sql: str) -> Callable[[], Awaitable[None]]:
            async def one() -> None:
                await pool.fetch(sql)

            return one

        cases = [
            ("targets list", "/api/v1/targets", "SELECT * FROM targets ORDER BY name"),
            (
                "deployments list",
                "/api/v1/deployments",
                f"SELECT {LIST_COLUMNS} FROM deployments ORDER BY seq DESC LIMIT 51",
            ),
        ]
        for name, path, sql in cases:
            await load(getter(path), 50, concurrency)  # warm both
            await load(query(sql), 50, concurrency)
            rate, lat = await load(query(sql), requests, concurrency)
            found.append(row(f"API: {name}", "baseline: the asyncpg query behind it", rate, lat))
            rate, lat = await load(getter(path), requests, concurrency)
            found.append(row(f"API: {name}", f"GET {path} (JSON)", rate, lat))
        rate, lat = await load(getter("/"), requests, concurrency)
        found.append(row("API: targets list", "dashboard overview page (HTML)", rate, lat))
    return found


async def sse_seen(url: str, token: str, seen: dict[str, float], ready: asyncio.Event) -> None:
    """Arrival time of every event on the live feed, by event id."""
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        # Every event, log lines included (the feed leaves them out unless asked).
        http.get(f"{url}/api/v1/events/stream?logs=true", headers=headers) as reply,
    ):
        assert reply.status == 200, await reply.text()
        ready.set()
        async for line in reply.content:
            if line.startswith(b"data:"):
                seen[json.loads(line[5:])["event_id"]] = time.perf_counter()


async def sustained(
    nats_url: str, api_url: str, token: str, rate: int, seconds: float, first_deployment: int
) -> list[Row]:
    envelopes = history(int(rate * seconds), first_deployment)
    sent: dict[str, float] = {}
    raw_seen: dict[str, float] = {}
    feed_seen: dict[str, float] = {}
    nc = await nats.connect(nats_url)
    js = nc.jetstream()

    async def on_raw(message: Any) -> None:
        raw_seen[json.loads(message.data)["event_id"]] = time.perf_counter()

    raw = await js.subscribe(
        "hearth.evt.>", cb=on_raw, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
    )
    ready = asyncio.Event()
    feed = asyncio.create_task(sse_seen(api_url, token, feed_seen, ready))
    await asyncio.wait_for(ready.wait(), 30)

    tick = 0.01
    per_tick = max(1, round(rate * tick))
    publishes = []
    started = time.perf_counter()
    for i in range(0, len(envelopes), per_tick):
        due = started + (i // per_tick) * tick
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        for envelope in envelopes[i : i + per_tick]:
            sent[str(envelope.event_id)] = time.perf_counter()
            publishes.append(asyncio.ensure_future(publish_event(js, envelope)))
    await asyncio.gather(*publishes)
    achieved = len(envelopes) / (time.perf_counter() - started)
    async with asyncio.timeout(120):
        while len(feed_seen) < len(envelopes) or len(raw_seen) < len(envelopes):
            await asyncio.sleep(0.05)
    feed.cancel()
    await raw.unsubscribe()
    await nc.close()
    raw_lat = [raw_seen[k] - t for k, t in sent.items()]
    feed_lat = [feed_seen[k] - t for k, t in sent.items()]
    what = f"at {rate}/s for {seconds:.0f} s"
    return [
        row("live lag", f"baseline: publish → raw JetStream subscriber, {what}", achieved, raw_lat),
        row("live lag", f"publish → projected → SSE feed, {what}", achieved, feed_lat),
    ]


def start_query_api(nats_url: str, dsn: str, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hearth_query_api"],
        env={
            **os.environ,
            "HEARTH_NATS_URL": nats_url,
            "HEARTH_DATABASE_URL": dsn,
            "HEARTH_HTTP_PORT": str(port),
            "HEARTH_LOG_LEVEL": "warning",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def run_read_side(
    events: int = 100_000,
    rate: int = 500,
    seconds: float = 20,
    requests: int = 3000,
    concurrency: int = 32,
) -> list[Row]:
    workdir = Path(tempfile.mkdtemp(prefix="hearth-bench-read-"))
    server = EmbeddedNats(workdir / "nats", port=free_port())
    postgres = EmbeddedPostgres(workdir / "pg", port=free_port())
    server.start()
    postgres.start()
    api = None
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await ensure(js, streams=tuple(STREAMS), buckets=tuple(BUCKETS))
        port = free_port()
        api = start_query_api(server.url, postgres.dsn(), port)
        url = f"http://127.0.0.1:{port}"
        await _wait_ready(port)
        reply = await nc.request(
            "hearth.cmd.query.CreateToken",
            json.dumps({"name": "bench", "role": "admin"}).encode(),
            timeout=30,
        )
        token = json.loads(reply.data)["token"]
        pool = await asyncpg.create_pool(
            postgres.dsn(), min_size=10, max_size=10, server_settings={"search_path": SCHEMA}
        )

        targets: list[EventData] = [
            TargetRegistered(target=f"target-{n:02}", spec=spec(f"target-{n:02}"))
            for n in range(TARGETS)
        ]
        past = [new_event(t, source="bench", actor="hearth apply") for t in targets]
        past += history(events - len(past))
        started = time.perf_counter()
        await publish_all(js, past)
        last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
        await wait_projected(pool, last)
        catch_up = time.perf_counter() - started
        raw_read = await raw_consume(js, last)
        rows = [
            Row(
                "catch-up",
                f"baseline: raw JetStream consume of {last:,} events",
                last / raw_read,
                0,
                0,
            ),
            Row(
                "catch-up", f"publish and project {last:,} events (events/s)", last / catch_up, 0, 0
            ),
        ]
        rows += await api_rows(url, token, pool, requests, concurrency)

        reply = await nc.request(
            "hearth.cmd.query.RebuildProjections",
            json.dumps({"actor": "bench"}).encode(),
            timeout=900,
        )
        rebuilt = json.loads(reply.data)
        assert rebuilt["ok"], rebuilt
        rows.append(
            Row("rebuild", f"baseline: raw consume, {raw_read:.1f} s", last / raw_read, 0, 0)
        )
        took = f"{rebuilt['seconds']:.1f} s"
        rows.append(
            Row(
                "rebuild",
                f"hearth projections rebuild of {rebuilt['events']:,} events, {took}",
                rebuilt["events"] / rebuilt["seconds"],
                0,
                0,
            )
        )
        # Catch-up proper: the query API was down while a backlog came in; it starts and
        # projects it, with nothing else running (the baseline reads a backlog too).
        api.terminate()
        api.wait(30)
        backlog = history(events // 2, first_deployment=5 * 10**5)
        await publish_all(js, backlog)
        last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
        before = await projected(pool)
        spawned = time.perf_counter()
        api = start_query_api(server.url, postgres.dsn(), port)
        await wait_projected(pool, before + 1)
        first, started = await projected(pool), time.perf_counter()
        await wait_projected(pool, last)
        projecting = time.perf_counter() - started
        rows.insert(
            2,
            Row(
                "catch-up",
                f"a backlog of {len(backlog):,} events, after the first batch (events/s; "
                f"the process started and projected it in {started - spawned:.1f} s)",
                # (A backlog small enough for one batch: from the start.)
                (last - first) / projecting if last > first else len(backlog) / (started - spawned),
                0,
                0,
            ),
        )
        await _wait_ready(port)
        rows += await sustained(server.url, url, token, rate, seconds, first_deployment=10**6)
        await pool.close()
        await nc.close()
        return rows
    finally:
        if api is not None:
            api.terminate()
            api.wait(30)
        server.stop()
        postgres.stop(mode="immediate")
        shutil.rmtree(workdir, ignore_errors=True)
