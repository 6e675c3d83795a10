"""Deployments: status, every step, log lines, plan and diff, backups."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hearth_events import Envelope, EventData
from hearth_events.catalogue import (
    BackupTaken,
    DeploymentCancelled,
    DeploymentFailed,
    DeploymentLogged,
    DeploymentPlanned,
    DeploymentStarted,
    DeploymentSucceeded,
    DeploymentSuperseded,
    DeploymentWaiting,
    DeployRequested,
    RollbackCompleted,
    RollbackFailed,
    RollbackStarted,
)

# Terminal statuses end the deployment; the others say where it is.
STATUS_OF: dict[type[EventData], str] = {
    DeploymentWaiting: "waiting",
    DeploymentStarted: "running",
    RollbackStarted: "rolling_back",
    DeploymentSucceeded: "succeeded",
    DeploymentFailed: "failed",
    DeploymentSuperseded: "superseded",
    DeploymentCancelled: "cancelled",
    RollbackCompleted: "rolled_back",
    RollbackFailed: "rollback_failed",
}
TERMINAL = {"succeeded", "failed", "superseded", "cancelled", "rolled_back", "rollback_failed"}
STEP_OF = {
    "DeploymentStarted": "start",
    "ConfigFetched": "fetch",
    "ConfigValidated": "validate",
    "ValidationFailed": "validate",
    "DeploymentPlanned": "plan",
    "BackupTaken": "backup",
    "FilesDeployed": "upload",
    "HostCheckPassed": "host_check",
    "HostCheckFailed": "host_check",
    "ServiceRestarted": "restart",
    "HealthCheckPassed": "health_check",
    "HealthCheckFailed": "health_check",
    "RollbackStarted": "rollback",
}


async def project(conn: Any, envelope: Envelope, seq: int) -> None:
    """Every statement touches only the rows of one deployment (its key)."""
    data = envelope.data
    if data.context != "deploy":
        return
    deployment_id: str = data.deployment_id  # type: ignore[attr-defined]
    if isinstance(data, DeployRequested):
        await conn.execute(
            """INSERT INTO deployments (id, seq, target, repo, commit, branch,
                    trigger, dry_run, status, requested_at, correlation_id, actor)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued',
                    -- A rollback is asked for (RollbackRequested, a step) before the deployer
                    -- announces it: it was requested then, not at the announcement.
                    coalesce((SELECT min(at) FROM deployment_steps WHERE deployment_id = $1),
                        $9),
                    $10, $11)
                ON CONFLICT (id) DO NOTHING""",
            deployment_id,
            seq,
            data.target,
            data.repo,
            data.commit,
            data.branch,
            data.trigger,
            data.dry_run,
            envelope.occurred_at,
            envelope.correlation_id,
            envelope.actor,
            key=deployment_id,
        )
        conn.facts.remember("dry_run", deployment_id, data.dry_run)
        return
    if isinstance(data, DeploymentLogged):
        await conn.executemany(
            """INSERT INTO deployment_logs (deployment_id, seq, line_no, at, level,
                    step, message) VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT DO NOTHING""",
            [
                (deployment_id, seq, n, line.at, line.level, line.step, line.message)
                for n, line in enumerate(data.lines)
            ],
            key=deployment_id,
        )
        return
    await conn.execute(
        """INSERT INTO deployment_steps (deployment_id, seq, type, at, data)
            VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
        deployment_id,
        seq,
        envelope.type,
        envelope.occurred_at,
        data.model_dump_json(),
        key=deployment_id,
    )
    await _update_deployment(conn, envelope, deployment_id)
    if isinstance(data, BackupTaken):
        await conn.execute(
            """INSERT INTO backups (backup_id, target, deployment_id, remote_path,
                    sha256, files, bytes, taken_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (backup_id) DO NOTHING""",
            data.backup_id,
            data.target,
            deployment_id,
            data.remote_path,
            data.sha256,
            data.files,
            data.bytes,
            envelope.occurred_at,
            key=deployment_id,
        )


