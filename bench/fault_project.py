"""Projector trials: a real query-api process SIGKILLs itself at a projection point, a
clean one catches up, and its read models must equal a rebuild from the stream.

Each trial gets a fresh events stream and a fresh database (the rebuild replays only that
trial's events). A random part of a realistic history (tests.support.history) is in the
stream when the armed process starts, so its first batch dies at the point; the rest
arrives while it is dead. After the clean process projected the last event: every event
is in the ``events`` table exactly once, and a rebuild (``hearth projections rebuild``,
the real command) changes no row of any read model.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import psycopg
from nats.js.errors import NotFoundError

from bench.fault_tools import Trial, wait_until
from bench.warm import ForkServer, fork_server
from hearth_events.jetstream import EVENTS_STREAM, STREAMS, ensure
from hearth_events.publish import publish_event
from hearth_query_api.adapters.schema import READ_TABLES, SCHEMA
from hearth_servicekit.faults import FAULT_ENV, READY_ENV
from tests.conftest import with_database
from tests.support.history import history

TIMEOUT_S = 60.0


@dataclass
class ProjectBench:
    nats_url: str
    admin_dsn: str
    pool: ForkServer
    work: Path
    nc: Any = None

    async def close(self) -> None:
        self.pool.close()
        await self.nc.close()


async def open_project_bench(nats_url: str, admin_dsn: str, work: Path) -> ProjectBench:
    work.mkdir(parents=True, exist_ok=True)
    pool = fork_server("hearth_query_api", work, "query-api-faults")
    return ProjectBench(nats_url, admin_dsn, pool, work, await nats.connect(nats_url))


def _connect(dsn: str) -> psycopg.Connection[Any]:
    return psycopg.connect(dsn, options=f"-c search_path={SCHEMA}")


def _dump(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    with _connect(dsn) as conn:
        return {
            table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in READ_TABLES
        }


def _position(dsn: str) -> int:
    with (
        contextlib.suppress(psycopg.Error),
        _connect(dsn) as conn,
    ):
        row = conn.execute("SELECT position FROM projection_position WHERE name = 'main'")
        found = row.fetchone()
        return int(found[0]) if found else -1
    return -1


def _event_ids(dsn: str) -> list[str]:
    with _connect(dsn) as conn:
        return [str(r[0]) for r in conn.execute("SELECT event_id FROM events").fetchall()]


async def project_trial(bench: ProjectBench, n: int, point: str, rng: random.Random) -> Trial:
    began = time.monotonic()
    js = bench.nc.jetstream()
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(EVENTS_STREAM)
    await ensure(js, streams=tuple(STREAMS))
    name = f"faults_project_{n}"
    with psycopg.connect(bench.admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = with_database(bench.admin_dsn, name)
    events = history()
    early = rng.randint(1, len(events))
    for envelope in events[:early]:
        await publish_event(js, envelope)
    env = {"HEARTH_NATS_URL": bench.nats_url, "HEARTH_DATABASE_URL": dsn}
    marker = bench.work / f"marker-{n}"
    armed = bench.pool.start({**env, FAULT_ENV: f"{point}:kill", READY_ENV: str(marker)})
    code = await asyncio.to_thread(armed.wait, TIMEOUT_S)
    hit = code == -signal.SIGKILL and marker.read_text() == f"{point} kill {armed.pid}\n"
    armed.stop()
    for envelope in events[early:]:
        await publish_event(js, envelope)
    clean = bench.pool.start(env)
    other: list[str] = []
    try:
        if not await wait_until(lambda: asyncio.to_thread(clean.ready), TIMEOUT_S):
            other.append("the clean query-api never got ready")
        last = (await js.stream_info(EVENTS_STREAM)).state.last_seq

        async def caught_up() -> bool:
            return bool(await asyncio.to_thread(_position, dsn) == last)

        if not await wait_until(caught_up, TIMEOUT_S):
            other.append("never caught up with the stream")
        ids = await asyncio.to_thread(_event_ids, dsn)
        wanted = {str(e.event_id) for e in events}
        lost = len(wanted - set(ids))
        duplicated = len(ids) - len(set(ids))
        live = await asyncio.to_thread(_dump, dsn)
        reply = await bench.nc.request(
            "hearth.cmd.query.RebuildProjections", json.dumps({"actor": "bench"}).encode(), 60
        )
        if not json.loads(reply.data).get("ok", True):
            other.append(f"rebuild refused: {reply.data[:200]!r}")
        half = int(await asyncio.to_thread(_dump, dsn) != live)
    finally:
        clean.stop()
        with psycopg.connect(bench.admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    seconds = time.monotonic() - began
    return Trial("project", point, hit, lost, duplicated, half, tuple(other), seconds)
