"""What the templates show, shaped from the API's models (no queries here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TONE = {
    "green": "ok",
    "succeeded": "ok",
    "amber": "warn",
    "rolled_back": "warn",
    "cancelled": "warn",
    "waiting": "warn",
    "superseded": "muted",
    "grey": "muted",
    "queued": "busy",
    "running": "busy",
    "rolling_back": "busy",
}
STEP_LABEL = {
    "DeployRequested": "requested",
    "DeploymentWaiting": "waiting for secrets",
    "DeploymentStarted": "started",
    "ConfigFetched": "fetched",
    "ConfigValidated": "validated",
    "ValidationFailed": "validation failed",
    "DeploymentPlanned": "planned",
    "BackupTaken": "backed up",
    "FilesDeployed": "uploaded",
    "HostCheckPassed": "host check passed",
    "HostCheckFailed": "host check failed",
    "ServiceRestarted": "restarted",
    "HealthCheckPassed": "healthy",
    "HealthCheckFailed": "unhealthy",
    "RollbackRequested": "rollback requested",
    "DeploymentCancelRequested": "cancel requested",
    "RollbackStarted": "rolling back",
    "RollbackCompleted": "rolled back",
    "RollbackFailed": "rollback failed",
    "DeploymentSucceeded": "succeeded",
    "DeploymentFailed": "failed",
    "DeploymentCancelled": "cancelled",
    "DeploymentSuperseded": "superseded",
}


def restore_prompt(target: str, backup: Any, *, undoing_rollback: bool = False) -> str:
    """What restoring ``backup`` (a backups row with before_commit) brings back, in words."""
    what = "this rollback" if undoing_rollback else f"deployment {backup['deployment_id'][:8]}"
    text = (
        f"Restore backup {backup['backup_id']} on {target}? It holds the files as they were "
        f"before {what}, taken {backup['taken_at']:%Y-%m-%d %H:%M:%S} UTC"
    )
    if backup["before_commit"]:
        text += (
            f"; the last successful deployment before it was commit {backup['before_commit'][:10]}"
        )
    return text + "."


def tone(status: str | None) -> str:
    """A CSS class for a status: ok, warn, busy, muted or bad."""
    return TONE.get(status or "grey", "bad")


@dataclass(frozen=True)
class StepRow:
    label: str
    type: str
    at: Any
    took_ms: int | None
    tone: str


def step_rows(detail: Any) -> list[StepRow]:
    rows = []
    # A rollback's request is recorded before the deployer announces the deployment (its
    # requested_at): durations count from whichever came first, and a request took no time.
    previous = min([detail.requested_at, *(s.at for s in detail.steps[:1])])
    for step in detail.steps:
        asked = step.type.endswith("Requested")
        took = None if asked else max(0, int((step.at - previous).total_seconds() * 1000))
        bad = step.type.endswith("Failed")
        rows.append(
            StepRow(
                STEP_LABEL.get(step.type, step.type),
                step.type,
                step.at,
                took,
                "bad" if bad else ("ok" if step.type == "DeploymentSucceeded" else "muted"),
            )
        )
        previous = max(step.at, previous) if previous else step.at
    return rows


@dataclass(frozen=True)
class DiffLine:
    text: str
    kind: str


def diff_lines(diff: str) -> list[DiffLine]:
    lines = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        lines.append(DiffLine(line, kind))
    return lines
