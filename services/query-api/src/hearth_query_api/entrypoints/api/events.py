"""``/api/v1/events``: the audit log (filtered, searched, paged) and its live feed."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hearth_query_api.adapters.select import Select
from hearth_query_api.entrypoints.api.framework import ApiError, Call
from hearth_query_api.entrypoints.api.models import EventOut, Page, json_value
from hearth_query_api.entrypoints.api.queries import MAX_SEQ, SEARCH_WINDOW, EventQuery, FeedQuery
from hearth_query_api.entrypoints.feed import LOG_EVENT, Broadcaster, FeedFilter, stream_events

#: Found anywhere in an event: its data or its key (one value for both ``?``).
TEXT_SEARCH = "(data::text ILIKE '%' || ? || '%' OR key ILIKE '%' || ? || '%')"


def event_out(row: Any) -> EventOut:
    return EventOut.model_validate(
        {
            **{k: row[k] for k in EventOut.model_fields},
            "event_id": str(row["event_id"]),
            "data": json_value(row["data"]),
        }
    )


class EventReads:
    pool: Any
    broadcaster: Broadcaster
    #: Events one text search reads at most (see queries.SEARCH_WINDOW).
    search_window = SEARCH_WINDOW

    async def list_events(self, call: Call) -> Page[EventOut]:
        q: EventQuery = call.query
        select = (
            Select("events")
            .equal(type=q.type)
            .where("type <> ?", LOG_EVENT if q.type is None and not q.logs else None)
            .equal(key=q.key, correlation_id=q.correlation_id, actor=q.actor)
            .between("occurred_at", q.since, q.until)
        )
        async with self.pool.acquire() as conn:
            if q.q is None:
                rows, cursor = await select.page(conn, cursor=q.cursor, limit=q.limit)
            else:
                rows, cursor = await select.where(TEXT_SEARCH, q.q).search_page(
                    conn, cursor=q.cursor, limit=q.limit, window=self.search_window
                )
        return Page[EventOut](items=[event_out(r) for r in rows], next_cursor=cursor)

    async def stream_events(self, call: Call) -> web.StreamResponse:
        q: FeedQuery = call.query
        if self.broadcaster.closed:
            raise ApiError(503, "stopping", "Hearth's query API is stopping; reconnect shortly")
        header = call.request.headers.get("Last-Event-ID")
        if header is not None and (not header.strip().isdigit() or int(header) > MAX_SEQ):
            raise ApiError(400, "bad header", "Last-Event-ID must be an event's seq number")
        last_id = int(header) if header is not None else q.last_event_id
        types = frozenset(t.strip() for t in (q.type or "").split(",") if t.strip())
        return await stream_events(
            call.request,
            self.pool,
            self.broadcaster,
            FeedFilter(types, q.target, q.device, q.logs),
            last_id,
        )
