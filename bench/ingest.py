"""Webhook ingest: signed GitHub pushes accepted (202 after the JetStream ack) per second,
beside raw nats-py JetStream publishing of the same number of messages, pipelined."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import nats

from hearth.embedded.nats import EmbeddedNats
from hearth.embedded.process import free_port
from hearth_events.jetstream import BUCKETS, STREAMS, ensure
from hearth_servicekit.secrets import SecretBox, SecretStore, new_secret_key, scope_key
from tests.support.github import delivery_headers, encode, push_payload, sha

CONCURRENCY = 32
SECRET = b"bench-webhook-secret"


@dataclass(frozen=True)
class Row:
    benchmark: str
    what: str
    rate: float
    p50_ms: float
    p99_ms: float


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 1 else 0.0


async def raw_publish(url: str, bodies: list[bytes]) -> Row:
    nc = await nats.connect(url)
    js = nc.jetstream()
    latencies: list[float] = []

    async def one(i: int, body: bytes) -> None:
        started = time.perf_counter()
        await js.publish(
            f"hearth.evt.git.PushReceived.bench{i % 16}", body, headers={"Nats-Msg-Id": f"raw-{i}"}
        )
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    for chunk in range(0, len(bodies), CONCURRENCY * 8):
        await asyncio.gather(
            *(one(i, b) for i, b in enumerate(bodies[chunk : chunk + CONCURRENCY * 8], start=chunk))
        )
    elapsed = time.perf_counter() - started
    await nc.close()
    return Row(
        "webhook ingest",
        "baseline: raw nats-py js.publish, pipelined",
        len(bodies) / elapsed,
        _percentile(latencies, 50),
        _percentile(latencies, 99),
    )


async def _webhooks(port: int, deliveries: list[tuple[bytes, dict[str, str]]]) -> Row:
    latencies: list[float] = []
    limit = asyncio.Semaphore(CONCURRENCY)
    url = f"http://127.0.0.1:{port}/webhooks/github"
    async with aiohttp.ClientSession() as session:

        async def one(body: bytes, headers: dict[str, str]) -> None:
            async with limit:
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    assert response.status == 202, await response.text()
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one(b, h) for b, h in deliveries))
        elapsed = time.perf_counter() - started
    return Row(
        "webhook ingest",
        f"signed push -> 202 after JetStream ack ({CONCURRENCY} in flight)",
        len(deliveries) / elapsed,
        _percentile(latencies, 50),
        _percentile(latencies, 99),
    )


async def _wait_ready(port: int, timeout: float = 30) -> None:
    async with aiohttp.ClientSession() as session, asyncio.timeout(timeout):
        while True:
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)


async def run_ingest(count: int) -> list[Row]:
    workdir = Path(tempfile.mkdtemp(prefix="hearth-bench-"))
    server = EmbeddedNats(workdir / "nats", port=free_port())
    server.start()
    key = new_secret_key()
    gateway = None
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await ensure(js, streams=tuple(STREAMS), buckets=tuple(BUCKETS))
        await SecretStore(js, SecretBox.for_scope(key, "webhook-gw")).put("bench", SECRET)
        await nc.close()
        port = free_port()
        gateway = subprocess.Popen(
            [sys.executable, "-m", "hearth_webhook_gw"],
            env={
                **os.environ,
                "HEARTH_NATS_URL": server.url,
                "HEARTH_HTTP_PORT": str(port),
                "HEARTH_SCOPE_KEY": scope_key(key, "webhook-gw"),
                "HEARTH_LOG_LEVEL": "warning",
                # As many in flight as the bench sends (the default of 4 answers 503 beyond).
                "HEARTH_WEBHOOK_IN_FLIGHT": str(CONCURRENCY),
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await _wait_ready(port)
        nc = await nats.connect(server.url)
        reply = await nc.request(
            "hearth.cmd.git.ApplyRepositories",
            json.dumps(
                {
                    "repositories": [
                        {"name": "bench/home", "url": "file:///nowhere", "webhook_secret": "bench"}
                    ]
                }
            ).encode(),
            timeout=30,
        )
        assert json.loads(reply.data)["ok"], reply.data
        await nc.close()
        deliveries = []
        for i in range(count):
            body = encode(push_payload("bench/home", before=sha(f"b{i}"), after=sha(f"a{i}")))
            deliveries.append((body, delivery_headers("push", body, SECRET)))
        webhook_row = await _webhooks(port, deliveries)
        raw_row = await raw_publish(server.url, [body for body, _ in deliveries])
        return [raw_row, webhook_row]
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.wait(20)
        server.stop()
