"""The deployer's aggregates: the declared targets, each target's queue, each deployment.

Catalogue events (``record``) are relayed to JetStream; ``note`` keeps bookkeeping that
only the deployer needs (a queue position, where a backup lies) in the same store, so a
restarted deployer knows exactly where every deployment stood, without publishing it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from hearth_events import EventData
from hearth_events.catalogue import (
    ConfigFetched,
    DeploymentCancelled,
    DeploymentFailed,
    DeploymentPlanned,
    DeploymentStarted,
    DeploymentSucceeded,
    DeploymentSuperseded,
    DeploymentWaiting,
    RollbackCompleted,
    RollbackFailed,
    RollbackStarted,
    ServiceRestarted,
    TargetRegistered,
    TargetRemoved,
    TargetSpec,
    TargetUpdated,
)
from hearth_eventstore.store import HearthAggregate
from hearth_servicekit.declarations import DeclarationEvents, Declarations

NAMESPACE = UUID("6f1d3c2a-8e0b-4f4e-9a57-1f3b8c0d2e71")
TARGETS_ID = uuid5(NAMESPACE, "targets")
KNOWN_HOSTS_ID = uuid5(NAMESPACE, "known-hosts")
TARGET_EVENTS = DeclarationEvents(TargetRegistered, TargetUpdated, TargetRemoved, "target")
TERMINAL_EVENTS = (
    DeploymentSucceeded,
    DeploymentFailed,
    DeploymentCancelled,
    DeploymentSuperseded,
    RollbackCompleted,
    RollbackFailed,
)
#: How many CI results per target are remembered (a push may arrive after its CI).
CI_RESULTS_KEPT = 50


def deployment_uuid(deployment_id: str) -> UUID:
    return uuid5(NAMESPACE, f"deployment:{deployment_id}")


def line_uuid(target: str) -> UUID:
    return uuid5(NAMESPACE, f"line:{target}")


class DeployerAggregate(HearthAggregate):
    class Noted(Aggregate.Event):
        kind: str
        fields: dict[str, Any]

        def apply(self, aggregate: Aggregate) -> None:
            getattr(aggregate, f"on_{self.kind}")(**self.fields)

    def note(self, kind: str, **fields: Any) -> None:
        """Keep deployer-only bookkeeping; never published."""
        self.trigger_event(self.Noted, kind=kind, fields=fields)


class TargetBook(DeployerAggregate):
    """Every declared target; changed only by ``ApplyTargets``."""

    @staticmethod
    def create_id() -> UUID:
        return TARGETS_ID

    def __init__(self) -> None:
        self.registry: Declarations[TargetSpec] = Declarations(TARGET_EVENTS)

    def when(self, data: EventData) -> None:
        self.registry.apply_data(data)


class KnownHosts(DeployerAggregate):
    """Host keys trusted on first use, so a restart keeps them pinned."""

    @staticmethod
    def create_id() -> UUID:
        return KNOWN_HOSTS_ID

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}

    def learn(self, host: str, port: int, line: str) -> None:
        self.note("host_key_learned", host=host, port=port, line=line)

    def on_host_key_learned(self, host: str, port: int, line: str) -> None:
        self.keys[f"{host}:{port}"] = line


class TargetLine(DeployerAggregate):
    """One target's queue: the deployment touching it, at most one waiting after it, what
    Hearth deployed there last, and pushes waiting for their CI."""

    @staticmethod
    def create_id(target: str) -> UUID:
        return line_uuid(target)

    def __init__(self, target: str) -> None:
        self.target = target
        self.active: str | None = None
        self.waiting: str | None = None
        self.commit: str | None = None
        self.managed: list[str] = []
        self.awaiting_ci: dict[str, dict[str, Any]] = {}
        self.ci_results: dict[str, str] = {}

    def queue(self, deployment_id: str) -> str | None:
        """Queue a deployment; returns the waiting one it supersedes, if any."""
        superseded = self.waiting
        self.note("queued", deployment_id=deployment_id)
        return superseded

    def on_queued(self, deployment_id: str) -> None:
        self.waiting = deployment_id

    def begin(self) -> str:
        assert self.waiting is not None and self.active is None
        deployment_id = self.waiting
        self.note("began", deployment_id=deployment_id)
        return deployment_id

    def on_began(self, deployment_id: str) -> None:
        self.active = deployment_id
        if self.waiting == deployment_id:
            self.waiting = None

    def drop(self, deployment_id: str) -> None:
        """A waiting deployment was cancelled before it began."""
        self.note("dropped", deployment_id=deployment_id)

    def on_dropped(self, deployment_id: str) -> None:
        if self.waiting == deployment_id:
            self.waiting = None

    def end(self, deployment_id: str, *, commit: str | None, managed: list[str] | None) -> None:
        """The active deployment is terminal; ``managed`` is set when files changed."""
        self.note("ended", deployment_id=deployment_id, commit=commit, managed=managed)

    def on_ended(self, deployment_id: str, commit: str | None, managed: list[str] | None) -> None:
        if self.active == deployment_id:
            self.active = None
        if commit is not None:
            self.commit = commit
        if managed is not None:
            self.managed = managed

    def await_ci(self, commit: str, request: dict[str, Any]) -> None:
        self.note("awaiting_ci", commit=commit, request=request)

    def on_awaiting_ci(self, commit: str, request: dict[str, Any]) -> None:
        self.awaiting_ci[commit] = request

    def ci_finished(self, commit: str, conclusion: str) -> dict[str, Any] | None:
        """Remember a CI result; returns the push request it releases, if any."""
        request = self.awaiting_ci.get(commit)
        self.note("ci_finished", commit=commit, conclusion=conclusion)
        return request if conclusion == "success" else None

    def on_ci_finished(self, commit: str, conclusion: str) -> None:
        self.awaiting_ci.pop(commit, None)
        self.ci_results[commit] = conclusion
        while len(self.ci_results) > CI_RESULTS_KEPT:
            del self.ci_results[next(iter(self.ci_results))]


class Deployment(DeployerAggregate):
    """One deployment (or restore) of one target, from request to a terminal event.

    ``kind`` is ``deploy`` (fetch a commit and deploy it) or ``restore`` (put a kept
    backup back). ``request`` holds what was asked for: commit, branch, dry_run, trigger,
    repo, backup_id.
    """

    @staticmethod
    def create_id(deployment_id: str, target: str, kind: str, request: dict[str, Any]) -> UUID:
        del target, kind, request
        return deployment_uuid(deployment_id)

    def __init__(self, deployment_id: str, target: str, kind: str, request: dict[str, Any]) -> None:
        self.deployment_id = deployment_id
        self.target = target
        self.kind = kind
        self.request = request
        self.recorded: list[str] = []
        self.commit: str | None = request.get("commit")
        self.touched: list[str] = []
        self.managed_after: list[str] | None = None
        self.backup: dict[str, Any] | None = None
        self.upload_begun = False
        self.restarted = False
        self.rollback_begun = False
        self.cancel_reason: str | None = None
        self.terminal: str | None = None
        #: The missing secrets this deployment was last recorded waiting for.
        self.waiting_for: tuple[str, ...] = ()

    @property
    def dry_run(self) -> bool:
        return bool(self.request.get("dry_run"))

    def has(self, event: type[EventData]) -> bool:
        return event.type_name() in self.recorded

    def when(self, data: EventData) -> None:
        self.recorded.append(data.type_name())
        if isinstance(data, ConfigFetched) or (isinstance(data, DeploymentStarted) and data.commit):
            self.commit = data.commit
        elif isinstance(data, DeploymentPlanned):
            self.touched = sorted(f.path for f in (*data.added, *data.changed, *data.removed))
        elif isinstance(data, ServiceRestarted):
            self.restarted = True
        elif isinstance(data, RollbackStarted):
            self.rollback_begun = True
        elif isinstance(data, DeploymentWaiting):
            self.waiting_for = data.waiting_for
        if isinstance(data, TERMINAL_EVENTS):
            self.terminal = data.type_name()

    # -- bookkeeping the relay does not publish ----------------------------------------
    def keep_backup(self, info: dict[str, Any]) -> None:
        self.note("backup_kept", info=info)

    def on_backup_kept(self, info: dict[str, Any]) -> None:
        self.backup = info

    def begin_upload(self, touched: list[str], managed_after: list[str]) -> None:
        """From here on the target may hold new files: a crash must be compensated."""
        self.note("upload_begun", touched=touched, managed_after=managed_after)

    def on_upload_begun(self, touched: list[str], managed_after: list[str]) -> None:
        self.upload_begun = True
        self.touched = touched
        self.managed_after = managed_after

    def remember_managed(self, managed: list[str]) -> None:
        """The files Hearth will own on the target once this deployment succeeds."""
        self.note("managed_known", managed=managed)

    def on_managed_known(self, managed: list[str]) -> None:
        self.managed_after = managed

    def ask_to_cancel(self, reason: str) -> None:
        self.note("cancel_asked", reason=reason)

    def on_cancel_asked(self, reason: str) -> None:
        self.cancel_reason = reason
