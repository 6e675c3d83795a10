"""Webhook ingest: signed GitHub pushes accepted (202 after the JetStream ack) per second,
beside raw nats-py JetStream publishing of the same number of messages, pipelined."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
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


async def raw_publish(url: str, bodies: list[bytes], ids: str = "raw") -> Row:
    """On a subject of the events stream that no gateway follows: a gateway left running
    would otherwise read every message and take CPU from this row. ``ids``: the messages'
    ``Nats-Msg-Id`` prefix, new for each call on one stream, since JetStream answers a
    repeated id within its duplicate window with an ack and stores nothing (a row that
    measured that would be no baseline: an ack of a duplicate is refused here)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    latencies: list[float] = []

    async def one(i: int, body: bytes) -> None:
        started = time.perf_counter()
        ack = await js.publish(
            f"hearth.evt.bench.Raw.r{i % 16}", body, headers={"Nats-Msg-Id": f"{ids}-{i}"}
        )
        latencies.append(time.perf_counter() - started)
        if ack.duplicate:
            raise RuntimeError(f"message {ids}-{i} was a duplicate: the baseline stored nothing")

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

    async def post(
        self, port: int, body: bytes, headers: dict[str, str], expect: int | None = 202
    ) -> int:
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
        assert expect is None or status == expect, reply
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


