"""``/api/v1/deployments``: the deployments, one with its steps and logs, and their stats."""

from __future__ import annotations

from typing import Any

from hearth_query_api.adapters.select import Select
from hearth_query_api.entrypoints.api.framework import Call
from hearth_query_api.entrypoints.api.ids import resolve_deployment_id
from hearth_query_api.entrypoints.api.models import (
    DeploymentDetailOut,
    DeploymentOut,
    LogLineOut,
    Page,
    StatsOut,
    StepOut,
    TargetStatsOut,
    json_value,
)
from hearth_query_api.entrypoints.api.queries import STATS_SQL, DeploymentQuery

#: Not the plan and diff: a list has no use for them.
LIST_COLUMNS = ", ".join(["seq", *DeploymentOut.model_fields])


def _deployment(row: Any) -> DeploymentOut:
    return DeploymentOut.model_validate({k: row[k] for k in DeploymentOut.model_fields})


class DeploymentReads:
    pool: Any

    async def list_deployments(self, call: Call) -> Page[DeploymentOut]:
        q: DeploymentQuery = call.query
        select = (
            Select("deployments", LIST_COLUMNS)
            .equal(target=q.target, status=q.status)
            .where("starts_with(id, ?)", q.id_prefix)
            .between("requested_at", q.since, q.until)
        )
        async with self.pool.acquire() as conn:
            rows, cursor = await select.page(conn, cursor=q.cursor, limit=q.limit)
        return Page[DeploymentOut](items=[_deployment(r) for r in rows], next_cursor=cursor)

    async def get_deployment(self, call: Call) -> DeploymentDetailOut:
        async with self.pool.acquire() as conn:
            deployment_id = await resolve_deployment_id(conn, call.path["id"])
            row = await conn.fetchrow("SELECT * FROM deployments WHERE id = $1", deployment_id)
            steps = await conn.fetch(
                "SELECT * FROM deployment_steps WHERE deployment_id = $1 ORDER BY seq",
                deployment_id,
            )
            logs = await conn.fetch(
                "SELECT * FROM deployment_logs WHERE deployment_id = $1 ORDER BY seq, line_no",
                deployment_id,
            )
        return DeploymentDetailOut(
            **_deployment(row).model_dump(),
            plan=json_value(row["plan"]),
            diff=row["diff"],
            diff_truncated=row["diff_truncated"],
            steps=[
                StepOut(seq=s["seq"], type=s["type"], at=s["at"], data=json_value(s["data"]))
                for s in steps
            ],
            logs=[
                LogLineOut.model_validate({k: entry[k] for k in LogLineOut.model_fields})
                for entry in logs
            ],
        )

    async def deployment_stats(self, call: Call) -> StatsOut:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(STATS_SQL)
        return StatsOut(
            targets=[
                TargetStatsOut(
                    target=r["target"],
                    deployments=r["deployments"],
                    succeeded=r["succeeded"],
                    failed=r["failed"],
                    rollbacks=r["rollbacks"],
                    success_rate=(r["succeeded"] / r["deployments"]) if r["deployments"] else None,
                    mean_duration_ms=float(r["mean_duration_ms"])
                    if r["mean_duration_ms"]
                    else None,
                )
                for r in rows
            ]
        )
