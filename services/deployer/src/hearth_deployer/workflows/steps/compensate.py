"""Compensate: put the backed-up files back, after a broken upload, a refused host check
or a cancel (``DeploymentFailed`` or ``DeploymentCancelled`` with ``rolled_back``), or as
a rollback that restarts on the old files and checks health again (``RollbackStarted`` …
``RollbackCompleted`` or ``RollbackFailed``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NoReturn, Protocol

from hearth_deployer.domain import Deployment
from hearth_deployer.domain.reload import ApplyMethod
from hearth_deployer.remote.backups import BackupInfo, Backups
from hearth_deployer.remote.port import RemoteHost
from hearth_deployer.workflows.steps.activate import restart
from hearth_deployer.workflows.steps.base import Finished, Recording, Unhealthy
from hearth_deployer.workflows.steps.health import HealthRun, wait_healthy
from hearth_events.catalogue import (
    DeploymentCancelled,
    DeploymentFailed,
    RollbackCompleted,
    RollbackFailed,
    RollbackStarted,
)
from hearth_events.catalogue.deploy import Step
from hearth_servicekit.faults import fault_point


class RestoreRun(Recording, Protocol):
    """Reads the deployment's backup and what it touched; writes to the host."""

    async def host(self) -> RemoteHost: ...


class CompensateRun(HealthRun, Protocol):
    """A rollback restarts and checks health; a cancel reads the deployment afresh."""

    async def checkpoint(self, name: str) -> None: ...

    @property
    def stored_version(self) -> int: ...

    def rebase(self, fresh: Deployment) -> None: ...


async def restore_files(run: RestoreRun) -> None:
    """Put the backed-up files back (the service was not restarted on new files); records
    ``RollbackFailed`` and raises Finished when that fails."""
    info = BackupInfo.from_dict(run.d.backup or {})
    try:
        host = await run.host()
        # Half-written files first: a new folder holding one is not empty, and would stay.
        await host.remove_temporaries(run.spec.remote_path)
        result = await Backups(host).restore(run.spec.remote_path, info, touched=run.d.touched)
    except Exception as exc:
        await run.write(
            run.app.rollback_failed,
            RollbackFailed(
                **run.ids(),
                reason=f"restoring backup {info.backup_id} failed: {exc}; the target may "
                "hold a mix of old and new files — restore it by hand",
            ),
        )
        raise Finished from exc
    fault_point("rollback.files_restored")
    run.log(
        f"restored backup {info.backup_id}: {len(result.restored)} files put back, "
        f"{len(result.removed)} new files and {len(result.removed_dirs)} new directories "
        "removed",
        step="rollback",
    )


async def undo_upload(run: RestoreRun, step: Step, reason: str) -> NoReturn:
    """Restore the backup and fail the deployment at ``step`` (nothing was restarted)."""
    await restore_files(run)
    await run.write(
        run.app.fail,
        DeploymentFailed(**run.ids(), step=step, reason=reason, rolled_back=True),
    )
    raise Finished


async def cancel_if_asked(
    run: CompensateRun,
    *,
    touched: bool,
    tidy: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """End the run here if someone asked to cancel it, restoring the backup if the files
    were already ``touched``. ``tidy`` (e.g. removing a staging directory) is done before
    the cancellation is recorded: once a run is seen to end, nothing of it is still at work
    on the host."""
    await run.checkpoint("cancel")
    # The run's copy is the store's up to its stored version (past it: the steps it
    # holds): a request its last write read from the store is in it; one stored since is
    # newer.
    fresh: Deployment | None = run.d
    if run.d.cancel_reason is None:
        app = run.ctx.store.app
        fresh = await run.ctx.store.read(
            app.deployment_if_newer, run.d.deployment_id, run.stored_version
        )
    if fresh is None or fresh.cancel_reason is None:
        return
    if fresh is not run.d:
        run.rebase(fresh)
    reason = fresh.cancel_reason or "cancelled"
    if tidy is not None:
        await tidy()
    if touched:
        run.log("cancelled after the upload: restoring the backup", step="upload")
        await restore_files(run)
    run.log(f"cancelled: {reason}", level="warning")
    await run.write(
        run.app.cancel, DeploymentCancelled(**run.ids(), reason=reason, rolled_back=touched)
    )
    raise Finished


async def roll_back(run: CompensateRun, reason: str) -> None:
    """Restore the backup, restart on the old files and check health again."""
    backup_id = (run.d.backup or {}).get("backup_id")
    if not run.d.rollback_begun:
        run.log(f"rolling back to backup {backup_id}: {reason}", step="rollback", level="warning")
        await run.write(run.app.roll_back, RollbackStarted(**run.ids(), backup_id=backup_id))
        fault_point("rollback.started")
    await restore_files(run)
    try:
        await restart(run, ApplyMethod(restart=True))
        fault_point("rollback.restarted")
        duration = await wait_healthy(run, after_restart=True)
    except Unhealthy as failure:
        run.log(
            f"still unhealthy after the rollback: {failure.detail}", step="rollback", level="error"
        )
        await run.write(
            run.app.rollback_failed,
            RollbackFailed(
                **run.ids(),
                reason=f"rolled back to backup {backup_id}, but {failure.check} is still "
                f"failing: {failure.detail}",
            ),
        )
        return
    run.log(f"rolled back; healthy after {duration} ms", step="rollback")
    await run.write(run.app.rolled_back, RollbackCompleted(**run.ids(), backup_id=backup_id))
    fault_point("rollback.completed")
