"""What pages show beside the API's answers: commit links and subjects, duration strips."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hearth_query_api.entrypoints.api.queries import (
    STATS_SQL,
    commit_subjects,
    deployment_history,
    repository_links,
)
from hearth_query_api.entrypoints.dashboard.charts import Strip, bar_strip
from hearth_query_api.entrypoints.dashboard.present import (
    ago,
    device_tone,
    duration,
    live_field,
    pretty,
    rollout_tone,
    status_label,
    utc,
    value_source,
    words,
)

#: Jinja globals for every template.
HELPERS = {
    "status_label": status_label,
    "utc": utc,
    "ago": ago,
    "duration": duration,
    "words": words,
    "device_tone": device_tone,
    "pretty": pretty,
    "value_source": value_source,
    "live_field": live_field,
    "rollout_tone": rollout_tone,
}
#: What a template may use without its view passing it (commit() of _macros.html).
DEFAULTS: dict[str, Any] = {"links": {}, "subjects": {}}


async def commits_shown(pool: Any, shas: Iterable[str | None]) -> dict[str, Any]:
    """``links`` (repository → web address, GitHub only) and ``subjects`` (sha → first line)."""
    async with pool.acquire() as conn:
        return {
            "links": await repository_links(conn),
            "subjects": await commit_subjects(conn, {s for s in shas if s}),
        }


async def strips(
    pool: Any, targets: list[str], *, width: int, height: int, slots: int = 30
) -> dict[str, Strip]:
    """A bar strip of each target's last ``slots`` finished deployments."""
    async with pool.acquire() as conn:
        history = await deployment_history(conn, targets, slots)
    return {
        name: bar_strip(rows, width=width, height=height, slots=slots)
        for name, rows in history.items()
    }


async def target_stats(pool: Any, target: str) -> Any:
    async with pool.acquire() as conn:
        rows = await conn.fetch(STATS_SQL)
    return next((r for r in rows if r["target"] == target), None)
