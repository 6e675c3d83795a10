"""The batch writer gives exactly the tables that running each statement at once gives,
for random sequences of writes and of writes that read other tables, with and without
row keys (a keyed statement touches only the rows of its key, here column ``k``)."""

from __future__ import annotations

import random
from typing import Any

import asyncpg
import pytest

from hearth_query_api.adapters.batch import BatchWriter

pytestmark = pytest.mark.integration

TABLES = ("bw_a", "bw_b", "bw_c")
#: (statement, whether it touches only the rows of key $1)
STATEMENTS = [
    ("INSERT INTO bw_a (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = $2", True),
    ("UPDATE bw_a SET v = v * 2 + $2 WHERE k = $1", True),
    ("INSERT INTO bw_b (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING", True),
    # Writes b from what a holds now: order against every write of a's row matters.
    (
        "UPDATE bw_b SET v = coalesce((SELECT v FROM bw_a WHERE k = $1), -1) + $2 WHERE k = $1",
        True,
    ),
    # Writes c from b and a; the same shape twice in a row makes a run to batch.
    (
        "INSERT INTO bw_c (n, v) VALUES ($1, (SELECT coalesce(sum(v), 0) FROM bw_b) "
        "+ (SELECT count(*) FROM bw_a WHERE v > $2))",
        False,
    ),
    ("UPDATE bw_a SET v = (SELECT count(*) FROM bw_c) WHERE k = $1 AND $2 >= 0", False),
]


async def tables(conn: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t: [tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY 1")] for t in TABLES
    }


async def reset(conn: Any) -> None:
    await conn.execute(
        "DROP TABLE IF EXISTS bw_a, bw_b, bw_c;"
        "CREATE TABLE bw_a (k int PRIMARY KEY, v bigint);"
        "CREATE TABLE bw_b (k int PRIMARY KEY, v bigint);"
        "CREATE TABLE bw_c (n int PRIMARY KEY, v bigint);"
    )


@pytest.mark.parametrize("keyed", [False, True], ids=["tables", "row keys"])
@pytest.mark.parametrize("seed", range(40))
async def test_batched_equals_one_by_one(database_url: str, seed: int, keyed: bool) -> None:
    rng = random.Random(seed)
    script = []
    for n in range(rng.randint(20, 120)):
        sql, by_row = rng.choice(STATEMENTS)
        first = n if sql.startswith("INSERT INTO bw_c") else rng.randint(0, 4)
        script.append((sql, (first, rng.randint(-3, 9)), by_row and keyed))
    conn = await asyncpg.connect(database_url)
    try:
        await reset(conn)
        async with conn.transaction():
            for sql, args, _ in script:
                await conn.execute(sql, *args)
        expected = await tables(conn)
        await reset(conn)
        async with conn.transaction():
            writer = BatchWriter(conn, TABLES)
            for sql, args, by_row in script:
                await writer.execute(sql, *args, key=args[0] if by_row else None)
            await writer.flush()
        assert await tables(conn) == expected
        assert writer.round_trips <= len(script)
    finally:
        await conn.execute("DROP TABLE IF EXISTS bw_a, bw_b, bw_c")
        await conn.close()
