"""The audit search reads a bounded window of events per request, on a real PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from pydantic import ValidationError

from hearth_query_api.adapters.schema import SCHEMA, migrate
from hearth_query_api.entrypoints.api.endpoints import Endpoints
from hearth_query_api.entrypoints.api.framework import Call
from hearth_query_api.entrypoints.api.queries import EventQuery

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Any]:
    pool = await asyncpg.create_pool(
        database_url, min_size=1, max_size=2, server_settings={"search_path": SCHEMA}
    )
    async with pool.acquire() as conn:
        await migrate(conn)
        await conn.executemany(
            "INSERT INTO events VALUES ($1, $2, 'TargetRegistered', 'deploy', $3, $4, 'a', "
            "'s', 'c', NULL, $5)",
            [
                (
                    seq,
                    uuid.uuid4(),
                    f"t{seq}",
                    datetime.now(UTC),
                    json.dumps({"note": "needle" if seq in (5, 45) else "hay"}),
                )
                for seq in range(1, 51)
            ],
        )
    yield pool
    await pool.close()


async def search(endpoints: Endpoints, **query: Any) -> tuple[list[int], int | None]:
    call = Call(None, None, {}, EventQuery(**query))  # type: ignore[arg-type]
    found = await endpoints.list_events(call)
    return [e.seq for e in found.items], found.next_cursor


async def test_a_search_reads_one_window_per_page_and_pages_on_to_older_matches(
    pool: Any,
) -> None:
    endpoints = Endpoints(pool, None, "test")  # type: ignore[arg-type]
    endpoints.search_window = 10
    assert await search(endpoints, q="needle") == ([45], 41)  # seq 41..50 only
    pages, found = 1, [45]
    cursor: int | None = 41
    while cursor is not None:
        items, cursor = await search(endpoints, q="needle", cursor=cursor)
        found += items
        pages += 1
    assert (found, pages) == ([45, 5], 5)
    # A full page within the window continues from its last row, as any list does.
    assert await search(endpoints, q="hay", limit=3) == ([50, 49, 48], 48)
    # Without q nothing changes: the newest rows, however old the matches.
    assert (await search(endpoints, limit=2))[0] == [50, 49]


def test_a_search_needs_three_characters() -> None:
    with pytest.raises(ValidationError, match="at least 3 characters"):
        EventQuery(q="ne")
    assert EventQuery(q="nee").q == "nee"
