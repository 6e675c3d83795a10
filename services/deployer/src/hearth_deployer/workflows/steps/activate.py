"""Activate: Home Assistant's own check of the uploaded files (``HostCheckPassed`` or
``HostCheckFailed``), then the restart, the reloads or the post-deploy commands that put
them to use (``ServiceRestarted``; a ``files`` target that declares no post-deploy command
restarts nothing and records no restart)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from hearth_deployer.adapters.homeassistant import HomeAssistantClient, HomeAssistantError
from hearth_deployer.adapters.lease import TargetLease
from hearth_deployer.domain.reload import ApplyMethod, choose_apply_method
from hearth_deployer.remote.port import RemoteHost
from hearth_deployer.workflows.context import DeployContext
from hearth_deployer.workflows.steps.base import Recording, Unhealthy
from hearth_events.catalogue import HostCheckFailed, HostCheckPassed, ServiceRestarted

COMMAND_TIMEOUT_S = 300.0


class HostRejected(Exception):
    """The host refused the new files (recorded as ``HostCheckFailed``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ActivateRun(Recording, Protocol):
    """Reads the secrets and clients, the fetched tree and the lease; runs commands."""

    ctx: DeployContext
    lease: TargetLease
    tree_root: Path

    async def host(self) -> RemoteHost: ...


async def home_assistant(run: ActivateRun) -> HomeAssistantClient:
    spec = run.spec
    assert spec.ha_url and spec.ha_token_secret
    token = await run.ctx.secret(spec.name, spec.ha_token_secret, "the Home Assistant access token")
    return run.ctx.home_assistant(spec.ha_url, token)


async def check_host(run: ActivateRun) -> ApplyMethod:
    """Home Assistant's own check_config on the uploaded files; how to put them to use."""
    if run.spec.kind != "homeassistant":
        return ApplyMethod(restart=True)
    method = choose_apply_method(run.tree_root, run.d.touched)
    if run.d.is_host_checked:
        return method
    ha = await home_assistant(run)
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
        f"Home Assistant rejected the configuration:\n{errors}", step="host_check", level="error"
    )
    await run.write(
        run.app.host_checked, HostCheckFailed(**run.ids(), check="check_config", errors=errors)
    )
    raise HostRejected(f"Home Assistant's check_config: {errors}")


async def restart(run: ActivateRun, method: ApplyMethod) -> None:
    """Restart or reload what uses the files; raises Unhealthy when that fails."""
    run.lease.check("restart")  # a reload, a restart or post-deploy: only with the lease
    if run.spec.kind == "homeassistant":
        await _restart_home_assistant(run, method)
        return
    if not run.spec.post_deploy:
        return  # nothing declared uses the files: nothing restarted, no ServiceRestarted
    await _post_deploy(run)
    await run.write(
        run.app.service_restarted,
        ServiceRestarted(**run.ids(), service=run.spec.name, method="command"),
    )


async def _restart_home_assistant(run: ActivateRun, method: ApplyMethod) -> None:
    ha = await home_assistant(run)
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


async def _post_deploy(run: ActivateRun) -> None:
    host = await run.host()
    for command in run.spec.post_deploy:
        run.log(f"$ {command}", step="restart")
        try:
            result = await host.run(command, COMMAND_TIMEOUT_S, cwd=run.spec.remote_path)
        except Exception as exc:
            raise Unhealthy(f"post-deploy: {command}", str(exc)) from None
        for line in (result.stdout + result.stderr).splitlines()[-20:]:
            run.log(line, step="restart", level="debug")
        if not result.ok:
            raise Unhealthy(
                f"post-deploy: {command}",
                f"exited with {result.exit_status}: {result.stderr.strip()[-500:]}",
            )
