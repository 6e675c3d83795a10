"""Events of the ``deploy`` context: one deployment, step by step, and rollbacks."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from hearth_events.base import EventData, register

__all__ = [
    "BackupTaken",
    "ChangedFile",
    "ConfigFetched",
    "ConfigValidated",
    "DeployRequested",
    "DeploymentCancelRequested",
    "DeploymentCancelled",
    "DeploymentFailed",
    "DeploymentLogged",
    "DeploymentPlanned",
    "DeploymentStarted",
    "DeploymentSucceeded",
    "DeploymentSuperseded",
    "DeploymentWaiting",
    "FilesDeployed",
    "HealthCheckFailed",
    "HealthCheckPassed",
    "HostCheckFailed",
    "HostCheckPassed",
    "LogLine",
    "RollbackCompleted",
    "RollbackFailed",
    "RollbackRequested",
    "RollbackStarted",
    "ServiceRestarted",
    "ValidationFailed",
    "ValidationIssue",
]

Step = Literal[
    "fetch",
    "validate",
    "plan",
    "backup",
    "upload",
    "host_check",
    "restart",
    "health_check",
    "rollback",
    "report",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ValidationIssue(_Frozen):
    path: str
    line: int | None = None
    column: int | None = None
    message: str


class ChangedFile(_Frozen):
    path: str
    sha256: str | None = None
    size: int | None = None
    mode: int | None = None


class LogLine(_Frozen):
    at: datetime
    level: Literal["debug", "info", "warning", "error"] = "info"
    step: str | None = None
    message: str


class _DeployEvent(EventData):
    context: ClassVar[str] = "deploy"
    key_field: ClassVar[str] = "target"

    deployment_id: str
    target: str


@register
class DeployRequested(_DeployEvent):
    repo: str
    commit: str | None = Field(default=None, description="exact commit; None = head of branch")
    branch: str | None = None
    trigger: Literal["push", "manual", "rollback", "schedule"]
    dry_run: bool = False
    full_check: bool = Field(
        default=False,
        description="re-hash every file on the host instead of trusting size and mtime",
    )


@register
class DeploymentWaiting(_DeployEvent):
    """The deployment is held before it begins (nothing fetched, the host untouched) until
    what it needs exists; it begins by itself then. Recorded again only when what it waits
    for changes."""

    severity: ClassVar[str] = "warning"
    waiting_for: tuple[str, ...] = Field(description="names of the missing secrets")
    reason: str = Field(description="e.g. 'waiting for secret ha-ssh-key (the SSH private key)'")


@register
class DeploymentStarted(_DeployEvent):
    commit: str | None = None


@register
class ConfigFetched(_DeployEvent):
    commit: str
    files: int
    bytes: int
    via: Literal["git", "github"] = "git"


@register
class ConfigValidated(_DeployEvent):
    files_checked: int
    warnings: tuple[ValidationIssue, ...] = ()


@register
class ValidationFailed(_DeployEvent):
    severity: ClassVar[str] = "failure"
    errors: tuple[ValidationIssue, ...]


@register
class DeploymentPlanned(_DeployEvent):
    added: tuple[ChangedFile, ...] = ()
    changed: tuple[ChangedFile, ...] = ()
    removed: tuple[ChangedFile, ...] = ()
    diff: str = Field(default="", description="unified diff of text files")
    diff_truncated: bool = False
    drifted: tuple[str, ...] = Field(
        default=(),
        description="files Hearth deployed that were changed on the host behind its back "
        "since its last deployment (drift); this deployment overwrites them",
    )


@register
class BackupTaken(_DeployEvent):
    backup_id: str
    remote_path: str
    sha256: str
    files: int
    bytes: int


@register
class FilesDeployed(_DeployEvent):
    written: int
    removed: int
    bytes: int


@register
class HostCheckPassed(_DeployEvent):
    check: str
    warnings: str | None = None


@register
class HostCheckFailed(_DeployEvent):
    severity: ClassVar[str] = "failure"
    check: str
    errors: str


@register
class ServiceRestarted(_DeployEvent):
    service: str
    method: Literal["restart", "reload", "command"] = "restart"
    domains: tuple[str, ...] = ()


@register
class HealthCheckPassed(_DeployEvent):
    check: str
    duration_ms: int


@register
class HealthCheckFailed(_DeployEvent):
    severity: ClassVar[str] = "failure"
    check: str
    detail: str
    duration_ms: int


@register
class DeploymentSucceeded(_DeployEvent):
    severity: ClassVar[str] = "success"
    commit: str
    duration_ms: int


@register
class DeploymentFailed(_DeployEvent):
    severity: ClassVar[str] = "failure"
    step: Step
    reason: str
    rolled_back: bool = False
    host_touched: bool = Field(
        default=True,
        description="false when the deployment failed before changing anything on the host "
        "(an unknown commit, invalid configuration): the target still runs what it ran",
    )


@register
class DeploymentSuperseded(_DeployEvent):
    superseded_by: str


@register
class DeploymentCancelRequested(_DeployEvent):
    reason: str = ""


@register
class DeploymentCancelled(_DeployEvent):
    severity: ClassVar[str] = "warning"
    reason: str = ""
    rolled_back: bool = False


@register
class RollbackRequested(_DeployEvent):
    to_backup: str | None = None
    to_commit: str | None = None
    reason: str = ""


@register
class RollbackStarted(_DeployEvent):
    backup_id: str | None = None
    commit: str | None = None


@register
class RollbackCompleted(_DeployEvent):
    severity: ClassVar[str] = "warning"
    backup_id: str | None = None
    commit: str | None = None


@register
class RollbackFailed(_DeployEvent):
    severity: ClassVar[str] = "failure"
    reason: str


@register
class DeploymentLogged(_DeployEvent):
    lines: tuple[LogLine, ...]
