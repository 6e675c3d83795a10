"""What the REST API answers: pydantic models, so the OpenAPI document is exact."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Item = TypeVar("Item", bound=BaseModel)
Role = Literal["viewer", "operator", "admin"]


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CandidateOut(Out):
    id: str
    target: str
    status: str
    requested_at: datetime


class ErrorOut(Out):
    error: str
    detail: str
    candidates: list[CandidateOut] | None = Field(
        default=None, description="for an ambiguous id prefix: the ids it could mean"
    )
    deployment_id: str | None = Field(
        default=None, description="for a rollback already asked for: the deployment doing it"
    )


class Page(Out, Generic[Item]):
    items: list[Item]
    next_cursor: int | None = Field(description="pass as ?cursor= for the next page")


class ItemsOut(Out, Generic[Item]):
    items: list[Item]


class TargetOut(Out):
    name: str
    kind: str
    host: str
    repo: str
    branch: str
    subdirectory: str
    auto_deploy: bool
    removed: bool
    current_commit: str | None
    last_deployment_id: str | None
    last_status: str | None
    last_finished_at: datetime | None
    waiting_for: list[str] = Field(
        description="secrets the target's next deployment is held for ('waiting for secret "
        "ha-ssh-key'); it begins by itself once they are stored"
    )
    status: Literal["green", "amber", "red", "grey"]


class DeploymentOut(Out):
    id: str
    target: str
    repo: str
    commit: str | None
    branch: str | None
    trigger: str
    dry_run: bool
    status: str
    step: str | None
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    reason: str | None
    rolled_back: bool
    host_touched: bool | None = Field(
        description="set when the deployment failed: false = it failed before changing "
        "anything on the host (shown as 'failed — host untouched'), and the target keeps "
        "the status of what it runs"
    )
    superseded_by: str | None
    correlation_id: str
    actor: str


class StepOut(Out):
    seq: int
    type: str
    at: datetime
    data: dict[str, Any]


class LogLineOut(Out):
    seq: int
    line_no: int
    at: datetime
    level: str
    step: str | None
    message: str


class DeploymentDetailOut(DeploymentOut):
    plan: dict[str, Any] | None
    diff: str | None
    diff_truncated: bool
    steps: list[StepOut]
    logs: list[LogLineOut]


class BackupOut(Out):
    backup_id: str
    target: str
    deployment_id: str
    remote_path: str
    sha256: str
    files: int
    bytes: int
    taken_at: datetime
    before_commit: str | None = Field(
        description="the commit the newest successful deployment before this backup had "
        "deployed: what restoring it goes back to"
    )


class PushOut(Out):
    event_id: str
    repo: str
    ref: str
    branch: str | None
    tag: str | None
    before: str
    after: str
    pusher: str
    source: str
    commits: int
    deleted: bool
    received_at: datetime


class EventOut(Out):
    seq: int
    event_id: str
    type: str
    context: str
    key: str
    occurred_at: datetime
    actor: str
    source: str
    correlation_id: str
    causation_id: str | None
    data: dict[str, Any]


class TargetStatsOut(Out):
    target: str
    deployments: int
    succeeded: int
    failed: int
    rollbacks: int
    success_rate: float | None
    mean_duration_ms: float | None


class StatsOut(Out):
    targets: list[TargetStatsOut]


class DeployIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(pattern=r"^[^\x00]+$")
    commit: str | None = Field(default=None, pattern=r"^[0-9a-f]{7,64}$")
    branch: str | None = Field(default=None, pattern=r"^[^\x00]+$")
    dry_run: bool = False
    full_check: bool = Field(
        default=False, description="re-hash every file on the host (finds drift)"
    )


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str | None = Field(
        default=None,
        pattern=r"^[^\x00]+$",
        description=(
            "a backup id, or a commit (7-64 hex digits); none = the backup of the newest "
            "deployment that was not a rollback (undo it). Asking for what the target's "
            "newest change already restores is answered 409, not repeated"
        ),
    )
    reason: str = Field(default="", pattern=r"^[^\x00]*$")


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", pattern=r"^[^\x00]*$")


class AcceptedOut(Out):
    deployment_id: str
    event_id: str
    correlation_id: str
    follow: str = Field(description="where to watch progress")


class NotifyTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    route: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class NotifyResultOut(Out):
    route: str
    secret: str
    scheme: str
    ok: bool
    reason: str


class NotifyTestOut(Out):
    results: list[NotifyResultOut]


def json_value(value: Any) -> Any:
    """A JSON column as asyncpg returns it (text) or already decoded."""
    return json.loads(value) if isinstance(value, str) else value
