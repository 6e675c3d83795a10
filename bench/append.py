"""Store append beside its baselines, all on the same embedded PostgreSQL (fsync on,
synchronous_commit on: every row waits for its own WAL flush, as a durable save must).

The variants run in interleaved rounds and each row is the median of its rounds, so load
from other processes on the machine hits every row alike. Rows:

* baseline: a raw asyncpg INSERT loop, one row per commit (the issue's baseline);
* baseline: raw asyncpg with what an ordered, notified append adds (the table lock and a
  NOTIFY in the same transaction, through a function: one round trip);
* the same INSERT with ``synchronous_commit = off`` (not durable, not a baseline): how much
  of each commit is the wait for the disk, the floor every durable row shares;
* aggregate saves of one event each, and of ten events each (one transaction per save).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import asyncpg

from bench.ingest import Row
from tests.support.relay_app import Journal, JournalApp

ROUNDS = 3
PER_SAVE = 10

_SETUP = """
CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, body bytea NOT NULL);
CREATE OR REPLACE FUNCTION bench_raw_ordered(b bytea) RETURNS SETOF bigint LANGUAGE plpgsql AS
$$BEGIN
    LOCK TABLE bench_raw IN EXCLUSIVE MODE;
    NOTIFY bench_raw;
    RETURN QUERY INSERT INTO bench_raw (body) VALUES (b) RETURNING id;
END;$$;
"""


async def _raw(dsn: str, count: int, statement: str, durable: bool = True) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        if not durable:
            await conn.execute("SET synchronous_commit = off")
        prepared = await conn.prepare(statement)
        body = b"x" * 400  # about the size of a stored event's state
        started = time.perf_counter()
        for _ in range(count):
            await prepared.fetch(body)
        return count / (time.perf_counter() - started)
    finally:
        await conn.close()


def _saves(app: JournalApp, count: int, per_save: int) -> float:
    """``count`` events, ``per_save`` per save, the aggregate kept in memory (as a command
    handler would); the rate is events per second."""
    journal = Journal("bench")
    app.save(journal)
    started = time.perf_counter()
    for n in range(0, count, per_save):
        for k in range(per_save):
            journal.write(n + k)
        app.save(journal)
    return count / (time.perf_counter() - started)


async def run_append(dsn: str, app: JournalApp, batch_app: JournalApp, count: int) -> list[Row]:
    """Rows for "store append"; ``app`` keeps the one-event saves (the relay's input),
    ``batch_app`` (another schema) the ten-event ones."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(_SETUP)
    finally:
        await conn.close()
    per_round = max(count // ROUNDS, PER_SAVE)
    variants: dict[str, Callable[[], Awaitable[float]]] = {
        "baseline: raw asyncpg INSERT loop, one row per commit": lambda: _raw(
            dsn, per_round, "INSERT INTO bench_raw (body) VALUES ($1) RETURNING id"
        ),
        "baseline: raw asyncpg, + table lock + NOTIFY per commit": lambda: _raw(
            dsn, per_round, "SELECT * FROM bench_raw_ordered($1)"
        ),
        "(not durable) raw INSERT, synchronous_commit off": lambda: _raw(
            dsn, per_round, "INSERT INTO bench_raw (body) VALUES ($1) RETURNING id", False
        ),
        "aggregate save, one event each": lambda: asyncio.to_thread(_saves, app, per_round, 1),
        f"aggregate save, {PER_SAVE} events each (per event)": lambda: asyncio.to_thread(
            _saves, batch_app, per_round, PER_SAVE
        ),
    }
    rates: dict[str, list[float]] = {what: [] for what in variants}
    for _ in range(ROUNDS):
        for what, run in variants.items():
            rates[what].append(await run())
    return [Row("store append", what, statistics.median(r), 0, 0) for what, r in rates.items()]
