"""One deployment, step by step: every step an event, every step's log lines kept.

The run reads where the deployment stood from its aggregate, so the same code starts a
new deployment and resumes one after a crash. Until the upload begins the target is
untouched and the run simply continues; a crash during the upload is compensated by
restoring the backup; after the upload the new tree is whole and the run goes on.

``DeploymentRun`` orchestrates: it holds what the steps share (the deployment, the log,
the host, the lease) and calls the steps of ``hearth_deployer.workflows.steps`` in order; the steps
do the work and record it through the application's deployment commands.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from hearth_deployer.adapters.deployments import Held
from hearth_deployer.adapters.lease import TargetLease
from hearth_deployer.adapters.sources import ConfigSource
from hearth_deployer.adapters.store import DeployerApplication
from hearth_deployer.domain import Deployment
from hearth_deployer.domain.fetched import FetchedTree
from hearth_deployer.domain.target_spec import backup_dir, ignored_paths
from hearth_deployer.remote.port import RemoteHost, session_scope
from hearth_deployer.workflows.context import DeployContext
from hearth_deployer.workflows.steps import activate, backup, compensate, health, planning, upload
from hearth_deployer.workflows.steps.base import Finished, Level, StepFailed, Unhealthy
from hearth_deployer.workflows.steps.fetch import fetch
from hearth_deployer.workflows.steps.hostcheck import HostCheck
from hearth_deployer.workflows.steps.status import report_status
from hearth_deployer.workflows.steps.validate import validate
from hearth_events.catalogue import (
    DeploymentFailed,
    DeploymentStarted,
    DeploymentSucceeded,
    HealthCheckPassed,
    LogLine,
    TargetSpec,
)
from hearth_eventstore.store import Meta
from hearth_servicekit.faults import fault_point

STOPPED_DURING_UPLOAD = (
    "the deployer stopped (or lost its lease) during the upload; the target was restored "
    "from its backup"
)
RESTARTED_DURING_ROLLBACK = "the deployer restarted during a rollback"
log = logging.getLogger(__name__)
#: How a deployment ends with the host's files as the last success left them: before its
#: upload, or with them restored from its backup (a restore that fails is RollbackFailed).
HOST_AS_IT_WAS = frozenset({"DeploymentFailed", "DeploymentCancelled", "RollbackCompleted"})
#: The deployment commands of a run's progress whose write may leave the info lines logged
#: since for a later write (``DeploymentRun.write``). Every other write (an ending, a
#: failure, a rollback, a wait, the log kept on its own) stores every line logged before it.
HOLDS_LINES = frozenset(
    {
        "start",
        "fetched",
        "validated",
        "planned",
        "backed_up",
        "begin_upload",
        "uploaded",
        "host_checked",
        "service_restarted",
    }
)
#: The levels of the lines a progress step's write may leave for a later one.
QUIET = frozenset({"debug", "info"})
#: The steps a run may hold and store with its next write (``DeploymentRun.write``): none
#: changes the target's files, so a run that stops with them unstored does them again.
#: Each is the aggregate's command of the same name, called with the write's arguments
#: and the run's meta.
HELD_STEPS = frozenset({"start", "fetched", "validated", "planned", "backed_up"})


class DeploymentRun:
    def __init__(
        self,
        ctx: DeployContext,
        deployment: Deployment,
        spec: TargetSpec,
        *,
        managed: list[str],
        base_commit: str | None,
        lease: TargetLease,
        meta: Meta,
        last_ended: str | None = None,
    ) -> None:
        """``managed``, ``base_commit`` and ``last_ended``: what the target's line holds
        (the files and the commit its last deployment left, the last deployment that
        ended there); only a run on this target changes them, when it ends, and this run
        holds the target's lease."""
        self.ctx = ctx
        self.d = deployment
        self.spec = spec
        self.managed = managed
        self.base_commit = base_commit
        self.last_ended = last_ended
        self.lease = lease
        self.meta = meta
        self.ignore = ignored_paths(spec)
        self.backups = backup_dir(spec)
        self.workdir = ctx.workdir / deployment.deployment_id
        self.started = time.monotonic()
        self._lines: list[LogLine] = []
        #: Steps recorded on ``self.d`` and not stored yet, and when the first was.
        self._steps: Held | None = None
        self._steps_since = 0.0
        #: One write of the run at a time: its steps', or the held lines' (``log``).
        self._writing = asyncio.Lock()
        self._held: asyncio.TimerHandle | None = None
        self._storing_held: asyncio.Task[None] | None = None
        self._host: RemoteHost | None = None
        self.tree_root = self.workdir / "tree"
        self.fetched_from: ConfigSource | None = None
        self.check = HostCheck(self)

    # -- what the steps share ------------------------------------------------------------
    def log(self, message: str, *, step: str | None = None, level: Level = "info") -> None:
        """Keep a line of the deployment's log: it is stored with the run's next write or a
        later one (see :meth:`write`), at the latest ``log_held_s`` after it was logged."""
        self._lines.append(LogLine(at=datetime.now(UTC), level=level, step=step, message=message))
        self._store_later()

    def _store_later(self) -> None:
        if self._held is None:
            delay = self.ctx.timing.log_held_s
            self._held = asyncio.get_running_loop().call_later(delay, self._store_held)

    @property
    def app(self) -> DeployerApplication:
        return self.ctx.store.app

    async def write(self, command: Callable[..., Deployment], *args: Any) -> None:
        """Call one of the application's deployment commands; the log lines written since
        the last write are stored with it (in one ``DeploymentLogged`` before its event).

        A progress step's write (:data:`HOLDS_LINES`) leaves them for a later write while
        they are all info or debug lines logged less than ``log_held_s`` ago: a deployment
        of a few seconds stores its log in one event with its ending instead of one a step
        (seven of its seventeen events). A person watching still sees every line within
        ``log_held_s`` (:meth:`log` stores held lines on their own then), a warning or an
        error with the step's event, and the whole log with the event that ends the run.

        The steps before the upload (:data:`HELD_STEPS`) are held the same way: recorded
        on the run's copy at once, with their own times, and stored with the next write,
        at the latest the upload's beginning (so before any file of the target changes)
        or ``log_held_s`` after the first: a deployment makes six writes instead of
        eleven, each of the five fewer a thread's turn and a read of the aggregate."""
        async with self._writing:
            await self._write(command, *args)

    async def _write(self, command: Callable[..., Deployment], *args: Any) -> None:
        self.lease.check()  # a run that lost its lease records nothing more
        name = getattr(command, "__name__", "")
        if name in HELD_STEPS and self._may_hold():
            self._hold(name, args)
            return
        lines: tuple[LogLine, ...] = ()
        if not (name in HOLDS_LINES and self._may_hold()):
            lines, self._lines = tuple(self._lines), []
            self._cancel_timer()
        held, self._steps = self._steps, None
        call: tuple[Any, ...] = (command, self.d.deployment_id, *args)
        if held is not None:
            call = (self.app.after_held, held, *call)
        try:
            self.d = await self.ctx.store.write(*call, meta=self.meta, log=lines)
        except BaseException:
            if held is not None:  # not stored: still held, as the run's copy still has them
                self._steps = held
            raise

    def _hold(self, name: str, args: tuple[Any, ...]) -> None:
        if self._steps is None:
            self._steps = Held(base_version=self.d.version)
            self._steps_since = time.monotonic()
            self._store_later()
        meta = self.meta
        self._steps.hold(self.d, lambda d: getattr(d, name)(*args, meta))

    @property
    def stored_version(self) -> int:
        """The deployment's version in the store: the run's copy less the steps held."""
        return self.d.version - (len(self._steps.events) if self._steps is not None else 0)

    def rebase(self, fresh: Deployment) -> None:
        """Go on from ``fresh`` (the deployment as stored, newer than the run's copy: a
        request to cancel came), with the steps held recorded again on it."""
        held, self._steps = self._steps, None
        self.d = fresh
        if held is not None:
            self._steps = Held(base_version=fresh.version)
            for step in held.steps:
                self._steps.hold(fresh, step)

    def _may_hold(self) -> bool:
        held = self.ctx.timing.log_held_s
        if self._steps is not None and time.monotonic() - self._steps_since >= held:
            return False
        now = datetime.now(UTC)
        return all(
            line.level in QUIET and (now - line.at).total_seconds() < held for line in self._lines
        )

    def _store_held(self) -> None:
        self._held = None
        if self._lines or self._steps is not None:
            self._storing_held = asyncio.create_task(self._flush_held())

    async def _flush_held(self) -> None:
        try:
            async with self._writing:
                if (self._lines or self._steps is not None) and self.d.terminal is None:
                    await self._write(self.app.keep_log)
        except Exception as exc:  # the run's next write stores the lines, or ends it
            log.info("log lines of %s left for the next write: %s", self.d.deployment_id, exc)

    def _cancel_timer(self) -> None:
        if self._held is not None:
            self._held.cancel()
            self._held = None

    def _stop_holding(self) -> None:
        self._cancel_timer()
        if self._storing_held is not None:
            self._storing_held.cancel()
            self._storing_held = None

    async def flush_log(self) -> None:
        """Store the lines logged so far now (a step that waits tells the log why)."""
        self.lease.check()
        async with self._writing:
            if self._lines or self._steps is not None:
                await self._write(self.app.keep_log)

    async def checkpoint(self, name: str) -> None:
        self.lease.check(name)
        if self.ctx.checkpoint is not None:
            await self.ctx.checkpoint(name)

    def ids(self) -> dict[str, str]:
        return {"deployment_id": self.d.deployment_id, "target": self.spec.name}

    async def host(self) -> RemoteHost:
        if self._host is None:
            self._host = self.ctx.hosts.host(await self.ctx.ssh_target(self.spec), self.lease)
        return self._host

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    # -- the run -------------------------------------------------------------------------
    async def run(self) -> Deployment:
        """Carry the deployment to a terminal event and return it. Its steps resolve the
        target's root once (``session_scope``); their file operations share the
        connection's one SFTP session, as every deployment on the host does."""
        try:
            await self._carry()
            await report_status(self)
            if self.d.kind != "restore" and self.d.terminal in HOST_AS_IT_WAS:
                await self._affirm_record()
        finally:
            # Its ending stored every line; a run stopped otherwise stores no more.
            self._stop_holding()
        return self.d

    async def _carry(self) -> None:
        try:
            async with session_scope():
                if self.d.kind == "restore":
                    await self._restore_run()
                else:
                    await self._deploy_run()
        except StepFailed as failure:
            await self._fail(failure)
        except Finished:
            pass
        finally:
            self.check.discard()  # a manifest read validation made unnecessary
            if self.fetched_from is not None:
                self.fetched_from.release(self.tree_root)
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def _affirm_record(self) -> None:
        """The host's files are as the last success left them: the host record holds."""
        try:
            await self.check.affirm()
        except Exception as exc:  # a record is a cache: the next plan re-hashes instead
            self.check.forget()
            log.warning("could not keep the host record of %s: %s", self.spec.name, exc)

    async def _deploy_run(self) -> None:
        d = self.d
        if d.rollback_begun:
            await compensate.roll_back(self, RESTARTED_DURING_ROLLBACK)
            return
        if d.upload_begun and not d.is_uploaded:
            self.log("the deployer stopped during the upload; restoring the backup", step="upload")
            await compensate.undo_upload(self, "upload", STOPPED_DURING_UPLOAD)
        resumed = d.started
        if not resumed:
            await self._start()
        tree = await fetch(self)
        await self.checkpoint("fetched")
        fault_point("deploy.fetched")
        if not self.d.is_uploaded:
            self.check.prefetch()  # read-only: overlaps validation
        await validate(self, tree)
        fault_point("deploy.validated")
        if not self.d.is_uploaded:
            await self._change_files(tree, resumed=resumed)
        await compensate.cancel_if_asked(self, touched=True)
        await self._activate()

    async def _start(self) -> None:
        commit, branch = self.d.request.get("commit"), self.d.request.get("branch")
        asked = f"commit {commit[:12]}" if commit else f"branch {branch or self.spec.branch}"
        self.log(
            f"deploying {asked} to {self.spec.user}@{self.spec.host}:{self.spec.remote_path}",
            step="fetch",
        )
        await self.write(self.app.start, DeploymentStarted(**self.ids(), commit=commit))
        fault_point("deploy.started")
        await report_status(self, state="pending")

    async def _change_files(self, tree: FetchedTree, *, resumed: bool) -> None:
        """Plan, back up and upload; a dry run or an empty plan succeeds here."""
        plan = await planning.plan(self, tree)
        fault_point("deploy.planned")
        if self.d.dry_run or plan.empty:
            self.log(
                "dry run: nothing was changed" if self.d.dry_run else "already up to date",
                step="plan",
            )
            managed = (
                None if self.d.dry_run else planning.managed_after(tree, self.ignore, self.managed)
            )
            await self.succeed(managed=managed)
            raise Finished
        await compensate.cancel_if_asked(self, touched=False)
        # A big upload streams into a staging directory while the backup is taken;
        # nothing is renamed into place before the backup is recorded.
        staged = await upload.stage(self, tree, plan, resumed=resumed)
        fault_point("deploy.staged")
        try:
            await backup.back_up(self, plan)
            fault_point("deploy.backed_up")
            tidy = staged.abandon if staged is not None else None
            await compensate.cancel_if_asked(self, touched=False, tidy=tidy)
        except BaseException:
            if staged is not None:
                await staged.abandon()
            raise
        await upload.upload(self, tree, plan, staged)
        fault_point("deploy.files_deployed")

    async def _activate(self) -> None:
        """Check the host accepts the files, restart what uses them, see it come back
        healthy — and if it does not, roll back."""
        try:
            method = await activate.check_host(self)
            fault_point("deploy.host_checked")
        except Finished:
            raise
        except activate.HostRejected as rejected:  # nothing restarted yet: old files back
            await compensate.undo_upload(self, "host_check", rejected.reason)
        except Exception as exc:
            self.log(f"host check failed: {exc}", step="host_check", level="error")
            await compensate.undo_upload(self, "host_check", str(exc))
        try:
            if not self.d.restarted:
                await self.checkpoint("restart")
                await activate.restart(self, method)
                fault_point("deploy.restarted")
            duration = await health.wait_healthy(self, after_restart=method.restart)
        except Unhealthy as failure:
            await health.record_unhealthy(self, failure)
            fault_point("deploy.health_check_failed")
            await compensate.roll_back(self, f"{failure.check}: {failure.detail}")
            return
        await self.succeed(managed=self.d.managed_after, passed=health.passed(self, duration))

    async def succeed(
        self, managed: list[str] | None, passed: HealthCheckPassed | None = None
    ) -> None:
        """Record the success; with the health check that ``passed`` in the same write (one
        write a deployment fewer: nothing the run does between them touches the host)."""
        assert self.d.commit is not None
        await self._remember_host()
        succeeded = DeploymentSucceeded(
            **self.ids(), commit=self.d.commit, duration_ms=self.elapsed_ms()
        )
        if passed is None:
            await self.write(self.app.succeed, succeeded, managed)
        else:
            await self.write(self.app.succeed_healthy, passed, succeeded, managed)
        fault_point("deploy.succeeded")

    async def _remember_host(self) -> None:
        try:
            await self.check.remember(await self.host(), files_changed=self.d.upload_begun)
        except Exception as exc:  # a record is a cache: the next plan re-hashes instead
            self.check.forget()
            self.log(f"could not record the host's files: {exc}", step="plan", level="warning")

    async def _fail(self, failure: StepFailed) -> None:
        if self.d.terminal is not None:
            return
        self.log(f"{failure.step} failed: {failure.reason}", step=failure.step, level="error")
        step: Any = failure.step
        await self.write(
            self.app.fail,
            DeploymentFailed(
                **self.ids(),
                step=step,
                reason=failure.reason,
                rolled_back=self.d.upload_begun,
                host_touched=self.d.upload_begun,
            ),
        )

    # -- restore to a kept backup ----------------------------------------------------
    async def _restore_run(self) -> None:
        if self.d.rollback_begun:
            await compensate.roll_back(self, RESTARTED_DURING_ROLLBACK)
            return
        reason = self.d.request.get("reason") or "requested"
        if self.d.upload_begun:  # the restore began before a restart: carry it on
            await compensate.roll_back(self, reason)
            return
        if not self.d.started:
            await self.write(self.app.start, DeploymentStarted(**self.ids()))
        self.check.forget()  # the restored files are not what the last deployment left
        restore_to = await backup.kept_backup(self, self.d.request.get("backup_id"))
        paths = sorted({*restore_to.files, *restore_to.absent})
        await backup.back_up_before_restore(self, paths)
        fault_point("rollback.safety_backed_up")
        # From here, a rollback restores ``restore_to``; the safety backup stays listed.
        await self.write(self.app.begin_restore, asdict(restore_to), paths)
        fault_point("rollback.restore_begun")
        await compensate.roll_back(self, reason)
