"""The REST endpoints of ``/api/v1``: reads from the read models, commands as events."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from hearth_query_api.api.commands import V1, Commands
from hearth_query_api.api.framework import ApiError, Call, Route
from hearth_query_api.api.ids import resolve_deployment_id
from hearth_query_api.api.models import (
    AcceptedOut,
    BackupOut,
    CancelIn,
    DeployIn,
    DeploymentDetailOut,
    DeploymentOut,
    EventOut,
    ItemsOut,
    LogLineOut,
    NotifyResultOut,
    NotifyTestIn,
    NotifyTestOut,
    Page,
    PushOut,
    RollbackIn,
    StatsOut,
    StepOut,
    TargetOut,
    TargetStatsOut,
)
from hearth_query_api.api.queries import (
    MAX_SEQ,
    SEARCH_WINDOW,
    STATS_SQL,
    DeploymentQuery,
    EventQuery,
    FeedQuery,
    RepoFilter,
    TargetFilter,
    page,
    search_page,
)
from hearth_query_api.api.rollbacks import list_backups
from hearth_query_api.feed import LOG_EVENT, Broadcaster, FeedFilter, stream_events
from hearth_servicekit.publishing import EventSink


def target_status(row: Any) -> str:
    if row["removed"]:
        return "grey"
    return {"succeeded": "green", "rolled_back": "amber", None: "grey"}.get(
        row["last_status"], "red"
    )


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


LIST_COLUMNS = ", ".join(["seq", *DeploymentOut.model_fields])


def _deployment(row: Any) -> DeploymentOut:
    return DeploymentOut.model_validate({k: row[k] for k in DeploymentOut.model_fields})


class Endpoints(Commands):
    #: Events one text search reads at most (see queries.SEARCH_WINDOW).
    search_window = SEARCH_WINDOW

    def __init__(self, pool: Any, sink: EventSink, source: str) -> None:
        self.pool = pool
        self.sink = sink
        self.source = source
        self.broadcaster = Broadcaster()
        self.nc: Any = None

    async def test_notifications(self, call: Call) -> NotifyTestOut:
        body: NotifyTestIn = call.body
        request = {"route": body.route} if body.route else {}
        try:
            reply = await self.nc.request(
                "hearth.cmd.notify.TestNotification", json.dumps(request).encode(), timeout=60
            )
        except Exception as exc:  # no notifier running, or it did not answer in time
            raise ApiError(
                503, "notifier unavailable", f"the notifier did not answer: {type(exc).__name__}"
            ) from None
        answer = json.loads(reply.data)
        if not answer.get("ok"):
            raise ApiError(
                404 if "no route named" in answer.get("error", "") else 409,
                "cannot test",
                answer.get("error", "refused"),
            )
        return NotifyTestOut(results=[NotifyResultOut.model_validate(r) for r in answer["results"]])

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

    async def _paged(
        self, table: str, query: Any, conditions: list[tuple[str, Any]], columns: str = "*"
    ) -> Any:
        async with self.pool.acquire() as conn:
            return await page(conn, table, query, conditions, columns=columns)

    # -- reads -----------------------------------------------------------------------
    async def list_targets(self, call: Call) -> ItemsOut[TargetOut]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM targets ORDER BY name")
        return ItemsOut[TargetOut](
            items=[
                TargetOut.model_validate(
                    {
                        **{k: row[k] for k in TargetOut.model_fields if k != "status"},
                        "status": target_status(row),
                    }
                )
                for row in rows
            ]
        )

    async def get_target(self, call: Call) -> TargetOut:
        for target in (await self.list_targets(call)).items:
            if target.name == call.path["name"]:
                return target
        raise ApiError(404, "not found", f"no target named {call.path['name']!r}")

    async def list_deployments(self, call: Call) -> Page[DeploymentOut]:
        q: DeploymentQuery = call.query
        rows, cursor = await self._paged(
            "deployments",
            q,
            [
                ("target = ?", q.target),
                ("status = ?", q.status),
                ("requested_at >= ?", q.since),
                ("requested_at < ?", q.until),
            ],
            columns=LIST_COLUMNS,  # not the plan and diff: a list has no use for them
        )
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
            plan=_loads(row["plan"]),
            diff=row["diff"],
            diff_truncated=row["diff_truncated"],
            steps=[
                StepOut(seq=s["seq"], type=s["type"], at=s["at"], data=_loads(s["data"]))
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

    async def list_backups(self, call: Call) -> ItemsOut[BackupOut]:
        q: TargetFilter = call.query
        async with self.pool.acquire() as conn:
            rows = await list_backups(conn, q.target, q.limit)
        return ItemsOut[BackupOut](items=[BackupOut.model_validate(dict(r)) for r in rows])

    async def list_pushes(self, call: Call) -> Page[PushOut]:
        q: RepoFilter = call.query
        rows, cursor = await self._paged("pushes", q, [("repo = ?", q.repo)])
        items = [
            PushOut.model_validate(
                {**{k: r[k] for k in PushOut.model_fields}, "event_id": str(r["event_id"])}
            )
            for r in rows
        ]
        return Page[PushOut](items=items, next_cursor=cursor)

    async def list_events(self, call: Call) -> Page[EventOut]:
        q: EventQuery = call.query
        conditions = [
            ("type = ?", q.type),
            ("type <> ?", LOG_EVENT if q.type is None and not q.logs else None),
            ("key = ?", q.key),
            ("correlation_id = ?", q.correlation_id),
            ("actor = ?", q.actor),
            ("occurred_at >= ?", q.since),
            ("occurred_at < ?", q.until),
        ]
        if q.q is None:
            rows, cursor = await self._paged("events", q, conditions)
        else:
            text = ("(data::text ILIKE '%' || ? || '%' OR key ILIKE '%' || ? || '%')", q.q)
            async with self.pool.acquire() as conn:
                rows, cursor = await search_page(
                    conn, q, [*conditions, text], window=self.search_window
                )
        items = [
            EventOut.model_validate(
                {
                    **{k: r[k] for k in EventOut.model_fields},
                    "event_id": str(r["event_id"]),
                    "data": _loads(r["data"]),
                }
            )
            for r in rows
        ]
        return Page[EventOut](items=items, next_cursor=cursor)

    def routes(self) -> list[Route]:
        return [
            Route(
                "GET",
                f"{V1}/targets",
                "viewer",
                "Every target and its status",
                self.list_targets,
                ItemsOut[TargetOut],
                tags=("targets",),
            ),
            Route(
                "GET",
                f"{V1}/targets/{{name}}",
                "viewer",
                "One target",
                self.get_target,
                TargetOut,
                tags=("targets",),
            ),
            Route(
                "POST",
                f"{V1}/targets/{{name}}/rollback",
                "operator",
                "Roll a target back to a backup or a commit",
                self.request_rollback,
                AcceptedOut,
                body=RollbackIn,
                status=202,
                tags=("commands",),
            ),
            Route(
                "GET",
                f"{V1}/deployments",
                "viewer",
                "Deployments, newest first",
                self.list_deployments,
                Page[DeploymentOut],
                query=DeploymentQuery,
                tags=("deployments",),
            ),
            Route(
                "POST",
                f"{V1}/deployments",
                "operator",
                "Deploy a commit or branch",
                self.request_deploy,
                AcceptedOut,
                body=DeployIn,
                status=202,
                tags=("commands",),
            ),
            Route(
                "GET",
                f"{V1}/deployments/stats",
                "viewer",
                "Success rate, mean time to deploy and rollbacks per target",
                self.deployment_stats,
                StatsOut,
                tags=("deployments",),
            ),
            Route(
                "GET",
                f"{V1}/deployments/{{id}}",
                "viewer",
                "One deployment with its steps, logs, plan and diff",
                self.get_deployment,
                DeploymentDetailOut,
                tags=("deployments",),
            ),
            Route(
                "POST",
                f"{V1}/deployments/{{id}}/cancel",
                "operator",
                "Cancel a deployment (rolled back if it touched the target)",
                self.request_cancel,
                AcceptedOut,
                body=CancelIn,
                status=202,
                tags=("commands",),
            ),
            Route(
                "GET",
                f"{V1}/backups",
                "viewer",
                "Backups, newest first",
                self.list_backups,
                ItemsOut[BackupOut],
                query=TargetFilter,
                tags=("targets",),
            ),
            Route(
                "GET",
                f"{V1}/pushes",
                "viewer",
                "Pushes, newest first",
                self.list_pushes,
                Page[PushOut],
                query=RepoFilter,
                tags=("git",),
            ),
            Route(
                "POST",
                f"{V1}/notifications/test",
                "admin",
                "Send a test notification through a route (or all) and report per URL",
                self.test_notifications,
                NotifyTestOut,
                body=NotifyTestIn,
                tags=("notifications",),
            ),
            Route(
                "GET",
                f"{V1}/events/stream",
                "viewer",
                "Live feed of new events (Server-Sent Events, resumable with Last-Event-ID)",
                self.stream_events,
                query=FeedQuery,
                tags=("events",),
                media_type="text/event-stream",
            ),
            Route(
                "GET",
                f"{V1}/events",
                "viewer",
                "The audit log, newest first",
                self.list_events,
                Page[EventOut],
                query=EventQuery,
                tags=("events",),
            ),
        ]