def _deliveries(count: int, seed: str) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` distinct signed pushes (a repeated one would be a cheap duplicate)."""
    found = []
    for i in range(count):
        payload = push_payload("bench/home", before=sha(f"{seed}b{i}"), after=sha(f"{seed}a{i}"))
        body = encode(payload)
        found.append((body, delivery_headers("push", body, SECRET)))
    return found


async def _flat_out(port: int, deliveries: list[tuple[bytes, dict[str, str]]], what: str) -> Row:
    elapsed, latencies = await _post_all(port, deliveries, per_second=None)
    return Row(
        "webhook ingest",
        what,
        len(deliveries) / elapsed,
        _percentile(latencies, 50),
        _percentile(latencies, 99),
    )


async def _steady(port: int, deliveries: list[tuple[bytes, dict[str, str]]], what: str) -> Row:
    _, latencies = await _post_all(port, deliveries, per_second=STEADY_RATE)
    return Row(
        "webhook ingest",
        f"{what} at a steady {STEADY_RATE:.0f} req/s (goal: p99 < 20 ms)",
        STEADY_RATE,
        _percentile(latencies, 50),
        _percentile(latencies, 99),
    )


async def _until_every_worker_answers(port: int, workers: int) -> None:
    """Each worker of a shared port takes its own connections, and one still starting
    answers 503: ready once many fresh connections in a row are all answered 202
    (a not-ready worker among ``workers`` escapes 40 of them with odds of ~2**-23)."""
    deliveries = iter(_deliveries(100_000, f"warm{workers}-"))
    async with asyncio.timeout(60):
        while True:
            statuses = []
            for _ in range(40 if workers > 1 else 1):
                body, headers = next(deliveries)
                try:
                    connection = await _Connection.open(port)
                except OSError:  # a worker still binding: none may listen yet
                    statuses.append(0)
                    continue
                try:
                    statuses.append(await connection.post(port, body, headers, expect=None))
                finally:
                    connection.close()
            if set(statuses) == {202}:
                return
            await asyncio.sleep(0.2)


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


class _Fleet:
    """The processes of one bench run: gateway workers and floor servers, stopped at the end."""

    def __init__(self, nats_url: str, key: str) -> None:
        self.nats_url, self.key = nats_url, key
        self.processes: list[subprocess.Popen[bytes]] = []

    def gateway(self, port: int, worker: int, workers: int, log_level: str = "warning") -> None:
        self.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "hearth_webhook_gw"],
                env={
                    **os.environ,
                    "HEARTH_NATS_URL": self.nats_url,
                    "HEARTH_HTTP_PORT": str(port),
                    "HEARTH_SCOPE_KEY": scope_key(self.key, "webhook-gw"),
                    "HEARTH_LOG_LEVEL": log_level,
                    "HEARTH_LOG_FORMAT": "json",
                    "HEARTH_INSTANCE": f"bench-{port}-{worker}",
                    "HEARTH_WEBHOOK_WORKERS": str(workers),
                    "HEARTH_WEBHOOK_WORKER": str(worker),
                    # As many in flight as the bench sends (the default of 4 answers 503 beyond).
                    "HEARTH_WEBHOOK_IN_FLIGHT": str(CONCURRENCY),
                },
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    def floor(self, port: int) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.ingest_floor", self.nats_url, str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
        self.processes.append(process)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(20)
        self.processes.clear()


async def _declare_repository(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
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


def _of_raw(row: Row, raw: Row) -> Row:
    return Row(row.benchmark, f"{row.what} = {row.rate / raw.rate:.2f}x raw", *_numbers(row))


def _numbers(row: Row) -> tuple[float, float, float]:
    return row.rate, row.p50_ms, row.p99_ms


async def run_ingest(count: int) -> list[Row]:
    """Raw publishing (first and last), the floor (bare aiohttp + publish + ack), and the
    gateway as 1, 2 and 3 workers on one port, flat out with CONCURRENCY in flight; p50/p99
    at a steady STEADY_RATE with 1 and 2 workers; one worker logging at info, the default."""
    workdir = Path(tempfile.mkdtemp(prefix="hearth-bench-ingest-"))
    server = EmbeddedNats(workdir / "nats", port=free_port())
    server.start()
    key = new_secret_key()
    fleet = _Fleet(server.url, key)
    steady_count = min(count, int(STEADY_RATE * 5))  # five seconds of it at most
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await ensure(js, streams=tuple(STREAMS), buckets=tuple(BUCKETS))
        await SecretStore(js, SecretBox.for_scope(key, "webhook-gw")).put("bench", SECRET)
        await nc.close()
        body_bytes = [body for body, _ in _deliveries(count, "raw-")]
        raw = await raw_publish(server.url, body_bytes)
        rows = [raw]

        floor_port = free_port()
        for processes in (1, 2):
            fleet.floor(floor_port)
            what = f"floor: bare aiohttp, publish, ack; {_processes(processes)}"
            rows.append(await _flat_out(floor_port, _deliveries(count, f"f{processes}-"), what))

        port = free_port()
        for workers in (1, 2, 3):
            fleet.gateway(port, workers, 3)
            if workers == 1:
                await _wait_ready(port)
                await _declare_repository(server.url)
            await _until_every_worker_answers(port, workers)
            what = f"Hearth: signed push -> 202 after ack, {CONCURRENCY} in flight; " + _workers(
                workers
            )
            rows.append(await _flat_out(port, _deliveries(count, f"g{workers}-"), what))
            if workers < 3:
                steady = _deliveries(steady_count, f"s{workers}-")
                rows.append(await _steady(port, steady, f"Hearth, {_workers(workers)},"))

        fleet.stop()  # idle workers still read the registry: leave the next one alone
        info_port = free_port()
        fleet.gateway(info_port, 1, 1, log_level="info")
        await _wait_ready(info_port)
        await _until_every_worker_answers(info_port, 1)
        what = "Hearth, 1 worker, logging each delivery (info, the default)"
        rows.append(await _flat_out(info_port, _deliveries(count, "i-"), what))

        again = await raw_publish(
            server.url, [body for body, _ in _deliveries(count, "r2-")], ids="raw-again"
        )
        rows.append(Row(again.benchmark, "raw again, after the rest", *_numbers(again)))
        return [rows[0], *(_of_raw(row, raw) for row in rows[1:-1]), rows[-1]]
    finally:
        fleet.stop()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _workers(n: int) -> str:
    return f"{n} worker{'s' * (n > 1)}"


def _processes(n: int) -> str:
    return f"{n} process{'es' * (n > 1)}"