#: Every column an event may set beside ``step`` (and ``finished_at``/``duration_ms`` at the
#: end), with its type. One UPDATE sets any of them (a flag per column says whether), so
#: the updates of a batch are one statement, sent together.
SETTABLE = {
    "status": "text",
    "reason": "text",
    "started_at": "timestamptz",
    "commit": "text",
    "plan": "jsonb",
    "diff": "text",
    "diff_truncated": "boolean",
    "rolled_back": "boolean",
    "host_touched": "boolean",
    "superseded_by": "text",
}


def _update_sql() -> str:
    ended = "CASE WHEN $3::boolean THEN {} ELSE {} END"
    sets = [
        "step = coalesce($2::text, step)",
        "finished_at = " + ended.format("$4::timestamptz", "finished_at"),
        "duration_ms = "
        + ended.format(
            "(extract(epoch FROM $4::timestamptz - requested_at) * 1000)::bigint", "duration_ms"
        ),
    ]
    for n, (column, kind) in enumerate(SETTABLE.items()):
        flag, value = 5 + 2 * n, 6 + 2 * n
        sets.append(
            f"{column} = CASE WHEN ${flag}::boolean THEN ${value}::{kind} ELSE {column} END"
        )
    # Column names and types come from this module, values are parameters.
    return f"UPDATE deployments SET {', '.join(sets)} WHERE id = $1"  # noqa: S608


UPDATE_DEPLOYMENT = _update_sql()


async def _update_deployment(conn: Any, envelope: Envelope, deployment_id: str) -> None:
    status = STATUS_OF.get(type(envelope.data))
    columns = COLUMNS_OF.get(type(envelope.data))
    changes = dict(columns(envelope)) if columns else {}
    if status is not None:
        changes["status"] = status
    if unknown := changes.keys() - SETTABLE.keys():
        raise ValueError(f"deployments has no settable column {sorted(unknown)}")
    ended = status in TERMINAL
    values: list[Any] = [
        deployment_id,
        STEP_OF.get(envelope.type),
        ended,
        envelope.occurred_at if ended else None,
    ]
    for column in SETTABLE:
        values += [column in changes, changes.get(column)]
    await conn.execute(UPDATE_DEPLOYMENT, *values, key=deployment_id)


Columns = list[tuple[str, Any]]


def _fields(*names: str) -> Callable[[Envelope], Columns]:
    """The event's fields of the same names as the columns."""
    return lambda envelope: [(name, getattr(envelope.data, name)) for name in names]


def _started(envelope: Envelope) -> Columns:
    data = envelope.data
    assert isinstance(data, DeploymentStarted)
    columns: Columns = [("started_at", envelope.occurred_at), ("reason", None)]  # no longer waiting
    return [*columns, ("commit", data.commit)] if data.commit else columns


def _planned(envelope: Envelope) -> Columns:
    data = envelope.data
    assert isinstance(data, DeploymentPlanned)
    plan = {
        "added": [f.model_dump() for f in data.added],
        "changed": [f.model_dump() for f in data.changed],
        "removed": [f.model_dump() for f in data.removed],
    }
    return [
        ("plan", json.dumps(plan)),
        ("diff", data.diff),
        ("diff_truncated", data.diff_truncated),
    ]


def _cancelled(envelope: Envelope) -> Columns:
    data = envelope.data
    assert isinstance(data, DeploymentCancelled)
    return [("reason", data.reason or "cancelled"), ("rolled_back", data.rolled_back)]


#: The columns each event sets beyond its status and step.
COLUMNS_OF: dict[type[EventData], Callable[[Envelope], Columns]] = {
    DeploymentWaiting: _fields("reason"),
    DeploymentStarted: _started,
    DeploymentPlanned: _planned,
    DeploymentSucceeded: _fields("commit"),
    DeploymentFailed: _fields("reason", "rolled_back", "host_touched"),
    RollbackFailed: _fields("reason"),
    DeploymentCancelled: _cancelled,
    DeploymentSuperseded: _fields("superseded_by"),
    RollbackCompleted: lambda envelope: [("rolled_back", True)],
}
