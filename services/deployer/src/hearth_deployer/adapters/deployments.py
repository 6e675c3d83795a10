"""The deployer application's deployment commands: each loads the deployment, keeps the
run's log lines, calls one command of the aggregate (which checks the transition) and saves.

``log`` holds the lines the run wrote since its last write; they are stored just before
the event, in the same save. :meth:`DeploymentCommands.after_held` stores the steps a run
held (:class:`Held`) in the same save as the command that follows them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hearth_deployer.domain import Deployment, deployment_uuid
from hearth_events.catalogue import (
    BackupTaken,
    ConfigFetched,
    ConfigValidated,
    DeploymentCancelled,
    DeploymentFailed,
    DeploymentPlanned,
    DeploymentStarted,
    DeploymentSucceeded,
    DeploymentWaiting,
    FilesDeployed,
    HealthCheckFailed,
    HealthCheckPassed,
    HostCheckFailed,
    HostCheckPassed,
    LogLine,
    RollbackCompleted,
    RollbackFailed,
    RollbackStarted,
    ServiceRestarted,
    ValidationFailed,
)
from hearth_eventstore.store import HearthApplication, Meta

Lines = tuple[LogLine, ...]


@dataclass
class Held:
    """Steps a run recorded on its own copy of a deployment and has not stored yet: each
    as the aggregate's command (to call again) and the events it recorded there.

    They are stored with the run's next write, in its save (:meth:`DeploymentCommands.
    after_held`): as recorded, when the stored deployment is still at ``base_version``;
    recorded again on what is stored when a write of someone else came between (a
    request to cancel), which then decides."""

    base_version: int
    steps: list[Callable[[Deployment], None]] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)

    def hold(self, deployment: Deployment, step: Callable[[Deployment], None]) -> None:
        """Record ``step`` on ``deployment`` (the run's copy) and hold it."""
        before = len(deployment.pending_events)
        step(deployment)
        self.steps.append(step)
        self.events += deployment.pending_events[before:]

    def apply_to(self, stored: Deployment) -> None:
        if stored.version == self.base_version:
            for recorded in self.events:
                recorded.mutate(stored)
                stored.pending_events.append(recorded)
        else:
            for step in self.steps:
                step(stored)


class DeploymentCommands(HearthApplication):
    def deployment(self, deployment_id: str) -> Deployment | None:
        found: Deployment | None = self._get(deployment_uuid(deployment_id))
        return found

    def deployment_if_newer(self, deployment_id: str, version: int) -> Deployment | None:
        """The deployment as stored, when the store holds an event of it newer than
        ``version`` (a command other than the run's recorded something since: a request
        to cancel); None when it holds none. Asking fetches at most one event, decoded
        only when there is one: the run's cancel points, three a deployment, rebuilt it
        from all of its events to find nothing."""
        newer = self.events.get(deployment_uuid(deployment_id), gt=version, limit=1)
        if next(iter(newer), None) is None:
            return None
        return self.deployment(deployment_id)

    def after_held(
        self,
        held: Held,
        command: Callable[..., Deployment],
        deployment_id: str,
        *args: Any,
        **kwargs: Any,
    ) -> Deployment:
        """Run ``command`` on the deployment with the steps ``held`` recorded first: one
        save for all (the write reads the deployment once, see ``run_one``)."""
        held.apply_to(self._deployment(deployment_id))
        return command(deployment_id, *args, **kwargs)

    def _deployment(self, deployment_id: str, meta: Meta | None = None, log: Lines = ()) -> Any:
        deployment = self.deployment(deployment_id)
        if deployment is None:
            raise LookupError(f"no deployment {deployment_id}")
        if log:
            assert meta is not None
            deployment.log(log, meta)
        return deployment

    def _saved(self, deployment: Deployment) -> Deployment:
        self.save(deployment)
        return deployment

    # -- one method per command ------------------------------------------------------
    def keep_log(self, deployment_id: str, *, meta: Meta, log: Lines) -> Deployment:
        return self._saved(self._deployment(deployment_id, meta, log))

    def wait(self, deployment_id: str, data: DeploymentWaiting, *, meta: Meta) -> Deployment:
        d = self._deployment(deployment_id)
        d.wait(data, meta)
        return self._saved(d)

    def start(
        self, deployment_id: str, data: DeploymentStarted, *, meta: Meta, log: Lines = ()
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.start(data, meta)
        return self._saved(d)

    def fetched(
        self, deployment_id: str, data: ConfigFetched, *, meta: Meta, log: Lines = ()
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.fetched(data, meta)
        return self._saved(d)

    def validated(
        self, deployment_id: str, data: ConfigValidated, *, meta: Meta, log: Lines = ()
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.validated(data, meta)
        return self._saved(d)

    def validation_failed(
        self, deployment_id: str, data: ValidationFailed, *, meta: Meta, log: Lines = ()
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.validation_failed(data, meta)
        return self._saved(d)

    def planned(
        self, deployment_id: str, data: DeploymentPlanned, *, meta: Meta, log: Lines = ()
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.planned(data, meta)
        return self._saved(d)

    def backed_up(
        self,
        deployment_id: str,
        data: BackupTaken,
        backup: dict[str, Any],
        *,
        meta: Meta,
        log: Lines = (),
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.backed_up(data, backup, meta)
        return self._saved(d)

    def begin_upload(
        self,
        deployment_id: str,
        touched: list[str],
        managed_after: list[str] | None,
        *,
        meta: Meta,
        log: Lines = (),
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.begin_upload(touched, managed_after)
        return self._saved(d)

    def begin_restore(
        self,
        deployment_id: str,
        backup: dict[str, Any],
        touched: list[str],
        *,
        meta: Meta,
        log: Lines = (),
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.begin_restore(backup, touched)
        return self._saved(d)

    def uploaded(
        self, deployment_id: str, data: FilesDeployed, *, meta: Meta, log: Lines = ()
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.uploaded(data, meta)
        return self._saved(d)

    def host_checked(
        self,
        deployment_id: str,
        data: HostCheckPassed | HostCheckFailed,
        *,
        meta: Meta,
        log: Lines = (),
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.host_checked(data, meta)
        return self._saved(d)

    def service_restarted(
        self, deployment_id: str, data: ServiceRestarted, *, meta: Meta, log: Lines = ()
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.service_restarted(data, meta)
        return self._saved(d)

    def health_checked(
        self,
        deployment_id: str,
        data: HealthCheckPassed | HealthCheckFailed,
        *,
        meta: Meta,
        log: Lines = (),
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.health_checked(data, meta)
        return self._saved(d)

    def succeed(
        self,
        deployment_id: str,
        data: DeploymentSucceeded,
        managed: list[str] | None,
        *,
        meta: Meta,
        log: Lines = (),
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.succeed(data, meta, managed=managed)
        return self._saved(d)

    def succeed_healthy(
        self,
        deployment_id: str,
        passed: HealthCheckPassed,
        data: DeploymentSucceeded,
        managed: list[str] | None,
        *,
        meta: Meta,
        log: Lines = (),
    ) -> Deployment:
        """The health check passed and the deployment succeeded: both in one save (the
        run has nothing left to do between them)."""
        d = self._deployment(deployment_id, meta, log)
        d.health_checked(passed, meta)
        d.succeed(data, meta, managed=managed)
        return self._saved(d)

    def fail(
        self, deployment_id: str, data: DeploymentFailed, *, meta: Meta, log: Lines = ()
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.fail(data, meta)
        return self._saved(d)

    def cancel(
        self, deployment_id: str, data: DeploymentCancelled, *, meta: Meta, log: Lines = ()
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.cancel(data, meta)
        return self._saved(d)

    def roll_back(
        self, deployment_id: str, data: RollbackStarted, *, meta: Meta, log: Lines = ()
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.roll_back(data, meta)
        return self._saved(d)

    def rolled_back(
        self, deployment_id: str, data: RollbackCompleted, *, meta: Meta, log: Lines = ()
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.rolled_back(data, meta)
        return self._saved(d)

    def rollback_failed(
        self, deployment_id: str, data: RollbackFailed, *, meta: Meta, log: Lines = ()
    ) -> Deployment:
        d = self._deployment(deployment_id, meta, log)
        d.rollback_failed(data, meta)
        return self._saved(d)
