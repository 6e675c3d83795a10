"""``/api/v1/pushes``: what was pushed to the followed repositories."""

from __future__ import annotations

from typing import Any

from hearth_query_api.adapters.select import Select
from hearth_query_api.entrypoints.api.framework import Call
from hearth_query_api.entrypoints.api.models import Page, PushOut
from hearth_query_api.entrypoints.api.queries import RepoFilter


class PushReads:
    pool: Any

    async def list_pushes(self, call: Call) -> Page[PushOut]:
        q: RepoFilter = call.query
        async with self.pool.acquire() as conn:
            rows, cursor = (
                await Select("pushes").equal(repo=q.repo).page(conn, cursor=q.cursor, limit=q.limit)
            )
        items = [
            PushOut.model_validate(
                {**{k: r[k] for k in PushOut.model_fields}, "event_id": str(r["event_id"])}
            )
            for r in rows
        ]
        return Page[PushOut](items=items, next_cursor=cursor)
