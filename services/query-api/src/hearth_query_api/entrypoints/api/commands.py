"""The REST commands: each becomes one event, recorded before it is published.

A deploy or rollback is written to ``requested_deployments`` in the same transaction that
publishes its event, so a failed publish leaves no trace and the dashboard knows at once
of a deployment the read models have not seen yet.
"""

from __future__ import annotations

import re
from typing import Any

from hearth_events import new_event, uuid7
from hearth_events.catalogue import (
    DeploymentCancelRequested,
    DeployRequested,
    RollbackRequested,
)
from hearth_query_api.entrypoints.api.framework import ApiError, Call
from hearth_query_api.entrypoints.api.ids import resolve_deployment_id
from hearth_query_api.entrypoints.api.models import AcceptedOut, CancelIn, DeployIn, RollbackIn
from hearth_query_api.entrypoints.api.rollbacks import (
    lock_target,
    record_request,
    standing_rollback,
    undo_backup,
)
from hearth_query_api.projections.deployments import TERMINAL
from hearth_servicekit.publishing import BusUnavailable, EventSink

COMMIT = re.compile(r"[0-9a-f]{7,64}")
V1 = "/api/v1"


class Commands:
    pool: Any
    sink: EventSink
    source: str

    async def _target_row(self, name: str) -> Any:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM targets WHERE name = $1 AND NOT removed", name)
        if row is None:
            raise ApiError(404, "not found", f"no target named {name!r}")
        return row

    async def _publish(self, call: Call, data: Any) -> AcceptedOut:
        envelope = new_event(data, source=self.source, actor=_actor(call))
        try:
            await self.sink.publish(envelope)
        except BusUnavailable:
            raise ApiError(
                503, "event bus unavailable", "the command was not recorded; try again"
            ) from None
        return AcceptedOut(
            deployment_id=data.deployment_id,
            event_id=str(envelope.event_id),
            correlation_id=envelope.correlation_id,
            follow=f"{V1}/deployments/{data.deployment_id}",
        )

    async def request_deploy(self, call: Call) -> AcceptedOut:
        body: DeployIn = call.body
        target = await self._target_row(body.target)
        data = DeployRequested(
            deployment_id=str(uuid7()),
            target=body.target,
            repo=target["repo"],
            commit=body.commit,
            branch=body.branch or target["branch"],
            trigger="manual",
            dry_run=body.dry_run,
            full_check=body.full_check,
        )
        async with self.pool.acquire() as conn, conn.transaction():
            await record_request(
                conn,
                data.deployment_id,
                body.target,
                "deploy",
                dry_run=body.dry_run,
                actor=_actor(call),
            )
            return await self._publish(call, data)

    async def request_rollback(self, call: Call) -> AcceptedOut:
        body: RollbackIn = call.body
        name = call.path["name"]
        is_commit = body.to is not None and COMMIT.fullmatch(body.to) is not None
        await self._target_row(name)
        async with self.pool.acquire() as conn, conn.transaction():
            await lock_target(conn, name)
            to_backup = None if is_commit else body.to or await undo_backup(conn, name)
            restores = (
                f"commit {body.to}"
                if is_commit
                else f"backup {to_backup}"
                if to_backup
                else "its newest backup"
            )
            earlier = await standing_rollback(conn, name, restores)
            if earlier is not None:
                raise _already(name, restores, earlier)
            data = RollbackRequested(
                deployment_id=str(uuid7()),
                target=name,
                to_backup=to_backup,
                to_commit=body.to if is_commit else None,
                reason=body.reason,
            )
            await record_request(
                conn, data.deployment_id, name, "rollback", restores=restores, actor=_actor(call)
            )
            return await self._publish(call, data)

    async def request_cancel(self, call: Call) -> AcceptedOut:
        body: CancelIn = call.body
        async with self.pool.acquire() as conn:
            deployment_id = await resolve_deployment_id(conn, call.path["id"])
            row = await conn.fetchrow(
                "SELECT target, status FROM deployments WHERE id = $1", deployment_id
            )
        if row["status"] in TERMINAL:
            raise ApiError(
                409, "already finished", f"deployment {deployment_id} is {row['status']}"
            )
        return await self._publish(
            call,
            DeploymentCancelRequested(
                deployment_id=deployment_id, target=row["target"], reason=body.reason
            ),
        )


def _actor(call: Call) -> str:
    return f"token:{call.principal.name}"


def _already(target: str, restores: str, earlier: Any) -> ApiError:
    done = earlier["status"] in ("rolled_back", "succeeded")
    return ApiError(
        409,
        "already rolled back" if done else "already rolling back",
        (
            f"{target} was already rolled back to {restores} by deployment {earlier['id']}"
            if done
            else f"{target} is already being rolled back to {restores} by deployment "
            f"{earlier['id']}"
        )
        + "; asking again would change nothing",
        deployment_id=earlier["id"],
    )
