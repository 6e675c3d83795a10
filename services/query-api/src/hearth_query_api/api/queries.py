"""The SQL behind the read endpoints, kept apart from HTTP."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_LIMIT = 200


class BadCursor(ValueError):
    pass


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("s"):
            raise ValueError(raw)
        return int(raw[1:])
    except (ValueError, UnicodeDecodeError):
        raise BadCursor("cursor is not one this API gave out") from None


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cursor: str | None = None
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)


class DeploymentQuery(PageQuery):
    target: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class EventQuery(PageQuery):
    type: str | None = None
    key: str | None = None
    correlation_id: str | None = None
    actor: str | None = None
    q: str | None = Field(default=None, description="text to find anywhere in the event")
    since: datetime | None = None
    until: datetime | None = None


class TargetFilter(PageQuery):
    target: str | None = None


class RepoFilter(PageQuery):
    repo: str | None = None


def _where(conditions: list[tuple[str, Any]], seq_before: int | None) -> tuple[str, list[Any]]:
    clauses, values = [], []
    for template, value in conditions:
        if value is None:
            continue
        values.append(value)
        clauses.append(template.replace("?", f"${len(values)}"))
    if seq_before is not None:
        values.append(seq_before)
        clauses.append(f"seq < ${len(values)}")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", values


async def page(
    conn: Any,
    table: str,
    query: PageQuery,
    conditions: list[tuple[str, Any]],
    order_key: str = "seq",
) -> tuple[list[Any], str | None]:
    """Newest first, ``limit`` rows, and the cursor of the next page."""
    before = decode_cursor(query.cursor) if query.cursor else None
    where, values = _where(conditions, before)
    values.append(query.limit + 1)
    rows = await conn.fetch(
        f"SELECT * FROM {table}{where} ORDER BY {order_key} DESC LIMIT ${len(values)}",  # noqa: S608
        *values,
    )
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return rows, encode_cursor(rows[-1]["seq"]) if more and rows else None


STATS_SQL = """
SELECT target,
       count(*) FILTER (WHERE NOT dry_run) AS deployments,
       count(*) FILTER (WHERE status = 'succeeded' AND NOT dry_run) AS succeeded,
       count(*) FILTER (WHERE status IN ('failed', 'rollback_failed')) AS failed,
       count(*) FILTER (WHERE rolled_back) AS rollbacks,
       avg(duration_ms) FILTER (WHERE status = 'succeeded' AND NOT dry_run) AS mean_duration_ms
FROM deployments GROUP BY target ORDER BY target
"""
