"""One deployment (or restore) of one target, from request to a terminal event.

Every command checks that it is legal where the deployment stands and raises
``IllegalTransition`` otherwise; each records one named event: a catalogue event (relayed
to JetStream) or deployer-only bookkeeping (where a backup lies, what the upload touches),
kept in the same store so a restarted deployer knows exactly where it stood.
"""

from __future__ import annotations

from typing import Any, NoReturn
from uuid import UUID

from eventsourcing.domain import event

from hearth_deployer.domain.errors import IllegalTransition
from hearth_deployer.domain.ids import deployment_uuid
from hearth_deployer.domain.target_line import Restored
from hearth_events import EventData
from hearth_events.catalogue import (
    BackupTaken,
    ConfigFetched,
    ConfigValidated,
    DeploymentCancelled,
    DeploymentFailed,
    DeploymentLogged,
    DeploymentPlanned,
    DeploymentStarted,
    DeploymentSucceeded,
    DeploymentSuperseded,
    DeploymentWaiting,
    DeployRequested,
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
from hearth_eventstore.store import HearthAggregate, Meta

TERMINAL_EVENTS = (
    DeploymentSucceeded,
    DeploymentFailed,
    DeploymentCancelled,
    DeploymentSuperseded,
    RollbackCompleted,
    RollbackFailed,
)


class Deployment(HearthAggregate):
    """``kind`` is ``deploy`` (fetch a commit and deploy it) or ``restore`` (put a kept
    backup back). ``request`` holds what was asked for: commit, branch, dry_run, trigger,
    repo, backup_id."""

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
        #: The files Hearth manages on the target once this deployment succeeds; None when
        #: not known, or when they are the ones the target's line already holds.
        self.managed_after: list[str] | None = None
        self.backup: dict[str, Any] | None = None
        self.upload_begun = False
        self.restarted = False
        self.rollback_begun = False
        self.cancel_reason: str | None = None
        self.terminal: str | None = None
        #: The missing secrets this deployment was last recorded waiting for.
        self.waiting_for: tuple[str, ...] = ()

    # -- where it stands -----------------------------------------------------------------
    @property
    def dry_run(self) -> bool:
        return bool(self.request.get("dry_run"))

    def has(self, event: type[EventData]) -> bool:
        return event.type_name() in self.recorded

    @property
    def started(self) -> bool:
        return self.has(DeploymentStarted)

    @property
    def is_fetched(self) -> bool:
        return self.has(ConfigFetched)

    @property
    def is_validated(self) -> bool:
        return self.has(ConfigValidated)

    @property
    def is_planned(self) -> bool:
        return self.has(DeploymentPlanned)

    @property
    def is_backed_up(self) -> bool:
        return self.has(BackupTaken)

    @property
    def is_uploaded(self) -> bool:
        return self.has(FilesDeployed)

    @property
    def is_host_checked(self) -> bool:
        return self.has(HostCheckPassed)

    @property
    def is_healthy(self) -> bool:
        return self.has(HealthCheckPassed)

    # -- commands: before the run --------------------------------------------------------
    def request_deploy(self, data: DeployRequested, meta: Meta) -> None:
        """Announce the request (when it began in this service)."""
        self._require(not self.recorded, "be requested", "was requested already")
        self._record(data, meta)

    def wait(self, data: DeploymentWaiting, meta: Meta) -> None:
        self._live("wait")
        self._require(not self.started, "wait", "has started")
        self._record(data, meta)

    def supersede(self, by: str, meta: Meta) -> None:
        self._live("be superseded")
        self._require(not self.started, "be superseded", "has started")
        self._record(
            DeploymentSuperseded(**self._ids(), superseded_by=by),
            meta,
        )

    def start(self, data: DeploymentStarted, meta: Meta) -> None:
        self._live("start")
        self._require(not self.started, "start", "has started already")
        self._record(data, meta)

    # -- commands: a deployment's steps --------------------------------------------------
    def fetched(self, data: ConfigFetched, meta: Meta) -> None:
        self._deploy_step("record a fetch")
        self._require(self.started, "record a fetch", "has not started")
        self._require(not self.is_fetched, "record a fetch", "was fetched already")
        self._record(data, meta)

    def validated(self, data: ConfigValidated, meta: Meta) -> None:
        self._validation("pass validation")
        self._record(data, meta)

    def validation_failed(self, data: ValidationFailed, meta: Meta) -> None:
        self._validation("fail validation")
        self._record(data, meta)

    def planned(self, data: DeploymentPlanned, meta: Meta) -> None:
        self._deploy_step("plan")
        self._require(self.is_validated, "plan", "is not validated")
        self._require(not self.is_planned, "plan", "was planned already")
        self._record(data, meta)

    def backed_up(self, data: BackupTaken, backup: dict[str, Any], meta: Meta) -> None:
        """A backup was taken (in a restore: the safety backup of what it overwrites)."""
        self._live("record a backup")
        self._require(not self.upload_begun, "record a backup", "has begun its upload")
        if self.kind == "restore":
            self._require(self.started, "record a backup", "has not started")
        else:
            self._require(self.is_planned, "record a backup", "is not planned")
            self._require(not self.is_backed_up, "record a backup", "is backed up already")
        self._backup_kept(backup)
        self._record(data, meta)

    def begin_upload(self, touched: list[str], managed_after: list[str] | None) -> None:
        """From here on the target may hold new files: a crash must be compensated.
        ``managed_after``: the files Hearth manages there once uploaded; None when they
        are the ones its line already holds (a one-file change to a tree of 400 files
        stored the 400 paths again with every deployment)."""
        self._deploy_step("upload")
        self._require(self.is_backed_up, "upload", "is not backed up")
        self._require(not self.upload_begun, "upload", "has begun its upload already")
        self._upload_begun(touched, managed_after)

    def uploaded(self, data: FilesDeployed, meta: Meta) -> None:
        self._deploy_step("record an upload")
        self._require(self.upload_begun, "record an upload", "has not begun its upload")
        self._require(not self.is_uploaded, "record an upload", "was uploaded already")
        self._record(data, meta)

    def host_checked(self, data: HostCheckPassed | HostCheckFailed, meta: Meta) -> None:
        self._deploy_step("record a host check")
        self._require(self.is_uploaded, "record a host check", "is not uploaded")
        self._require(not self.is_host_checked, "record a host check", "was host-checked")
        self._require(not self.rollback_begun, "record a host check", "is rolling back")
        self._record(data, meta)

    def service_restarted(self, data: ServiceRestarted, meta: Meta) -> None:
        """After the upload, or during a rollback on the old files."""
        self._live("record a restart")
        self._require(
            self.is_uploaded or self.rollback_begun,
            "record a restart",
            "is neither uploaded nor rolling back",
        )
        self._record(data, meta)

    def health_checked(self, data: HealthCheckPassed | HealthCheckFailed, meta: Meta) -> None:
        self._deploy_step("record a health check")
        self._require(self.is_uploaded, "record a health check", "is not uploaded")
        self._require(not self.rollback_begun, "record a health check", "is rolling back")
        self._record(data, meta)

    def log(self, lines: tuple[LogLine, ...], meta: Meta) -> None:
        """Keep log lines (at any time: a line never changes where the deployment stands)."""
        self._record(DeploymentLogged(**self._ids(), lines=lines), meta)

    # -- commands: the end ---------------------------------------------------------------
    def succeed(self, data: DeploymentSucceeded, meta: Meta, *, managed: list[str] | None) -> None:
        """``managed``: the files Hearth owns on the target from now on, when known."""
        self._deploy_step("succeed")
        self._require(self.is_validated, "succeed", "is not validated")
        if self.upload_begun:
            self._require(self.is_healthy, "succeed", "is not healthy after its upload")
        else:
            self._require(not self.is_backed_up, "succeed", "is backed up but not uploaded")
        if managed is not None and self.managed_after is None:
            self._managed_known(managed)
        self._record(data, meta)

    def fail(self, data: DeploymentFailed, meta: Meta) -> None:
        self._live("fail")
        self._record(data, meta)

    def ask_to_cancel(self, reason: str) -> None:
        self._live("be asked to cancel")
        self._cancel_asked(reason)

    def cancel(self, data: DeploymentCancelled, meta: Meta) -> None:
        self._live("cancel")
        self._require(
            not self.started or self.cancel_reason is not None,
            "cancel",
            "has started and nobody asked to cancel it",
        )
        self._record(data, meta)

    # -- commands: rolling back ----------------------------------------------------------
    def begin_restore(self, backup: dict[str, Any], touched: list[str]) -> None:
        """A restore puts ``backup`` back over ``touched``: from here it rolls back."""
        self._live("restore")
        self._require(self.kind == "restore", "restore", "is not a restore")
        self._require(self.is_backed_up, "restore", "has no safety backup")
        self._require(not self.upload_begun, "restore", "has begun restoring already")
        self._backup_kept(backup)
        self._upload_begun(touched, [])

    def roll_back(self, data: RollbackStarted, meta: Meta) -> None:
        self._live("roll back")
        self._require(self.upload_begun, "roll back", "has not touched the host")
        self._require(not self.rollback_begun, "roll back", "is rolling back already")
        self._record(data, meta)

    def rolled_back(self, data: RollbackCompleted, meta: Meta) -> None:
        self._live("complete a rollback")
        self._require(self.rollback_begun, "complete a rollback", "is not rolling back")
        self._record(data, meta)

    def rollback_failed(self, data: RollbackFailed, meta: Meta) -> None:
        """Putting the backup back failed (in a rollback, or compensating an upload)."""
        self._live("fail a rollback")
        self._require(self.upload_begun, "fail a rollback", "has not touched the host")
        self._record(data, meta)

    def restored(self) -> Restored | None:
        """What a restore that completed put back and deleted; None for anything else (a
        rollback of a deployment's own upload leaves the files as its line holds them)."""
        if self.kind != "restore" or self.terminal != "RollbackCompleted" or not self.backup:
            return None
        files, absent = self.backup.get("files", ()), self.backup.get("absent", ())
        return Restored(put_back=tuple(files), deleted=tuple(absent))

    # -- rules ---------------------------------------------------------------------------
    def _ids(self) -> dict[str, str]:
        return {"deployment_id": self.deployment_id, "target": self.target}

    def _refuse(self, what: str, why: str) -> NoReturn:
        raise IllegalTransition(f"cannot {what}: deployment {self.deployment_id} {why}")

    def _require(self, condition: bool, what: str, why: str) -> None:
        if not condition:
            self._refuse(what, why)

    def _live(self, what: str) -> None:
        if self.terminal is not None:
            self._refuse(what, f"has ended ({self.terminal})")

    def _deploy_step(self, what: str) -> None:
        self._live(what)
        self._require(self.kind == "deploy", what, "is a restore")

    def _validation(self, what: str) -> None:
        self._deploy_step(what)
        self._require(self.is_fetched, what, "is not fetched")
        self._require(not self.is_validated, what, "was validated already")

    def record(self, data: EventData, meta: Meta) -> NoReturn:
        """Not for a deployment: every change goes through a command that checks it."""
        del data, meta
        raise TypeError("a deployment changes only through its commands")

    def _record(self, data: EventData, meta: Meta) -> None:
        named = (getattr(data, "deployment_id", None), getattr(data, "target", None))
        if named != (self.deployment_id, self.target):
            self._refuse(f"record {data.type_name()}", "is not the deployment it names")
        super().record(data, meta)

    # -- events: how each changes the state ----------------------------------------------
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

    class BackupKept(HearthAggregate.Event):
        info: dict[str, Any]

    @event(BackupKept)
    def _backup_kept(self, info: dict[str, Any]) -> None:
        self.backup = info

    class UploadBegun(HearthAggregate.Event):
        touched: list[str]
        managed_after: list[str] | None

    @event(UploadBegun)
    def _upload_begun(self, touched: list[str], managed_after: list[str] | None) -> None:
        self.upload_begun = True
        self.touched = touched
        self.managed_after = managed_after

    class ManagedKnown(HearthAggregate.Event):
        managed: list[str]

    @event(ManagedKnown)
    def _managed_known(self, managed: list[str]) -> None:
        self.managed_after = managed

    class CancelAsked(HearthAggregate.Event):
        reason: str

    @event(CancelAsked)
    def _cancel_asked(self, reason: str) -> None:
        self.cancel_reason = reason
