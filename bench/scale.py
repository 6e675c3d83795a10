"""One instance beside two: webhook ingest and API reads on the cluster layout.

A 3-node NATS cluster (replicas 3, as ``hearth up --cluster 3`` runs it), PostgreSQL, two
webhook gateways and two query APIs, each its own process. The same load (signed pushes
answered 202 after the JetStream ack; ``GET /api/v1/targets``; ``concurrency`` clients)
goes first to one instance, then round-robin to both, as a load balancer in front of them
would spread it. The one-instance row is the baseline of the two-instance row.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import asyncpg
import nats

from bench.ingest import CONCURRENCY, SECRET, Row, _wait_ready
from bench.read_side import load, row, wait_projected
from hearth.embedded.nats import EmbeddedNats, cluster_of
from hearth.embedded.postgres import EmbeddedPostgres
from hearth.embedded.process import free_port
from hearth.stack.cluster import declare_replicated
from hearth_events import new_event
from hearth_events.catalogue import TargetRegistered
from hearth_events.jetstream import EVENTS_STREAM
from hearth_events.publish import publish_event
from hearth_query_api.adapters.schema import SCHEMA
from hearth_servicekit.secrets import SecretBox, SecretStore, new_secret_key, scope_key
from tests.support.github import delivery_headers, encode, push_payload, sha
from tests.support.history import spec

TARGETS = 20


def start(module: str, env: dict[str, str], work: Path, label: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", module],
        env={
            **os.environ,
            "HEARTH_LOG_LEVEL": "warning",
            "HEARTH_INSTANCE": label,
            "HEARTH_DATA_DIR": str(work / label),
            **env,
        },
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _accepted(port: int, seed: str) -> bool:
    body = encode(push_payload("bench/home", before=sha(f"{seed}b"), after=sha(f"{seed}a")))
    url = f"http://127.0.0.1:{port}/webhooks/github"
    headers = delivery_headers("push", body, SECRET)
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status == 202


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


def _instances(used: list[int], noun: str) -> str:
    return f"{len(used)} {noun}{'s' * (len(used) > 1)}"


async def _ingest(
    http: aiohttp.ClientSession, used: list[int], count: int, concurrency: int
) -> Row:
    """``count`` distinct signed pushes, spread round-robin over the gateways ``used``."""
    urls = itertools.cycle(f"http://127.0.0.1:{p}/webhooks/github" for p in used)
    seeds = iter(range(count))
    run = len(used)

    async def one() -> None:
        i = next(seeds)
        payload = push_payload("bench/home", before=sha(f"{run}b{i}"), after=sha(f"{run}a{i}"))
        body = encode(payload)
        headers = delivery_headers("push", body, SECRET)
        async with http.post(next(urls), data=body, headers=headers) as reply:
            assert reply.status == 202, await reply.text()

    rate, latencies = await load(one, count, concurrency)
    return row(
        "ingest, instances", f"signed push -> 202, {_instances(used, 'gateway')}", rate, latencies
    )


async def _read(
    http: aiohttp.ClientSession, used: list[int], requests: int, concurrency: int
) -> Row:
    urls = itertools.cycle(f"http://127.0.0.1:{p}/api/v1/targets" for p in used)

    async def one() -> None:
        async with http.get(next(urls)) as reply:
            assert reply.status == 200, await reply.text()
            await reply.read()

    await load(one, min(requests, 50), concurrency)  # warm every instance
    rate, latencies = await load(one, requests, concurrency)
    what = f"GET /api/v1/targets, {_instances(used, 'query API')}"
    return row("API, instances", what, rate, latencies)


async def ingest_rows(ports: list[int], count: int, concurrency: int) -> list[Row]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        return [await _ingest(http, used, count, concurrency) for used in (ports[:1], ports)]


async def api_rows(ports: list[int], token: str, requests: int, concurrency: int) -> list[Row]:
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as http:
        return [await _read(http, used, requests, concurrency) for used in (ports[:1], ports)]


async def run_scale(
    webhooks: int = 2000, requests: int = 3000, concurrency: int = CONCURRENCY
) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="hearth-bench-scale-"))
    nodes: list[EmbeddedNats] = cluster_of(
        work / "nats", [free_port() for _ in range(3)], [free_port() for _ in range(3)]
    )
    postgres = EmbeddedPostgres(work / "pg", port=free_port())
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for node in nodes:
            node.start()
        postgres.start()
        url = ",".join(node.url for node in nodes)
        nc = await nats.connect([node.url for node in nodes])
        js = nc.jetstream(timeout=10)
        await declare_replicated(js, 3)
        key = new_secret_key()
        await SecretStore(js, SecretBox.for_scope(key, "webhook-gw")).put("bench", SECRET)
        gateways, apis = [free_port(), free_port()], [free_port(), free_port()]
        for n, port in enumerate(gateways, start=1):
            env = {
                "HEARTH_NATS_URL": url,
                "HEARTH_HTTP_PORT": str(port),
                "HEARTH_SCOPE_KEY": scope_key(key, "webhook-gw"),
                "HEARTH_WEBHOOK_IN_FLIGHT": str(concurrency),
            }
            processes.append(start("hearth_webhook_gw", env, work, f"webhook-gw-{n}"))
        for n, port in enumerate(apis, start=1):
            env = {
                "HEARTH_NATS_URL": url,
                "HEARTH_HTTP_PORT": str(port),
                "HEARTH_DATABASE_URL": postgres.dsn(),
            }
            processes.append(start("hearth_query_api", env, work, f"query-api-{n}"))
        for port in gateways + apis:
            await _wait_ready(port, timeout=90)
        repositories = {
            "repositories": [
                {"name": "bench/home", "url": "file:///nowhere", "webhook_secret": "bench"}
            ]
        }
        reply = await nc.request(
            "hearth.cmd.git.ApplyRepositories", json.dumps(repositories).encode(), timeout=30
        )
        assert json.loads(reply.data)["ok"], reply.data
        for port in gateways:  # each gateway learns the repository from the stream
            await _until(lambda port=port: _accepted(port, f"warm{port}"))  # type: ignore[misc]
        reply = await nc.request(
            "hearth.cmd.query.CreateToken",
            json.dumps({"name": "bench", "role": "admin"}).encode(),
            timeout=30,
        )
        token = json.loads(reply.data)["token"]
        for n in range(TARGETS):
            name = f"target-{n:02}"
            data = TargetRegistered(target=name, spec=spec(name))
            await publish_event(js, new_event(data, source="bench", actor="hearth apply"))
        pool = await asyncpg.create_pool(
            postgres.dsn(), min_size=1, max_size=2, server_settings={"search_path": SCHEMA}
        )
        await wait_projected(pool, (await js.stream_info(EVENTS_STREAM)).state.last_seq)
        await pool.close()
        await nc.close()
        rows = await ingest_rows(gateways, webhooks, concurrency)
        return rows + await api_rows(apis, token, requests, concurrency)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(20)
            if process.poll() is None:
                process.kill()
                process.wait()
        for node in nodes:
            node.stop()
        postgres.stop(mode="immediate")
        shutil.rmtree(work, ignore_errors=True)
