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
STEADY_RATE = 200.0


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


class _Connection:
    """One keep-alive HTTP/1.1 connection of a lean client: the bench measures the gateway,
    and aiohttp's client alone tops out near the gateway's rate on two shared cores."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> _Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def post(self, port: int, body: bytes, headers: dict[str, str]) -> int:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(
            f"POST /webhooks/github HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        reply = await self.reader.readexactly(length)
        status = int(status_line.split()[1])
        assert status == 202, reply
        return status

    def close(self) -> None:
        self.writer.close()


async def _post_all(
    port: int, deliveries: list[tuple[bytes, dict[str, str]]], *, per_second: float | None
) -> tuple[float, list[float]]:
    """Send every delivery over CONCURRENCY connections; at most ``per_second`` when given
    (each request scheduled at its own time, so a slow reply does not slow the sender)."""
    latencies: list[float] = []
    queue: asyncio.Queue[tuple[int, bytes, dict[str, str]]] = asyncio.Queue()
    for i, (body, headers) in enumerate(deliveries):
        queue.put_nowait((i, body, headers))
    connections = [await _Connection.open(port) for _ in range(CONCURRENCY)]
    started = time.perf_counter()

    async def worker(connection: _Connection) -> None:
        while not queue.empty():
            i, body, headers = queue.get_nowait()
            due = started + i / per_second if per_second else 0.0
            if per_second:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            sent = max(due, time.perf_counter()) if per_second else time.perf_counter()
            await connection.post(port, body, headers)
            latencies.append(time.perf_counter() - sent)

    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return elapsed, latencies


async def _webhooks(port: int, deliveries: list[tuple[bytes, dict[str, str]]]) -> Row:
    elapsed, latencies = await _post_all(port, deliveries, per_second=None)
    return Row(
        "webhook ingest",
        f"signed push -> 202 after JetStream ack ({CONCURRENCY} in flight)",
        len(deliveries) / elapsed,
        _percentile(latencies, 50),
        _percentile(latencies, 99),
    )


async def _webhooks_at(port: int, deliveries: list[tuple[bytes, dict[str, str]]]) -> Row:
    _, latencies = await _post_all(port, deliveries, per_second=STEADY_RATE)
    return Row(
        "webhook ingest",
        f"the same at a steady {STEADY_RATE:.0f} req/s (goal: p99 < 20 ms)",
        STEADY_RATE,
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
        deliveries, steady = [], []
        for i in range(count):
            body = encode(push_payload("bench/home", before=sha(f"b{i}"), after=sha(f"a{i}")))
            deliveries.append((body, delivery_headers("push", body, SECRET)))
        for i in range(min(count, int(STEADY_RATE * 5))):  # five seconds of it at most
            body = encode(push_payload("bench/home", before=sha(f"s{i}"), after=sha(f"t{i}")))
            steady.append((body, delivery_headers("push", body, SECRET)))
        webhook_row = await _webhooks(port, deliveries)
        raw_row = await raw_publish(server.url, [body for body, _ in deliveries])
        steady_row = await _webhooks_at(port, steady)
        return [raw_row, webhook_row, steady_row]
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.wait(20)
        server.stop()
