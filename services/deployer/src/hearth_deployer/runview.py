"""What the parts of a deployment run may use of it: narrow protocols, so that the host
check and the service applier work on a run without importing ``workflow`` (which
imports them)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol

from hearth_deployer.context import DeployContext
from hearth_deployer.domain import Deployment
from hearth_deployer.lease import TargetLease
from hearth_deployer.remote.port import RemoteHost
from hearth_deployer.store import DeployerApplication
from hearth_events.catalogue import TargetSpec

Level = Literal["debug", "info", "warning", "error"]


class Finished(Exception):
    """The deployment reached a terminal event inside a step."""


class RunView(Protocol):
    """What the host check reads: the target, the deployment, the host, the log."""

    ctx: DeployContext
    spec: TargetSpec
    d: Deployment
    ignore: tuple[str, ...]
    managed: list[str]

    def log(self, message: str, *, step: str | None = None, level: Level = "info") -> None: ...

    async def host(self) -> RemoteHost: ...


class ApplyingRun(RunView, Protocol):
    """What the service applier needs besides: record steps, restore, succeed."""

    lease: TargetLease
    tree_root: Path

    @property
    def app(self) -> DeployerApplication: ...

    def ids(self) -> dict[str, str]: ...

    def elapsed_ms(self) -> int: ...

    async def write(self, command: Callable[..., Deployment], *args: Any) -> None: ...

    async def flush_log(self) -> None: ...

    async def checkpoint(self, name: str) -> None: ...

    async def restore_files(self) -> None:
        """Put the backed-up files back; records RollbackFailed and raises Finished when
        that fails."""
        ...

    async def succeed(self, managed: list[str] | None) -> None: ...
