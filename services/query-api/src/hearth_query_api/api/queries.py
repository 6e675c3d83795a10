"""The SQL behind the read endpoints, kept apart from HTTP."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

MAX_LIMIT = 200
MAX_SEQ = 2**63 - 1  # a PostgreSQL bigint


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_only(value: Any) -> Any:
    """Times are ISO 8601 only: pydantic would also take a number as a Unix time."""
    if not isinstance(value, str | datetime) or (
        isinstance(value, str) and not _ISO_DATE.match(value)
    ):
        raise ValueError("use an ISO 8601 time such as 2026-11-22T10:00:00Z")
    return value


IsoTime = Annotated[datetime, BeforeValidator(_iso_only)]
# PostgreSQL text cannot hold NUL, so no parameter may carry one.
Text = Annotated[str, Field(pattern=r"^[^\x00]*$")]


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cursor: int | None = Field(
        default=None, ge=1, le=MAX_SEQ, description="next_cursor of the last page"
    )
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)


class DeploymentQuery(PageQuery):
    target: Text | None = None
    status: Text | None = None
    since: IsoTime | None = None
    until: IsoTime | None = None


LOGS = Field(
    default=False,
    description="also DeploymentLogged (log lines; left out unless asked for or named in type)",
)


class EventQuery(PageQuery):
    type: Text | None = None
    logs: bool = LOGS
    key: Text | None = None
    correlation_id: Text | None = None
    actor: Text | None = None
    q: Text | None = Field(default=None, description="text to find anywhere in the event")
    since: IsoTime | None = None
    until: IsoTime | None = None


class TargetFilter(PageQuery):
    target: Text | None = None


class RepoFilter(PageQuery):
    repo: Text | None = None


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
    *,
    order_key: str = "seq",
    columns: str = "*",
) -> tuple[list[Any], int | None]:
    """Newest first, ``limit`` rows, and the cursor of the next page."""
    where, values = _where(conditions, query.cursor)
    values.append(query.limit + 1)
    rows = await conn.fetch(
        f"SELECT {columns} FROM {table}{where} ORDER BY {order_key} DESC LIMIT ${len(values)}",  # noqa: S608
        *values,
    )
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return rows, rows[-1]["seq"] if more and rows else None


STATS_SQL = """
SELECT target,
       count(*) FILTER (WHERE NOT dry_run) AS deployments,
       count(*) FILTER (WHERE status = 'succeeded' AND NOT dry_run) AS succeeded,
       count(*) FILTER (WHERE status IN ('failed', 'rollback_failed')) AS failed,
       count(*) FILTER (WHERE rolled_back) AS rollbacks,
       avg(duration_ms) FILTER (WHERE status = 'succeeded' AND NOT dry_run) AS mean_duration_ms
FROM deployments GROUP BY target ORDER BY target
"""


class FeedQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Text | None = Field(default=None, description="comma-separated event types")
    logs: bool = LOGS
    target: Text | None = None
    device: Text | None = None
    last_event_id: int | None = Field(
        default=None, ge=0, le=MAX_SEQ, description="as the Last-Event-ID header: resume after"
    )
