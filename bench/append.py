"""Store append beside its baselines, all on the same embedded PostgreSQL (fsync on,
synchronous_commit on: every row waits for its own WAL flush, as a durable save must).

The variants take turns in chunks of ``CHUNK`` events and each row's rate is its events
over the sum of its chunks' times, so load from other processes on the machine (which
changes the commit time fivefold within seconds here) hits every row alike. Rows:

* baseline: a raw asyncpg INSERT loop, one row per commit (the issue's baseline);
* baseline: raw asyncpg with what an ordered, notified append adds (the table lock and a
  NOTIFY in the same transaction, through a function: one round trip);
* the same INSERT with ``synchronous_commit = off`` (not durable, not a baseline): how much
  of each commit is the wait for the disk, the floor every durable row shares;
* aggregate saves of one event each, and of ten events each (one transaction per save).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import asyncpg

from bench.ingest import Row
from tests.support.relay_app import Journal, JournalApp

CHUNK = 50
PER_SAVE = 10

_SETUP = """
CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, body bytea NOT NULL);
CREATE TABLE IF NOT EXISTS bench_raw_lax (id bigserial PRIMARY KEY, body bytea NOT NULL);
CREATE OR REPLACE FUNCTION bench_raw_ordered(b bytea) RETURNS SETOF bigint LANGUAGE plpgsql AS
$$BEGIN
    LOCK TABLE bench_raw IN EXCLUSIVE MODE;
    NOTIFY bench_raw;
    RETURN QUERY INSERT INTO bench_raw (body) VALUES (b) RETURNING id;
END;$$;
"""
_INSERT = "INSERT INTO bench_raw (body) VALUES ($1) RETURNING id"
_BODY = b"x" * 400  # about the size of a stored event's state

Chunk = Callable[[int], Awaitable[float]]


async def _raw(conn: asyncpg.Connection, statement: str) -> Chunk:
    prepared = await conn.prepare(statement)

    async def chunk(count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            await prepared.fetch(_BODY)
        return time.perf_counter() - started

    return chunk


def saves(app: JournalApp, per_save: int) -> Chunk:
    """Saves of ``per_save`` events each, the aggregate kept in memory (as a command
    handler would)."""
    journal = Journal("bench")
    app.save(journal)
    written = 0

    def run(count: int) -> float:
        nonlocal written
        started = time.perf_counter()
        for _ in range(0, count, per_save):
            for _ in range(per_save):
                journal.write(written)
                written += 1
            app.save(journal)
        return time.perf_counter() - started

    async def chunk(count: int) -> float:
        return await asyncio.to_thread(run, count)

    return chunk


async def run_append(dsn: str, app: JournalApp, batch_app: JournalApp, count: int) -> list[Row]:
    """Rows for "store append"; ``app`` keeps the one-event saves (the relay's input),
    ``batch_app`` (another schema) the ten-event ones."""
    durable, lax = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        await durable.execute(_SETUP)
        await lax.execute("SET synchronous_commit = off")
        variants: dict[str, Chunk] = {
            "baseline: raw asyncpg INSERT loop, one row per commit": await _raw(durable, _INSERT),
            "baseline: raw asyncpg, + table lock + NOTIFY per commit": await _raw(
                durable, "SELECT * FROM bench_raw_ordered($1)"
            ),
            # Its own table: asyncpg's prepare can leave the statement's lock held until the
            # first execution, and the locking baseline would wait for it.
            "(not durable) raw INSERT, synchronous_commit off": await _raw(
                lax, _INSERT.replace("bench_raw", "bench_raw_lax")
            ),
            "aggregate save, one event each": saves(app, 1),
            f"aggregate save, {PER_SAVE} events each (per event)": saves(batch_app, PER_SAVE),
        }
        took = dict.fromkeys(variants, 0.0)
        chunks = max(count // CHUNK, 1)
        for _ in range(chunks):
            for what, chunk in variants.items():
                took[what] += await chunk(CHUNK)
    finally:
        await durable.close()
        await lax.close()
    return [Row("store append", what, chunks * CHUNK / s, 0, 0) for what, s in took.items()]
