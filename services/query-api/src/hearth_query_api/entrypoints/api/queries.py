"""The SQL behind the read endpoints, kept apart from HTTP."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

MAX_LIMIT = 200
MAX_SEQ = 2**63 - 1  # a PostgreSQL bigint
#: A text search (``q``) reads at most this many events per request, the newest below the
#: cursor; its next_cursor continues beneath them. ``ILIKE '%q%'`` can use no index (the
#: embedded PostgreSQL has no pg_trgm), so one request never scans the whole table.
SEARCH_WINDOW = 20_000
MIN_SEARCH_CHARS = 3


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
    id_prefix: Text | None = Field(
        default=None,
        min_length=4,
        max_length=64,
        description="only the deployments whose id starts with this (at least 4 characters): "
        "how the CLI finds the deployment a short id such as `0193ab4c` names",
    )
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
    q: Text | None = Field(
        default=None,
        min_length=MIN_SEARCH_CHARS,
        description=f"text to find anywhere in the event (at least {MIN_SEARCH_CHARS} "
        f"characters); one page searches at most {SEARCH_WINDOW} events, so a page may "
        "hold fewer items than limit, even none: follow next_cursor until it is null",
    )
    since: IsoTime | None = None
    until: IsoTime | None = None


class TargetFilter(PageQuery):
    target: Text | None = None


class RepoFilter(PageQuery):
    repo: Text | None = None


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


# -- what the dashboard shows beside the API's answers ---------------------------------
HISTORY_SQL = """
SELECT target, id, status, rolled_back, duration_ms, requested_at FROM (
    SELECT *, row_number() OVER (PARTITION BY target ORDER BY seq DESC) AS n
    FROM deployments
    WHERE NOT dry_run AND finished_at IS NOT NULL AND target = ANY($1::text[])
) recent WHERE n <= $2 ORDER BY target, seq
"""


async def deployment_history(
    conn: Any, targets: list[str], per_target: int
) -> dict[str, list[Any]]:
    """Each target's last finished deployments (dry runs aside), oldest first."""
    history: dict[str, list[Any]] = {name: [] for name in targets}
    for row in await conn.fetch(HISTORY_SQL, targets, per_target):
        history[row["target"]].append(row)
    return history


async def repository_links(conn: Any) -> dict[str, str]:
    """Web addresses of the repositories whose commits can be linked (GitHub ones)."""
    rows = await conn.fetch(
        "SELECT name, web_url FROM repositories WHERE web_url IS NOT NULL AND NOT removed"
    )
    return {r["name"]: r["web_url"] for r in rows}


async def commit_subjects(conn: Any, shas: set[str]) -> dict[str, str]:
    """The first line of each commit's message, where a push announced it."""
    wanted = sorted(s for s in shas if s)
    if not wanted:
        return {}
    rows = await conn.fetch(
        "SELECT DISTINCT ON (sha) sha, subject FROM commits WHERE sha = ANY($1::text[])", wanted
    )
    return {r["sha"]: r["subject"] for r in rows}
