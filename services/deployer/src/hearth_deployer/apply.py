"""After the upload: check the host accepts the files, restart what uses them, see it come
back healthy — and if it does not, roll back."""

from __future__ import annotations

import asyncio
import time

from hearth_deployer.adapters.homeassistant import HomeAssistantClient, HomeAssistantError, Progress
from hearth_deployer.domain.reload import ApplyMethod, choose_apply_method
from hearth_deployer.runview import ApplyingRun, Finished
from hearth_events.catalogue import (
    DeploymentFailed,
    HealthCheckFailed,
    HealthCheckPassed,
    HostCheckFailed,
    HostCheckPassed,
    RollbackCompleted,
    RollbackFailed,
    RollbackStarted,
    ServiceRestarted,
)
from hearth_servicekit import get_logger
from hearth_servicekit.faults import fault_point

log = get_logger("hearth.deployer")

COMMAND_TIMEOUT_S = 300.0


class Unhealthy(Exception):
    def __init__(self, check: str, detail: str) -> None:
        super().__init__(detail)
        self.check = check
        self.detail = detail


class ServiceApplier:
    def __init__(self, run: ApplyingRun) -> None:
        self.run = run
        self.spec = run.spec

    async def _home_assistant(self) -> HomeAssistantClient:
        assert self.spec.ha_url and self.spec.ha_token_secret
        token = await self.run.ctx.secret(
            self.spec.name, self.spec.ha_token_secret, "the Home Assistant access token"
        )
        return self.run.ctx.home_assistant(self.spec.ha_url, token)

    # -- deploy ----------------------------------------------------------------------
    async def apply_and_check(self) -> None:
        run = self.run
        try:
            method = await self._host_check()
            fault_point("deploy.host_checked")
        except Finished:
            raise
        except Exception as exc:  # nothing restarted yet: put the old files back
            run.log(f"host check failed: {exc}", step="host_check", level="error")
            await run.restore_files()
            await run.write(
                run.app.fail,
                DeploymentFailed(**run.ids(), step="host_check", reason=str(exc), rolled_back=True),
            )
            raise Finished from exc
        try:
            if not run.d.restarted:
                await run.checkpoint("restart")
                await self._restart(method)
                fault_point("deploy.restarted")
            duration = await self._wait_healthy(after_restart=method.restart)
        except Unhealthy as failure:
            run.log(f"unhealthy: {failure.detail}", step="health_check", level="error")
            await run.write(
                run.app.health_checked,
                HealthCheckFailed(
                    **run.ids(),
                    check=failure.check,
                    detail=failure.detail,
                    duration_ms=run.elapsed_ms(),
                ),
            )
            fault_point("deploy.health_check_failed")
            await self.rollback(f"{failure.check}: {failure.detail}")
            return
        run.log(f"healthy after {duration} ms", step="health_check")
        await run.write(
            run.app.health_checked,
            HealthCheckPassed(**run.ids(), check=self._health_name(), duration_ms=duration),
        )
        fault_point("deploy.health_checked")
        await run.succeed(managed=run.d.managed_after)

    async def _host_check(self) -> ApplyMethod:
        """Home Assistant's own check_config on the uploaded files; invalid ends here."""
        run = self.run
        if self.spec.kind != "homeassistant":
            return ApplyMethod(restart=True)
        method = choose_apply_method(run.tree_root, run.d.touched)
        if run.d.is_host_checked:
            return method
        ha = await self._home_assistant()
        try:
            check = await ha.check_config()
        except HomeAssistantError as exc:
            raise RuntimeError(str(exc)) from None
        if check.valid:
            run.log("Home Assistant: configuration valid", step="host_check")
            await run.write(
                run.app.host_checked,
                HostCheckPassed(**run.ids(), check="check_config", warnings=check.warnings),
            )
            return method
        errors = check.errors or "invalid configuration"
        run.log(
            f"Home Assistant rejected the configuration:\n{errors}",
            step="host_check",
            level="error",
        )
        await run.write(
            run.app.host_checked,
            HostCheckFailed(**run.ids(), check="check_config", errors=errors),
        )
        await run.restore_files()
        await run.write(
            run.app.fail,
            DeploymentFailed(
                **run.ids(),
                step="host_check",
                reason=f"Home Assistant's check_config: {errors}",
                rolled_back=True,
            ),
        )
        raise Finished

    async def _restart(self, method: ApplyMethod) -> None:
        run = self.run
        run.lease.check("restart")  # a reload, a restart or post-deploy: only with the lease
        if self.spec.kind == "homeassistant":
            ha = await self._home_assistant()
            try:
                if method.restart:
                    run.log("restarting Home Assistant", step="restart")
                    await ha.restart()
                else:
                    for domain in method.domains:
                        run.log(f"reloading {domain}", step="restart")
                        await ha.reload(domain)
            except HomeAssistantError as exc:
                raise Unhealthy("restart", str(exc)) from None
            await run.write(
                run.app.service_restarted,
                ServiceRestarted(
                    **run.ids(),
                    service="homeassistant",
                    method="restart" if method.restart else "reload",
                    domains=method.domains,
                ),
            )
            return
        await self._post_deploy()
        await run.write(
            run.app.service_restarted,
            ServiceRestarted(**run.ids(), service=self.spec.name, method="command"),
        )

    async def _post_deploy(self) -> None:
        host = await self.run.host()
        for command in self.spec.post_deploy:
            self.run.log(f"$ {command}", step="restart")
            try:
                result = await host.run(command, COMMAND_TIMEOUT_S, cwd=self.spec.remote_path)
            except Exception as exc:
                raise Unhealthy(f"post-deploy: {command}", str(exc)) from None
            for line in (result.stdout + result.stderr).splitlines()[-20:]:
                self.run.log(line, step="restart", level="debug")
            if not result.ok:
                raise Unhealthy(
                    f"post-deploy: {command}",
                    f"exited with {result.exit_status}: {result.stderr.strip()[-500:]}",
                )

    def _health_name(self) -> str:
        if self.spec.health_check:
            return self.spec.health_check
        return "Home Assistant API" if self.spec.kind == "homeassistant" else "none"

    async def _wait_healthy(self, *, after_restart: bool) -> int:
        """Milliseconds until healthy; raises Unhealthy at the target's timeout."""
        started = time.monotonic()
        timeout = float(self.spec.health_timeout_s)
        timing = self.run.ctx.timing
        if self.spec.kind == "homeassistant":
            ha = await self._home_assistant()
            try:
                await ha.wait_running(
                    timeout,
                    after_restart=after_restart,
                    settle_s=timing.restart_settle_s,
                    interval_s=timing.health_interval_s,
                    progress_every_s=timing.progress_interval_s,
                    on_progress=self._progress(
                        "Home Assistant to answer GET /api/config with state RUNNING"
                    ),
                )
            except HomeAssistantError as exc:
                raise Unhealthy("Home Assistant API", str(exc)) from None
        check = self.spec.health_check
        if check:
            remaining = max(timeout - (time.monotonic() - started), timing.health_interval_s)
            await self._poll_check(check, remaining)
        return int((time.monotonic() - started) * 1000)

    def _progress(self, what: str) -> Progress:
        """Record a "still waiting" line at once: a person watching sees the wait."""

        async def tell(attempt: int, answer: str) -> None:
            line = f"waiting for {what}: attempt {attempt}, last answer: {answer}"
            self.run.log(line, step="health_check")
            log.info("waiting for health", target=self.spec.name, detail=line)
            await self.run.flush_log()

        return tell

    async def _poll_check(self, check: str, timeout: float) -> None:
        timing = self.run.ctx.timing
        deadline = time.monotonic() + timeout
        progress = self._progress(f"the health check {check} to pass")
        attempt, told = 0, time.monotonic()
        while True:
            attempt += 1
            why = await self._check_once(check) or ""
            if not why:
                return
            if time.monotonic() >= deadline:
                raise Unhealthy(
                    check, f"still failing after {timeout:.0f}s ({attempt} attempts): {why}"
                )
            if time.monotonic() - told >= timing.progress_interval_s:
                told = time.monotonic()
                await progress(attempt, why)
            await asyncio.sleep(timing.health_interval_s)

    async def _check_once(self, check: str) -> str | None:
        if check.startswith(("http://", "https://")):
            return await self.run.ctx.http_check(check)
        host = await self.run.host()
        try:
            result = await host.run(check, COMMAND_TIMEOUT_S, cwd=self.spec.remote_path)
        except Exception as exc:
            return str(exc)
        if result.ok:
            return None
        return f"exit {result.exit_status}: {(result.stderr or result.stdout).strip()[-300:]}"

    # -- rollback --------------------------------------------------------------------
    async def rollback(self, reason: str) -> None:
        """Restore the backup, restart on the old files and check health again."""
        run = self.run
        backup_id = (run.d.backup or {}).get("backup_id")
        if not run.d.rollback_begun:
            run.log(
                f"rolling back to backup {backup_id}: {reason}", step="rollback", level="warning"
            )
            await run.write(run.app.roll_back, RollbackStarted(**run.ids(), backup_id=backup_id))
            fault_point("rollback.started")
        await run.restore_files()
        try:
            await self._restart(ApplyMethod(restart=True))
            fault_point("rollback.restarted")
            duration = await self._wait_healthy(after_restart=True)
        except Unhealthy as failure:
            run.log(
                f"still unhealthy after the rollback: {failure.detail}",
                step="rollback",
                level="error",
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
