"""One deployment, step by step: every step an event, every step's log lines kept.

The run reads where the deployment stood from its aggregate, so the same code starts a
new deployment and resumes one after a crash. Until the upload begins the target is
untouched and the run simply continues; a crash during the upload is compensated by
restoring the backup; after the upload the new tree is whole and the run goes on.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from hearth_deployer.apply import ServiceApplier
from hearth_deployer.context import DeployContext
from hearth_deployer.domain import Deployment
from hearth_deployer.hostcheck import HostCheck
from hearth_deployer.lease import TargetLease
from hearth_deployer.paths import is_ignored
from hearth_deployer.plan import (
    TEXT_LIMIT_BYTES,
    Plan,
    local_manifest,
    plan_changes,
    unified_diff,
)
from hearth_deployer.remote.backup import BackupInfo
from hearth_deployer.remote.host import RemoteHost, UploadFile
from hearth_deployer.remote.staged import StagedUpload
from hearth_deployer.runview import Finished, Level
from hearth_deployer.sources import FetchedTree
from hearth_deployer.status import State
from hearth_deployer.store import DeployerApplication
from hearth_deployer.targets import backup_dir, builtin_ignored, ignored_paths
from hearth_deployer.validation.cache import ValidationKey
from hearth_deployer.validation.tree import SECRETS_FILE
from hearth_events.catalogue import (
    BackupTaken,
    ConfigFetched,
    ConfigValidated,
    DeploymentCancelled,
    DeploymentFailed,
    DeploymentPlanned,
    DeploymentStarted,
    DeploymentSucceeded,
    FilesDeployed,
    LogLine,
    RollbackFailed,
    TargetSpec,
    ValidationFailed,
)
from hearth_eventstore.store import Meta
from hearth_servicekit.faults import fault_point

TERMINAL_STATUS: dict[str, State] = {
    "DeploymentSucceeded": "success",
    "DeploymentFailed": "failure",
    "RollbackCompleted": "failure",
    "RollbackFailed": "error",
    "DeploymentCancelled": "error",
}


class StepFailed(Exception):
    def __init__(self, step: str, reason: str) -> None:
        super().__init__(reason)
        self.step = step
        self.reason = reason


class CancelledByUser(Exception):
    pass


class DeploymentRun:
    def __init__(
        self,
        ctx: DeployContext,
        deployment: Deployment,
        spec: TargetSpec,
        *,
        managed: list[str],
        lease: TargetLease,
        meta: Meta,
    ) -> None:
        self.ctx = ctx
        self.d = deployment
        self.spec = spec
        self.managed = managed
        self.lease = lease
        self.meta = meta
        self.ignore = ignored_paths(spec)
        self.backups = backup_dir(spec)
        self.workdir = ctx.workdir / deployment.deployment_id
        self.started = time.monotonic()
        self._lines: list[LogLine] = []
        self._host: RemoteHost | None = None
        self.tree_root = self.workdir / "tree"
        self.applier: ServiceApplier | None = None
        self.check = HostCheck(self)

    # -- recording -----------------------------------------------------------------------
    def log(self, message: str, *, step: str | None = None, level: Level = "info") -> None:
        self._lines.append(LogLine(at=datetime.now(UTC), level=level, step=step, message=message))

    @property
    def app(self) -> DeployerApplication:
        return self.ctx.store.app

    async def write(self, command: Callable[..., Deployment], *args: Any) -> None:
        """Call one of the application's deployment commands; the log lines written since
        the last write are stored with it."""
        self.lease.check()  # a run that lost its lease records nothing more
        lines, self._lines = tuple(self._lines), []
        self.d = await self.ctx.store.write(
            command, self.d.deployment_id, *args, meta=self.meta, log=lines
        )

    async def flush_log(self) -> None:
        self.lease.check()
        if self._lines:
            await self.write(self.app.keep_log)

    async def checkpoint(self, name: str) -> None:
        self.lease.check(name)
        if self.ctx.checkpoint is not None:
            await self.ctx.checkpoint(name)

    def ids(self) -> dict[str, str]:
        return {"deployment_id": self.d.deployment_id, "target": self.spec.name}

    async def host(self) -> RemoteHost:
        if self._host is None:
            self._host = self.ctx.pool.host(await self.ctx.ssh_target(self.spec), self.lease)
        return self._host

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    # -- the run -------------------------------------------------------------------------
    async def run(self) -> Deployment:
        """Carry the deployment to a terminal event and return it."""
        try:
            self.applier = ServiceApplier(self)
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
            shutil.rmtree(self.workdir, ignore_errors=True)
        await self._report()
        return self.d

    async def _deploy_run(self) -> None:
        d = self.d
        if d.rollback_begun:
            assert self.applier is not None
            await self.applier.rollback("the deployer restarted during a rollback")
            return
        if d.upload_begun and not d.is_uploaded:
            self.log("the deployer stopped during the upload; restoring the backup", step="upload")
            await self.restore_files()
            await self.write(
                self.app.fail,
                DeploymentFailed(
                    **self.ids(),
                    step="upload",
                    reason="the deployer stopped (or lost its lease) during the upload; the "
                    "target was restored from its backup",
                    rolled_back=True,
                ),
            )
            return
        resumed = d.started
        if not resumed:
            self.log(
                f"deploying {self._asked_for()} to {self.spec.user}@{self.spec.host}:"
                f"{self.spec.remote_path}",
                step="fetch",
            )
            await self.write(
                self.app.start, DeploymentStarted(**self.ids(), commit=d.request.get("commit"))
            )
            fault_point("deploy.started")
            await self._report_pending()
        tree = await self._fetch()
        await self.checkpoint("fetched")
        fault_point("deploy.fetched")
        if not self.d.is_uploaded:
            self.check.prefetch()  # read-only: overlaps validation
        await self._validate(tree)
        fault_point("deploy.validated")
        if not self.d.is_uploaded:
            plan = await self._plan(tree)
            fault_point("deploy.planned")
            if self.d.dry_run or plan.empty:
                why = "dry run: nothing was changed" if self.d.dry_run else "already up to date"
                self.log(why, step="plan")
                await self.succeed(managed=None if self.d.dry_run else self._managed_after(tree))
                return
            await self._cancel_point(touched=False)
            # A big upload streams into a staging directory while the backup is taken;
            # nothing is renamed into place before the backup is recorded.
            staged = await self._stage(tree, plan, resumed=resumed)
            fault_point("deploy.staged")
            try:
                await self._backup(plan)
                fault_point("deploy.backed_up")
                await self._cancel_point(touched=False)
            except BaseException:
                if staged is not None:
                    await staged.abandon()
                raise
            await self._upload(tree, plan, staged)
            fault_point("deploy.files_deployed")
        await self._cancel_point(touched=True)
        assert self.applier is not None
        await self.applier.apply_and_check()

    def _asked_for(self) -> str:
        commit, branch = self.d.request.get("commit"), self.d.request.get("branch")
        return f"commit {commit[:12]}" if commit else f"branch {branch or self.spec.branch}"

    async def _fetch(self) -> FetchedTree:
        repo = self.ctx.repository(self.spec.repo)
        if repo is None:
            raise StepFailed(
                "fetch",
                f"repository {self.spec.repo!r} is not declared; add it under repositories: "
                "in hearth.yaml and run `hearth apply`",
            )
        token = None
        if repo.token_secret:
            token = await self.ctx.secret(self.spec.name, repo.token_secret, "the API token")
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True)
        commit = self.d.commit if self.d.is_fetched else self.d.request.get("commit")
        line = await self.ctx.store.read(self.ctx.store.app.line, self.spec.name)
        try:
            tree = await self.ctx.source_for(repo).fetch(
                repo,
                commit=commit,
                branch=self.d.request.get("branch") or self.spec.branch,
                subdirectory=self.spec.subdirectory,
                dest=self.workdir / "tree",
                token=token,
                base=line.commit,
            )
        except Exception as exc:
            raise StepFailed("fetch", _fetch_failure(repo.name, exc)) from exc
        if not self.d.is_fetched:
            self.log(
                f"fetched {tree.commit[:12]}: {tree.files} files, {tree.bytes} bytes"
                + (
                    f" ({len(tree.changed)} changed since {tree.base[:12]}, read from Git; "
                    "the rest reused)"
                    if tree.base and tree.changed is not None
                    else ""
                ),
                step="fetch",
            )
            await self.write(
                self.app.fetched,
                ConfigFetched(
                    **self.ids(),
                    commit=tree.commit,
                    files=tree.files,
                    bytes=tree.bytes,
                    via="github" if repo.provider == "github" else "git",
                ),
            )
        return tree

    async def _validate(self, tree: FetchedTree) -> None:
        if self.d.is_validated:
            return
        secret_names = None
        if self.spec.kind == "homeassistant" and not (tree.root / SECRETS_FILE).exists():
            secret_names = await self._target_secret_names()
        # Parsing a few hundred files takes a while: off the event loop, and once per
        # distinct tree and inputs, however many targets of a fan-out deploy it.
        key = ValidationKey(
            repo=self.spec.repo,
            commit=tree.commit,
            subdirectory=self.spec.subdirectory,
            ignore=self.ignore,
            secret_names=frozenset(secret_names) if secret_names is not None else None,
            config_roots=(self.spec.remote_path, *self.spec.config_roots),
        )
        report = await self.ctx.validations.validate(key, tree.root)
        skipped = builtin_ignored(self.spec, report.ignored)
        if skipped:
            self.log(skipped, step="validate")
        for warning in report.warnings:
            self.log(_issue_text(warning), step="validate", level="warning")
        if not report.ok:
            for error in report.errors:
                self.log(_issue_text(error), step="validate", level="error")
            await self.write(
                self.app.validation_failed,
                ValidationFailed(**self.ids(), errors=tuple(report.errors)),
            )
            raise StepFailed(
                "validate",
                f"{len(report.errors)} problem(s), first: {_issue_text(report.errors[0])}",
            )
        self.log(f"{len(report.files)} files are valid", step="validate")
        await self.write(
            self.app.validated,
            ConfigValidated(
                **self.ids(), files_checked=len(report.files), warnings=tuple(report.warnings)
            ),
        )

    async def _target_secret_names(self) -> set[str] | None:
        import yaml

        try:
            found = await (await self.host()).read_files(
                self.spec.remote_path, [SECRETS_FILE], limit=TEXT_LIMIT_BYTES
            )
        except Exception as exc:
            raise StepFailed("validate", f"cannot read the target's {SECRETS_FILE}: {exc}") from exc
        data = found.get(SECRETS_FILE)
        if data is None:
            return set()
        try:
            loaded = yaml.safe_load(data)
        except yaml.YAMLError:
            return None
        return {str(k) for k in loaded} if isinstance(loaded, dict) else set()

    def _local_files(self, tree: FetchedTree) -> list[str]:
        return sorted(
            p.relative_to(tree.root).as_posix()
            for p in tree.root.rglob("*")
            if p.is_file() and not is_ignored(p.relative_to(tree.root).as_posix(), self.ignore)
        )

    def _managed_after(self, tree: FetchedTree) -> list[str]:
        return self._local_files(tree)

    async def _plan(self, tree: FetchedTree) -> Plan:
        host = await self.host()
        try:
            remote = await self.check.manifest(host)
        except Exception as exc:
            raise StepFailed("plan", str(exc)) from exc
        files = self._local_files(tree)
        known = tree.manifest or {}
        unknown = [p for p in files if p not in known]
        local = {p: known[p] for p in files if p in known}
        local.update(await asyncio.to_thread(local_manifest, tree.root, unknown))
        plan = plan_changes(local, remote, deployed_before=set(self.managed), ignore=self.ignore)
        self.check.uploaded = {e.path: e for e in plan.to_upload}
        if not self.d.is_planned:
            olds = await host.read_files(
                self.spec.remote_path,
                [e.path for e in (*plan.changed, *plan.removed)],
                limit=TEXT_LIMIT_BYTES,
            )
            diff, truncated = unified_diff(plan, tree.root, olds.get)
            self.log(
                f"plan: {len(plan.added)} added, {len(plan.changed)} changed, "
                f"{len(plan.removed)} removed, {plan.unchanged} unchanged",
                step="plan",
            )
            await self.write(
                self.app.planned,
                DeploymentPlanned(
                    **self.ids(),
                    added=tuple(e.changed_file() for e in plan.added),
                    changed=tuple(e.changed_file() for e in plan.changed),
                    removed=tuple(e.changed_file() for e in plan.removed),
                    diff=diff,
                    diff_truncated=truncated,
                    drifted=tuple(self.check.drifted),
                ),
            )
        return plan

    async def _backup(self, plan: Plan) -> None:
        if self.d.is_backed_up:
            return
        backup_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{self.d.deployment_id[-12:]}"
        try:
            info = await (await self.host()).backup(
                self.spec.remote_path,
                plan.touched,
                self.backups,
                backup_id,
                ignore=self.ignore,
                keep=self.spec.backups_kept,
            )
        except Exception as exc:
            raise StepFailed("backup", str(exc)) from exc
        await self._keep_backup(info)

    async def _keep_backup(self, info: BackupInfo) -> None:
        self.log(
            f"backup {info.backup_id}: {info.file_count} files, sha256 {info.sha256[:16]}",
            step="backup",
        )
        await self.write(
            self.app.backed_up,
            BackupTaken(
                **self.ids(),
                backup_id=info.backup_id,
                remote_path=info.archive,
                sha256=info.sha256,
                files=info.file_count,
                bytes=info.size,
            ),
            asdict(info),
        )

    def _files(self, tree: FetchedTree, plan: Plan) -> list[UploadFile]:
        return [
            UploadFile(entry.path, mode=entry.mode, source=tree.root / entry.path)
            for entry in plan.to_upload
        ]

    async def _stage(self, tree: FetchedTree, plan: Plan, *, resumed: bool) -> StagedUpload | None:
        host = await self.host()
        try:
            if resumed:  # a killed run may have left a staging directory behind
                await host.remove_temporaries(self.spec.remote_path)
            return await StagedUpload.start(host, self.spec.remote_path, self._files(tree, plan))
        except Exception as exc:
            # Not staged: the backup and the upload proper report what is wrong.
            self.log(f"upload not started early: {exc}", step="upload", level="warning")
            return None

    async def _upload(self, tree: FetchedTree, plan: Plan, staged: StagedUpload | None) -> None:
        managed_after = self._managed_after(tree)
        touched = plan.touched
        try:
            await self.write(self.app.begin_upload, touched, managed_after)
            await self.checkpoint("upload")
            fault_point("deploy.upload_begun")
        except BaseException:
            if staged is not None:
                await staged.abandon()
            raise
        host = await self.host()
        try:
            if staged is not None:
                result = await staged.finish()
            else:
                result = await host.upload(self.spec.remote_path, self._files(tree, plan))
            await self.checkpoint("uploaded")
            fault_point("deploy.uploaded")
            removed = await host.remove(self.spec.remote_path, [e.path for e in plan.removed])
        except StepFailed:
            raise
        except Exception as exc:
            self.log(f"upload failed: {exc}", step="upload", level="error")
            await self.restore_files()
            raise StepFailed("upload", str(exc)) from exc
        self.log(
            f"wrote {len(result.files)} files ({result.bytes_sent} bytes), removed {len(removed)}",
            step="upload",
        )
        await self.write(
            self.app.uploaded,
            FilesDeployed(
                **self.ids(),
                written=len(result.files),
                removed=len(removed),
                bytes=result.bytes_sent,
            ),
        )

    async def restore_files(self) -> None:
        """Put the backed-up files back (the service was not restarted on new files)."""
        info = self._backup_info()
        try:
            host = await self.host()
            # Half-written files first: a new folder holding one is not empty, and would stay.
            await host.remove_temporaries(self.spec.remote_path)
            result = await host.restore(self.spec.remote_path, info, touched=self.d.touched)
        except Exception as exc:
            await self.write(
                self.app.rollback_failed,
                RollbackFailed(
                    **self.ids(),
                    reason=f"restoring backup {info.backup_id} failed: {exc}; the target may "
                    "hold a mix of old and new files — restore it by hand",
                ),
            )
            raise Finished from exc
        fault_point("rollback.files_restored")
        self.log(
            f"restored backup {info.backup_id}: {len(result.restored)} files put back, "
            f"{len(result.removed)} new files and {len(result.removed_dirs)} new directories "
            "removed",
            step="rollback",
        )

    def _backup_info(self) -> BackupInfo:
        return BackupInfo.from_dict(self.d.backup or {})

    async def _cancel_point(self, *, touched: bool) -> None:
        await self.checkpoint("cancel")
        fresh = await self.ctx.store.read(self.ctx.store.app.deployment, self.d.deployment_id)
        if fresh is None or fresh.cancel_reason is None:
            return
        self.d = fresh
        reason = fresh.cancel_reason or "cancelled"
        if touched:
            self.log("cancelled after the upload: restoring the backup", step="upload")
            await self.restore_files()
        self.log(f"cancelled: {reason}", level="warning")
        await self.write(
            self.app.cancel, DeploymentCancelled(**self.ids(), reason=reason, rolled_back=touched)
        )
        raise Finished

    async def succeed(self, managed: list[str] | None) -> None:
        assert self.d.commit is not None
        await self._remember_host()
        await self.write(
            self.app.succeed,
            DeploymentSucceeded(**self.ids(), commit=self.d.commit, duration_ms=self.elapsed_ms()),
            managed,
        )
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
        assert self.applier is not None
        if self.d.rollback_begun:
            await self.applier.rollback("the deployer restarted during a rollback")
            return
        reason = self.d.request.get("reason") or "requested"
        if self.d.upload_begun:  # the restore began before a restart: carry it on
            await self.applier.rollback(reason)
            return
        if not self.d.started:
            await self.write(self.app.start, DeploymentStarted(**self.ids()))
        wanted = self.d.request.get("backup_id")
        self.check.forget()  # the restored files are not what the last deployment left
        host = await self.host()
        try:
            kept = await host.list_backups(self.backups)
        except Exception as exc:
            raise StepFailed("rollback", str(exc)) from exc
        choices = [b for b in kept if wanted is None or b.backup_id == wanted]
        if not choices:
            raise StepFailed(
                "rollback",
                f"no backup {wanted} on {self.spec.name}"
                if wanted
                else f"{self.spec.name} has no backups yet",
            )
        restore_to = choices[0]  # newest first
        safety_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{self.d.deployment_id[-12:]}"
        paths = sorted({*restore_to.files, *restore_to.absent})
        try:
            safety = await host.backup(
                self.spec.remote_path,
                paths,
                self.backups,
                safety_id,
                ignore=self.ignore,
                keep=None,
            )
        except Exception as exc:
            raise StepFailed("backup", str(exc)) from exc
        await self._keep_backup(safety)
        fault_point("rollback.safety_backed_up")
        # From here, a rollback restores ``restore_to``; the safety backup stays listed.
        await self.write(self.app.begin_restore, asdict(restore_to), paths)
        fault_point("rollback.restore_begun")
        await self.applier.rollback(reason)

    # -- commit status ---------------------------------------------------------------
    async def _report_pending(self) -> None:
        await self._report(state="pending")

    async def _report(self, state: State | None = None) -> None:
        repo = self.ctx.repository(self.spec.repo)
        commit = self.d.commit
        if repo is None or not repo.token_secret or repo.provider != "github" or not commit:
            return
        if len(commit) < 40:
            return
        state = state or TERMINAL_STATUS.get(self.d.terminal or "")
        if state is None or self.d.dry_run:
            return
        token = (await self.ctx.secrets.get(repo.token_secret) or b"").decode()
        if not token:
            return
        url = (
            f"{self.ctx.public_url.rstrip('/')}/deployments/{self.d.deployment_id}"
            if self.ctx.public_url
            else None
        )
        await self.ctx.report_status(
            repo,
            commit,
            token=token,
            state=state,
            target=self.spec.name,
            description=_status_text(state, self.d.terminal),
            target_url=url,
        )


def _status_text(state: str, terminal: str | None) -> str:
    if state == "pending":
        return "deploying"
    return {
        "DeploymentSucceeded": "deployed",
        "DeploymentFailed": "deployment failed",
        "RollbackCompleted": "unhealthy: rolled back",
        "RollbackFailed": "rollback failed",
        "DeploymentCancelled": "cancelled",
    }.get(terminal or "", state)


def _fetch_failure(repo: str, exc: Exception) -> str:
    """One line that names the repository as hearth.yaml does (a source may name its URL)."""
    reason = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    reason = reason or type(exc).__name__
    return reason if repo in reason else f"repository {repo}: {reason}"


def _issue_text(issue: Any) -> str:
    where = issue.path
    if issue.line is not None:
        where += f":{issue.line}"
        if issue.column is not None:
            where += f":{issue.column}"
    return f"{where}: {issue.message}"
