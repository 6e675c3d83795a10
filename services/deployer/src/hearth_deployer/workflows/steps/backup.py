"""Backup: the files a change touches, on the host, before anything moves
(``BackupTaken``); for a restore run, the kept backup to go back to and a safety copy."""

from __future__ import annotations

from dataclasses import asdict
from typing import Protocol

from hearth_deployer.domain.plan import Plan
from hearth_deployer.remote.backups import BackupInfo, Backups
from hearth_deployer.remote.port import RemoteHost
from hearth_deployer.workflows.steps.base import Recording, StepFailed, new_backup_id
from hearth_events.catalogue import BackupTaken


class BackupRun(Recording, Protocol):
    """Reads the ignore list and where the target's backups live."""

    ignore: tuple[str, ...]
    backups: str

    async def host(self) -> RemoteHost: ...


async def back_up(run: BackupRun, plan: Plan) -> None:
    """Back up what ``plan`` touches, unless this deployment already did."""
    if run.d.is_backed_up:
        return
    info = await _take(run, plan.touched, keep=run.spec.backups_kept)
    await keep_backup(run, info)


async def back_up_before_restore(run: BackupRun, paths: list[str]) -> None:
    """A safety copy of ``paths`` before a restore; never pruned with the others."""
    await keep_backup(run, await _take(run, paths, keep=None))


async def _take(run: BackupRun, paths: list[str], *, keep: int | None) -> BackupInfo:
    try:
        return await Backups(await run.host()).take(
            run.spec.remote_path,
            paths,
            run.backups,
            new_backup_id(run.d.deployment_id),
            ignore=run.ignore,
            keep=keep,
        )
    except Exception as exc:
        raise StepFailed("backup", str(exc)) from exc


async def keep_backup(run: Recording, info: BackupInfo) -> None:
    run.log(
        f"backup {info.backup_id}: {info.file_count} files, sha256 {info.sha256[:16]}",
        step="backup",
    )
    await run.write(
        run.app.backed_up,
        BackupTaken(
            **run.ids(),
            backup_id=info.backup_id,
            remote_path=info.archive,
            sha256=info.sha256,
            files=info.file_count,
            bytes=info.size,
        ),
        asdict(info),
    )


async def kept_backup(run: BackupRun, wanted: str | None) -> BackupInfo:
    """The backup a restore goes back to: ``wanted``, or the newest kept."""
    try:
        kept = await Backups(await run.host()).kept(run.backups)
    except Exception as exc:
        raise StepFailed("rollback", str(exc)) from exc
    choices = [b for b in kept if wanted is None or b.backup_id == wanted]
    if not choices:
        raise StepFailed(
            "rollback",
            f"no backup {wanted} on {run.spec.name}"
            if wanted
            else f"{run.spec.name} has no backups yet",
        )
    return choices[0]  # newest first
