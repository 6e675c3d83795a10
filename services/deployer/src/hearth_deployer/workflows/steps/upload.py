"""Upload: stream the new files into staging early, then move them into place and remove
what the change removes (``upload_begun`` first, ``FilesDeployed`` after)."""

from __future__ import annotations

from typing import Protocol

from hearth_deployer.domain.fetched import FetchedTree
from hearth_deployer.domain.plan import Plan
from hearth_deployer.remote.port import Staged, UploadFile
from hearth_deployer.workflows.steps.base import StepFailed
from hearth_deployer.workflows.steps.compensate import RestoreRun, restore_files
from hearth_deployer.workflows.steps.hostcheck import HostCheck
from hearth_deployer.workflows.steps.planning import managed_after
from hearth_events.catalogue import FilesDeployed
from hearth_servicekit.faults import fault_point


class UploadRun(RestoreRun, Protocol):
    """Reads the ignore list and the host; a failed upload restores the backup; what was
    written goes to the host check, for the record."""

    ignore: tuple[str, ...]
    #: The files Hearth managed on the target before this deployment (its line's).
    managed: list[str]
    check: HostCheck

    async def checkpoint(self, name: str) -> None: ...


def _files(run: UploadRun, tree: FetchedTree, plan: Plan) -> list[UploadFile]:
    return [
        UploadFile(
            entry.path,
            mode=entry.mode,
            source=tree.root / entry.path,
            mtime=run.check.stamp(entry.path),
        )
        for entry in plan.to_upload
    ]


async def stage(run: UploadRun, tree: FetchedTree, plan: Plan, *, resumed: bool) -> Staged | None:
    """Start streaming the new files into a staging directory; None if that cannot start
    (the backup and the upload proper then report what is wrong)."""
    host = await run.host()
    try:
        if resumed:  # a killed run may have left a staging directory behind
            await host.remove_temporaries(run.spec.remote_path)
        return await host.stage_upload(run.spec.remote_path, _files(run, tree, plan))
    except Exception as exc:
        run.log(f"upload not started early: {exc}", step="upload", level="warning")
        return None


async def upload(run: UploadRun, tree: FetchedTree, plan: Plan, staged: Staged | None) -> None:
    managed = managed_after(tree, run.ignore, run.managed)
    try:
        await run.write(run.app.begin_upload, plan.touched, managed)
        await run.checkpoint("upload")
        fault_point("deploy.upload_begun")
    except BaseException:
        if staged is not None:
            await staged.abandon()
        raise
    host = await run.host()
    try:
        if staged is not None:
            result = await staged.finish()
        else:
            result = await host.upload(run.spec.remote_path, _files(run, tree, plan))
        run.check.written = result.stats
        await run.checkpoint("uploaded")
        fault_point("deploy.uploaded")
        removed = await host.remove(run.spec.remote_path, [e.path for e in plan.removed])
    except StepFailed:
        raise
    except Exception as exc:
        run.log(f"upload failed: {exc}", step="upload", level="error")
        await restore_files(run)
        raise StepFailed("upload", str(exc)) from exc
    run.log(
        f"wrote {len(result.files)} files ({result.bytes_sent} bytes), removed {len(removed)}",
        step="upload",
    )
    await run.write(
        run.app.uploaded,
        FilesDeployed(
            **run.ids(),
            written=len(result.files),
            removed=len(removed),
            bytes=result.bytes_sent,
        ),
    )
