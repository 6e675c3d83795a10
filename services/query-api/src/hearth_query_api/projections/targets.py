"""Targets as declared, with what they run and how their last deployment that touched the
host ended: a dry run, and a deployment that failed before changing anything on the host
(an unknown commit, invalid configuration), change neither. ``waiting_for`` names the
secrets a deployment of the target is held for (``DeploymentWaiting``) until it starts or
ends."""

from __future__ import annotations

from typing import Any

from hearth_events import Envelope
from hearth_events.catalogue import (
    DeploymentCancelled,
    DeploymentFailed,
    DeploymentStarted,
    DeploymentSucceeded,
    DeploymentSuperseded,
    DeploymentWaiting,
    RollbackCompleted,
    RollbackFailed,
    TargetRegistered,
    TargetRemoved,
    TargetUpdated,
)

LAST_STATUS = {
    DeploymentSucceeded: "succeeded",
    DeploymentFailed: "failed",
    RollbackCompleted: "rolled_back",
    RollbackFailed: "rollback_failed",
}


#: Events after which a deployment no longer waits.
WAIT_OVER = (
    DeploymentStarted,
    DeploymentSucceeded,
    DeploymentFailed,
    DeploymentCancelled,
    DeploymentSuperseded,
    RollbackCompleted,
    RollbackFailed,
)


async def project(conn: Any, envelope: Envelope, seq: int) -> None:
    """Every statement touches only its target's row (its key)."""
    data = envelope.data
    if isinstance(data, DeploymentWaiting):
        await conn.execute(
            """UPDATE targets SET waiting_for = $2, waiting_deployment_id = $3
                WHERE name = $1""",
            data.target,
            list(data.waiting_for),
            data.deployment_id,
            key=data.target,
        )
        return
    if isinstance(data, WAIT_OVER):
        await conn.execute(
            """UPDATE targets SET waiting_for = '{}', waiting_deployment_id = NULL
                WHERE name = $1 AND waiting_deployment_id = $2""",
            data.target,
            data.deployment_id,
            key=data.target,
        )
    if isinstance(data, TargetRegistered | TargetUpdated):
        spec = data.spec
        await conn.execute(
            """INSERT INTO targets (name, kind, host, repo, branch, subdirectory,
                    auto_deploy, spec, registered_at, updated_at, removed)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, false)
                ON CONFLICT (name) DO UPDATE SET kind = $2, host = $3, repo = $4, branch = $5,
                    subdirectory = $6, auto_deploy = $7, spec = $8, updated_at = $9,
                    removed = false""",
            data.target,
            spec.kind,
            spec.host,
            spec.repo,
            spec.branch,
            spec.subdirectory,
            spec.auto_deploy,
            spec.model_dump_json(),
            envelope.occurred_at,
            key=data.target,
        )
    elif isinstance(data, TargetRemoved):
        await conn.execute(
            "UPDATE targets SET removed = true, updated_at = $2 WHERE name = $1",
            data.target,
            envelope.occurred_at,
            key=data.target,
        )
    elif isinstance(
        data, DeploymentSucceeded | DeploymentFailed | RollbackCompleted | RollbackFailed
    ):
        if isinstance(data, DeploymentFailed) and not data.host_touched:
            return
        if await _dry_run(conn, data.deployment_id):
            return
        commit = data.commit if isinstance(data, DeploymentSucceeded) else None
        await conn.execute(
            """UPDATE targets SET last_deployment_id = $2, last_status = $3,
                    last_finished_at = $4, current_commit = coalesce($5, current_commit)
                WHERE name = $1""",
            data.target,
            data.deployment_id,
            LAST_STATUS[type(data)],
            envelope.occurred_at,
            commit,
            key=data.target,
        )


async def _dry_run(conn: Any, deployment_id: str) -> bool:
    """Whether the deployment is a dry run: what its request said (a fact the deployments
    projection remembers), else its row, committed by an earlier batch (none: no)."""
    known = conn.facts.recall("dry_run", deployment_id)
    if known is None:
        known = await conn.fetchval("SELECT dry_run FROM deployments WHERE id = $1", deployment_id)
    return bool(known)
