"""What every step may use of the run it serves, and how a step ends a run.

Each step module declares the narrow protocol it needs (what it reads, what it records);
they all extend :class:`Recording`. ``DeploymentRun`` (``hearth_deployer.workflows.deployment``)
satisfies every one of them, and no step imports the workflow.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from hearth_deployer.adapters.store import DeployerApplication
from hearth_deployer.domain import Deployment
from hearth_events.catalogue import TargetSpec

Level = Literal["debug", "info", "warning", "error"]


class Finished(Exception):
    """The deployment reached a terminal event inside a step."""


class StepFailed(Exception):
    """A step could not go on; the run records ``DeploymentFailed`` for it."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(reason)
        self.step = step
        self.reason = reason


class Unhealthy(Exception):
    """A restart, a reload, a post-deploy command or a health check failed."""

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(detail)
        self.check = check
        self.detail = detail


class Recording(Protocol):
    """What every step reads and how it records: the target, the deployment, the log
    lines, and one of the application's deployment commands per step."""

    spec: TargetSpec
    d: Deployment

    @property
    def app(self) -> DeployerApplication: ...

    def ids(self) -> dict[str, str]: ...

    def log(self, message: str, *, step: str | None = None, level: Level = "info") -> None: ...

    async def write(self, command: Callable[..., Deployment], *args: Any) -> None:
        """Call ``command`` of the application with ``args``; the log lines written since
        the last write are stored with it."""
        ...


def new_backup_id(deployment_id: str) -> str:
    """A backup's name: when it was taken and whose it is."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{deployment_id[-12:]}"
